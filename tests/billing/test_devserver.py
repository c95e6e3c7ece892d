"""config.devserver, what `make run` runs: the sandbox beside the site when no Stripe key is set."""

import re
import socket

import pytest
import stripe

from config import devserver
from stripe_sandbox import API_VERSION


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_without_a_key_the_sandbox_gets_its_webhook_row_and_the_catalogue_before_the_demo_data():
    commands = devserver.setup_commands(sandbox=True, webhook_secret=True)

    assert commands == [
        ["migrate", "--noinput"],
        ["billing_setup_webhook", "--uuid", devserver.SANDBOX_WEBHOOK_UUID],
        ["billing_catalog"],
        ["sync_prices"],
        ["seed_demo"],
    ]
    # The uuid the row gets is the one in the URL the sandbox sends to.
    assert devserver.sandbox_webhook_url("0.0.0.0", 8011) == (
        f"http://127.0.0.1:8011/stripe/webhook/{devserver.SANDBOX_WEBHOOK_UUID}/"
    )


def test_with_a_key_there_is_no_catalogue_and_the_webhook_row_only_with_a_secret():
    assert devserver.setup_commands(sandbox=False, webhook_secret=False) == [
        ["migrate", "--noinput"],
        ["sync_prices"],
        ["seed_demo"],
    ]
    assert ["billing_setup_webhook"] in devserver.setup_commands(sandbox=False, webhook_secret=True)


def test_the_sandbox_environment_is_a_test_key_dj_stripe_accepts():
    env = devserver.sandbox_environment(sandbox_port=12111, secret="whsec_x")

    assert re.fullmatch(r"sk_test_[A-Za-z0-9]{24,}", env["STRIPE_SECRET_KEY"])
    assert env == {
        "STRIPE_SECRET_KEY": devserver.SANDBOX_KEY,
        "STRIPE_LIVE_MODE": "False",
        "STRIPE_API_BASE": "http://127.0.0.1:12111",
        "STRIPE_WEBHOOK_SECRET": "whsec_x",
    }


def test_the_sandbox_process_answers_signs_webhooks_with_the_secret_and_stops(webhook_receiver):
    port = free_port()
    url = f"{webhook_receiver.url}/stripe/webhook/{devserver.SANDBOX_WEBHOOK_UUID}/"
    process = devserver.start_sandbox(sandbox_port=port, webhook_url=url, secret="whsec_DevServerTest")
    try:
        api = stripe.StripeClient(
            devserver.SANDBOX_KEY, base_addresses={"api": f"http://127.0.0.1:{port}"}, stripe_version=API_VERSION
        )
        customer = api.v1.customers.create(params={"email": "dev@example.com"})
        [delivery] = webhook_receiver.wait_for(1)
        event = stripe.Webhook.construct_event(
            delivery.body, delivery.headers["Stripe-Signature"], "whsec_DevServerTest"
        )
        assert event.data.object.id == customer.id
        [endpoint] = api.v1.webhook_endpoints.list().data
        assert endpoint.metadata["djstripe_uuid"] == devserver.SANDBOX_WEBHOOK_UUID

        with pytest.raises(devserver.SandboxFailed, match=f"Port {port} is in use"):
            devserver.start_sandbox(sandbox_port=port, webhook_url=url, secret="whsec_other")
    finally:
        devserver.stop(process)
    assert process.returncode is not None
    assert not devserver.port_in_use(port)
