"""Stripe's webhook URL, attacked through dj-stripe's real view (billing/webhook_view.py).

A credit pack is paid at the Stripe sandbox; its `checkout.session.completed` event (real,
from the sandbox) is then posted by hand, signed or not:

- signed with another secret, unsigned, with a tampered body, or an old timestamp: 400 and no
  credits;
- signed correctly: one grant, and a replay of the same event, or the same payment in another
  event id, grants nothing more.

tests/billing/test_setup_webhook.py covers an unknown endpoint, a body that is not an event,
the DEBUG header that would choose the secret, and events of another API version or mode.
"""

import json
import time
from urllib.parse import urlsplit

import pytest
import stripe
from django.core.management import call_command
from django.test import Client
from djstripe import models as djstripe

from billing.services.checkout import checkout_start
from credits.models import Credit
from stripe_sandbox.webhooks import sign
from tests.billing.conftest import catalogue, owner, stripe_sandbox, stripe_sandbox_server  # noqa: F401

pytestmark = pytest.mark.django_db

SECRET = "whsec_KeelSecurityTest000000000000"


@pytest.fixture
def paid_event(settings, catalogue, stripe_sandbox, owner):  # noqa: F811
    """(webhook path, the paid checkout's event as JSON text, the organization)."""
    settings.SITE_URL = "https://keel.test"
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    call_command("billing_setup_webhook", stdout=open("/dev/null", "w"))  # noqa: SIM115
    endpoint = djstripe.WebhookEndpoint.objects.get()
    path = urlsplit(endpoint.url).path
    result = checkout_start(
        member=owner,
        provider_price_id=catalogue["keel_credits_1000"],
        success_url="https://keel.test/ok?session={CHECKOUT_SESSION_ID}",
        cancel_url="https://keel.test/cancel",
    )
    stripe_sandbox.complete_checkout(result.id)
    event = stripe.Event.list(type="checkout.session.completed").data[0]
    return path, json.dumps(event.to_dict()), owner.tenant


def post(path: str, body: str, signature: str | None):
    headers = {"HTTP_STRIPE_SIGNATURE": signature} if signature is not None else {}
    return Client(raise_request_exception=False).post(path, body, content_type="application/json", **headers)


def pack_grants(tenant) -> int:
    return Credit.objects.filter(tenant=tenant, provider="stripe").count()


def test_forged_deliveries_are_refused_and_grant_nothing(paid_event):
    path, body, tenant = paid_event
    now = int(time.time())
    tampered = body.replace('"amount_total": 1', '"amount_total": 9', 1)
    tampered = tampered if tampered != body else body.replace('"livemode": false', '"livemode": false ', 1)

    answers = {
        "another secret": post(path, body, sign(body, "whsec_attacker", now)),
        "no signature": post(path, body, None),
        "garbage signature": post(path, body, "t=1,v1=deadbeef"),
        "tampered body": post(path, tampered, sign(body, SECRET, now)),
        "old timestamp": post(path, body, sign(body, SECRET, now - 10 * 60)),
        "future timestamp": post(path, body, sign(body, SECRET, now + 10 * 60)),
    }

    assert {why: answer.status_code for why, answer in answers.items()} == dict.fromkeys(answers, 400)
    assert pack_grants(tenant) == 0


def test_a_replayed_event_or_the_same_payment_twice_grants_once(paid_event):
    path, body, tenant = paid_event

    first = post(path, body, sign(body, SECRET, int(time.time())))
    replay = post(path, body, sign(body, SECRET, int(time.time())))
    event = json.loads(body)
    event["id"] = event["id"] + "x"  # the same checkout session, another event
    copy = json.dumps(event)
    again = post(path, copy, sign(copy, SECRET, int(time.time())))

    assert (first.status_code, replay.status_code, again.status_code) == (200, 200, 200)
    assert pack_grants(tenant) == 1
    assert Credit.objects.get(tenant=tenant, provider="stripe").total_credits == 1000
