"""`python -m stripe_sandbox` runs the sandbox as its own process, wired to a webhook URL."""

import socket
import subprocess
import sys
from pathlib import Path

import requests
import stripe

from stripe_sandbox import API_VERSION
from stripe_sandbox.testing import TEST_API_KEY

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_command_line_sandbox_serves_the_api_and_signs_webhooks_with_the_given_secret(webhook_receiver):
    port = free_port()
    endpoint_uuid = "5a0c4ad2-3f7e-4c49-9d0c-2f1a9b1e6a10"
    webhook_url = f"{webhook_receiver.url}/stripe/webhook/{endpoint_uuid}/"
    process = subprocess.Popen(
        [sys.executable, "-m", "stripe_sandbox", "--port", str(port), "--quiet"]
        + ["--webhook", webhook_url, "--webhook-secret", "whsec_from_the_command_line"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        banner = process.stdout.readline()
        url = f"http://127.0.0.1:{port}"
        client = stripe.StripeClient(TEST_API_KEY, base_addresses={"api": url}, stripe_version=API_VERSION)

        customer = client.v1.customers.create(params={"email": "cli@example.com"})
        [received] = webhook_receiver.wait_for(1)
        event = stripe.Webhook.construct_event(
            received.body, received.headers["Stripe-Signature"], "whsec_from_the_command_line"
        )
        requests.post(f"{url}/_sandbox/reset").raise_for_status()

        assert url in banner
        assert (event.type, event.data.object.id) == ("customer.created", customer.id)
        assert client.v1.customers.list().data == []
        [endpoint] = client.v1.webhook_endpoints.list().data
        assert endpoint.url == webhook_url
        # dj-stripe finds its endpoint row by this uuid when the endpoint is synced.
        assert endpoint.metadata["djstripe_uuid"] == endpoint_uuid
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_the_command_line_refuses_an_api_version_it_does_not_serve():
    refused = subprocess.run(
        [sys.executable, "-m", "stripe_sandbox", "--port", str(free_port()), "--api-version", "2026-08-26.dahlia"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert refused.returncode == 2
    assert f"the sandbox serves API version {API_VERSION} only, not 2026-08-26.dahlia" in refused.stderr
