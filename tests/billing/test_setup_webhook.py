"""billing_setup_webhook: dj-stripe's endpoint row for SITE_URL verifies what Stripe signs."""

import io
import json
import time
import uuid
from urllib.parse import urlsplit

import pytest
import stripe
from django.core.management import CommandError, call_command
from djstripe import models as djstripe

from billing.management.commands.billing_setup_webhook import KEEL_EVENTS
from stripe_sandbox.webhooks import sign

SECRET = "whsec_KeelTestSecret0000000000000000"


@pytest.fixture
def stripe_settings(settings, stripe_sandbox):
    settings.STRIPE_LIVE_MODE = False
    settings.STRIPE_TEST_SECRET_KEY = stripe.api_key
    settings.STRIPE_API_BASE = stripe_sandbox.url
    settings.SITE_URL = "https://keel.test"
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    return settings


def setup_webhook(*args) -> list[str]:
    out = io.StringIO()
    call_command("billing_setup_webhook", *args, stdout=out)
    return out.getvalue().splitlines()


def uuid_of(url: str) -> uuid.UUID:
    return uuid.UUID(urlsplit(url).path.rstrip("/").rsplit("/", 1)[1])


def post_event(client, path: str, body: str, signature: str):
    return client.post(path, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature)


@pytest.mark.django_db
def test_the_endpoint_is_made_once_and_keeps_its_uuid_when_run_again(stripe_settings):
    first = setup_webhook()
    stripe_settings.STRIPE_WEBHOOK_SECRET = "whsec_RotatedSecret00000000000000"
    second = setup_webhook()

    endpoint = djstripe.WebhookEndpoint.objects.get()
    assert first[-1] == second[-1] == f"https://keel.test/stripe/webhook/{endpoint.djstripe_uuid}/"
    assert endpoint.url == first[-1]
    assert endpoint.secret == "whsec_RotatedSecret00000000000000"
    assert (endpoint.livemode, endpoint.status, endpoint.djstripe_validation_method) == (
        False,
        "enabled",
        "verify_signature",
    )


@pytest.mark.django_db
def test_a_given_uuid_names_the_endpoint(stripe_settings):
    chosen = uuid.UUID("5a0c4ad2-3f7e-4c49-9d0c-2f1a9b1e6a10")

    last_line = setup_webhook("--uuid", str(chosen))[-1]
    setup_webhook("--uuid", str(chosen))

    assert last_line == f"https://keel.test/stripe/webhook/{chosen}/"
    assert djstripe.WebhookEndpoint.objects.get().djstripe_uuid == chosen


@pytest.mark.django_db
def test_the_url_accepts_an_event_signed_with_the_secret_and_refuses_a_forged_one(stripe_settings, client):
    path = urlsplit(setup_webhook()[-1]).path
    stripe.Product.create(name="Signed")
    body = json.dumps(stripe.Event.list(type="product.created").data[0].to_dict())
    now = int(time.time())

    accepted = post_event(client, path, body, sign(body, SECRET, now))
    forged = post_event(client, path, body.replace("Signed", "Forged"), sign(body, SECRET, now))
    wrong_secret = post_event(client, path, body, sign(body, "whsec_NotTheSecret", now))

    assert accepted.status_code == 200
    assert forged.status_code == 400
    assert wrong_secret.status_code == 400
    assert djstripe.Product.objects.get().name == "Signed"
    assert djstripe.WebhookEventTrigger.objects.filter(valid=True, processed=True).count() == 1


@pytest.mark.django_db
def test_create_at_stripe_makes_the_endpoint_with_keels_events_and_version_and_stores_its_secret(
    stripe_settings, stripe_sandbox, webhook_receiver, client
):
    stripe_settings.SITE_URL = webhook_receiver.url  # the sandbox delivers there; the test replays to Django
    stripe_settings.STRIPE_WEBHOOK_SECRET = ""  # not needed: Stripe gives the secret

    first = setup_webhook("--create-at-stripe")
    second = setup_webhook("--create-at-stripe")

    [at_stripe] = stripe.WebhookEndpoint.list().data
    row = djstripe.WebhookEndpoint.objects.get()
    assert first[-1] == second[-1] == at_stripe.url == f"{webhook_receiver.url}/stripe/webhook/{row.djstripe_uuid}/"
    assert at_stripe.enabled_events == KEEL_EVENTS
    assert at_stripe.api_version == stripe_settings.STRIPE_API_VERSION
    assert at_stripe.metadata.to_dict() == {"djstripe_uuid": str(row.djstripe_uuid)}
    assert row.id == at_stripe.id and row.secret.startswith("whsec_")
    assert "Created webhook endpoint" in first[0] and "Updated webhook endpoint" in second[0]

    stripe.Customer.create(email="not-an-event-keel-handles@example.com")
    stripe.Product.create(name="Delivered")
    [delivery] = webhook_receiver.wait_for(1)
    path = f"/stripe/webhook/{row.djstripe_uuid}/"
    assert json.loads(delivery.body)["type"] == "product.created"
    assert post_event(client, path, delivery.body, delivery.headers["Stripe-Signature"]).status_code == 200


@pytest.mark.django_db
def test_create_at_stripe_turns_an_endpoint_made_from_the_secret_into_stripes(stripe_settings):
    local = uuid_of(setup_webhook()[-1])

    created = uuid_of(setup_webhook("--create-at-stripe")[-1])

    [at_stripe] = stripe.WebhookEndpoint.list().data
    row = djstripe.WebhookEndpoint.objects.get()
    assert created == local == row.djstripe_uuid
    assert row.id == at_stripe.id and row.secret != SECRET


@pytest.mark.django_db
def test_create_at_stripe_makes_a_new_endpoint_when_stripe_no_longer_has_it(stripe_settings):
    setup_webhook("--create-at-stripe")
    stripe.WebhookEndpoint.delete(stripe.WebhookEndpoint.list().data[0].id)

    output = setup_webhook("--create-at-stripe")

    [at_stripe] = stripe.WebhookEndpoint.list().data
    assert "Created webhook endpoint" in output[0]
    assert djstripe.WebhookEndpoint.objects.get().id == at_stripe.id


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("setting", "value", "args", "message"),
    [
        ("STRIPE_WEBHOOK_SECRET", "", [], "STRIPE_WEBHOOK_SECRET is not set"),
        ("SITE_URL", "", [], "SITE_URL is empty"),
        ("SITE_URL", "keel.test", [], "SITE_URL is keel.test"),
        ("STRIPE_TEST_SECRET_KEY", "", ["--create-at-stripe"], "STRIPE_SECRET_KEY is not set"),
    ],
)
def test_what_is_missing_is_named(stripe_settings, setting, value, args, message):
    setattr(stripe_settings, setting, value)

    with pytest.raises(CommandError, match=message):
        setup_webhook(*args)

    assert not djstripe.WebhookEndpoint.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("null", "JSON that is not an object"),
        ("42", "a number"),
        ("not json", "not JSON"),
        ('{"object": "event"}', "no id"),
        ('{"id": "evt_1"}', "no livemode"),
    ],
)
def test_a_body_that_is_not_an_event_is_a_400_and_changes_nothing(stripe_settings, body, why):
    from django.test import Client

    path = urlsplit(setup_webhook()[-1]).path
    response = Client(raise_request_exception=False).post(
        path, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(body, SECRET, int(time.time()))
    )

    assert response.status_code == 400, why
    assert not djstripe.WebhookEventTrigger.objects.exists()


@pytest.mark.django_db
def test_an_old_timestamp_an_unknown_endpoint_and_a_missing_signature_are_refused(stripe_settings, client):
    path = urlsplit(setup_webhook()[-1]).path
    stripe.Product.create(name="Late")
    body = json.dumps(stripe.Event.list(type="product.created").data[0].to_dict())

    late = post_event(client, path, body, sign(body, SECRET, int(time.time()) - 6 * 60))
    unknown = post_event(client, f"/stripe/webhook/{uuid.uuid4()}/", body, sign(body, SECRET, int(time.time())))
    unsigned = client.post(path, body, content_type="application/json")

    assert (late.status_code, unknown.status_code, unsigned.status_code) == (400, 404, 400)
    assert not djstripe.Product.objects.exists()


@pytest.mark.django_db
def test_with_debug_on_a_request_cannot_choose_the_signing_secret(stripe_settings, settings, client):
    settings.DEBUG = True
    path = urlsplit(setup_webhook()[-1]).path
    stripe.Product.create(name="Mine")
    body = json.dumps(stripe.Event.list(type="product.created").data[0].to_dict())

    chosen = client.post(
        path,
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body, "whsec_attacker", int(time.time())),
        HTTP_X_DJSTRIPE_WEBHOOK_SECRET="whsec_attacker",
    )

    assert chosen.status_code == 400
    assert not djstripe.Product.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"api_version": "2024-06-20"}, "API version 2024-06-20, Keel speaks 2026-05-27.dahlia"),
        ({"livemode": True}, "livemode=True sent to a site with STRIPE_LIVE_MODE=False"),
    ],
)
def test_an_event_of_another_version_or_mode_is_recorded_and_not_applied(stripe_settings, client, change, problem):
    from billing.models import EventProblem, Price

    path = urlsplit(setup_webhook()[-1]).path
    product = stripe.Product.create(name="Elsewhere")
    stripe.Price.create(product=product.id, currency="usd", unit_amount=100)
    event = json.loads(str(stripe.Event.list(type="price.created").data[0])) | change
    body = json.dumps(event)

    answer = post_event(client, path, body, sign(body, SECRET, int(time.time())))

    assert answer.status_code == 200  # acknowledged: Stripe does not retry it for days
    assert EventProblem.objects.get(event_id=event["id"]).problem == problem
    assert not Price.objects.exists()
