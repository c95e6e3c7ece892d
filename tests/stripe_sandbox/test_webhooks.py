"""Webhooks: signed like Stripe, delivered in order, retried when the endpoint fails."""

import json
import socketserver
import threading

import pytest
import requests
import stripe

from stripe_sandbox.testing import WebhookReceiver
from tests.stripe_sandbox.assertions import assert_stripe_shape


@pytest.fixture
def failing_receiver():
    receiver = WebhookReceiver(statuses=[500, 503])
    yield receiver
    receiver.close()


def test_events_are_signed_so_that_construct_event_accepts_them(stripe_sandbox, webhook_receiver):
    endpoint = stripe.WebhookEndpoint.create(
        url=webhook_receiver.url, enabled_events=["customer.created", "customer.updated"]
    )
    customer = stripe.Customer.create(email="hook@example.com")
    stripe.Customer.modify(customer.id, name="Hook")
    stripe.Product.create(name="Not subscribed to")

    stripe_sandbox.wait_for_deliveries()

    assert endpoint.secret.startswith("whsec_")
    assert "secret" not in stripe.WebhookEndpoint.retrieve(endpoint.id)
    assert_stripe_shape(stripe.WebhookEndpoint.retrieve(endpoint.id), "webhook_endpoint")
    received = webhook_receiver.received
    events = [stripe.Webhook.construct_event(r.body, r.headers["Stripe-Signature"], endpoint.secret) for r in received]
    assert [e.type for e in events] == ["customer.created", "customer.updated"]
    assert events[0].data.object.id == customer.id
    assert events[1].data.previous_attributes.name is None
    assert [e.id for e in events] == [e.id for e in reversed(stripe.Event.list(type="customer.*").data)]
    assert received[0].headers["Content-Type"] == "application/json; charset=utf-8"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            received[0].body.replace("hook@", "evil@"), received[0].headers["Stripe-Signature"], endpoint.secret
        )
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(received[0].body, received[0].headers["Stripe-Signature"], "whsec_other")
    assert stripe.Event.retrieve(events[0].id).pending_webhooks == 0


def test_a_failing_endpoint_gets_the_event_again_after_a_backoff(stripe_sandbox, failing_receiver):
    stripe.WebhookEndpoint.create(url=failing_receiver.url, enabled_events=["*"])
    customer = stripe.Customer.create()

    stripe_sandbox.wait_for_deliveries()

    bodies = [json.loads(r.body) for r in failing_receiver.received]
    assert [body["data"]["object"]["id"] for body in bodies] == [customer.id] * 3
    assert len({body["id"] for body in bodies}) == 1
    deliveries = requests.get(f"{stripe_sandbox.url}/_sandbox/deliveries").json()
    assert deliveries["pending"] == 0
    [delivery] = deliveries["data"]
    assert (delivery["type"], delivery["state"]) == ("customer.created", "succeeded")
    assert [attempt["status"] for attempt in delivery["attempts"]] == [500, 503, 200]


def test_an_endpoint_that_keeps_failing_is_given_up_on(stripe_sandbox):
    receiver = WebhookReceiver(statuses=[500] * 10)
    try:
        stripe.WebhookEndpoint.create(url=receiver.url, enabled_events=["customer.created"])
        stripe.Customer.create()
        event_id = stripe.Event.list(limit=1).data[0].id

        stripe_sandbox.wait_for_deliveries()

        [delivery] = stripe_sandbox.deliveries()
        assert delivery["state"] == "failed"
        assert len(delivery["attempts"]) == 4
        assert stripe.Event.retrieve(event_id).pending_webhooks == 1
    finally:
        receiver.close()


def test_deliveries_follow_the_order_events_were_created_in(stripe_sandbox, catalog, customer, webhook_receiver):
    endpoint = stripe.WebhookEndpoint.create(url=webhook_receiver.url, enabled_events=["*"])
    session = stripe.checkout.Session.create(
        mode="subscription", customer=customer.id, line_items=[{"price": catalog.monthly.id, "quantity": 1}]
    )
    stripe_sandbox.complete_checkout(session.id)

    stripe_sandbox.wait_for_deliveries()

    delivered = [
        stripe.Webhook.construct_event(r.body, r.headers["Stripe-Signature"], endpoint.secret).id
        for r in webhook_receiver.received
    ]
    created_after_endpoint = [e.id for e in reversed(stripe.Event.list(limit=100).data)][-len(delivered) :]
    assert len(delivered) == 12
    assert delivered == created_after_endpoint


def test_disabled_and_deleted_endpoints_receive_nothing(stripe_sandbox, webhook_receiver):
    disabled = stripe.WebhookEndpoint.create(url=webhook_receiver.url, enabled_events=["*"])
    deleted = stripe.WebhookEndpoint.create(url=webhook_receiver.url, enabled_events=["*"])
    stripe.WebhookEndpoint.modify(disabled.id, disabled=True)
    stripe.WebhookEndpoint.delete(deleted.id)

    stripe.Customer.create()
    stripe_sandbox.wait_for_deliveries()

    assert stripe.WebhookEndpoint.retrieve(disabled.id).status == "disabled"
    assert webhook_receiver.received == []
    assert stripe.Event.list(limit=1).data[0].pending_webhooks == 0


def test_an_endpoint_answering_garbage_fails_its_delivery_without_stopping_the_others(stripe_sandbox, webhook_receiver):
    class Garbage(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.recv(65536)
            self.request.sendall(b"this is not HTTP\r\n\r\n")

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Garbage) as garbage:
        threading.Thread(target=garbage.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        stripe.WebhookEndpoint.create(url=f"http://127.0.0.1:{garbage.server_address[1]}/", enabled_events=["*"])
        stripe.WebhookEndpoint.create(url=webhook_receiver.url, enabled_events=["*"])
        stripe.Customer.create()
        stripe.Customer.create()

        stripe_sandbox.wait_for_deliveries()
        garbage.shutdown()

    broken = [d for d in stripe_sandbox.deliveries() if d["url"] != webhook_receiver.url]
    assert [d["state"] for d in broken] == ["failed", "failed"]
    assert broken[0]["attempts"][0]["status"] is None
    assert "BadStatusLine" in broken[0]["attempts"][0]["error"]
    assert len(webhook_receiver.received) == 2


def test_an_endpoint_takes_only_the_api_version_the_sandbox_serves(stripe_sandbox, webhook_receiver):
    pinned = stripe.WebhookEndpoint.create(
        url=webhook_receiver.url, enabled_events=["*"], api_version=stripe_sandbox.api_version
    )

    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe.WebhookEndpoint.create(url=webhook_receiver.url, enabled_events=["*"], api_version="2026-08-26.dahlia")
    stripe.Customer.create()
    [received] = webhook_receiver.wait_for(1)

    assert pinned.api_version == stripe_sandbox.api_version
    assert (refused.value.http_status, refused.value.param) == (400, "api_version")
    assert refused.value.user_message.startswith("Invalid Stripe API version: 2026-08-26.dahlia. ")
    assert json.loads(received.body)["api_version"] == stripe_sandbox.api_version
    assert [e.id for e in stripe.WebhookEndpoint.list().data] == [pinned.id]
