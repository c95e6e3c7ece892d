"""Subscriptions over time: renewals, failed renewals, recovery, cancellation, the portal."""

import re

import pytest
import requests
import stripe

from stripe_sandbox import SandboxControlError
from tests.stripe_sandbox.assertions import as_json, assert_stripe_shape


def period(subscription) -> tuple[int, int]:
    item = subscription["items"]["data"][0]
    return item["current_period_start"], item["current_period_end"]


def events_since(event_id: str) -> list:
    """Events created after `event_id`, oldest first."""
    return list(reversed(stripe.Event.list(limit=100, ending_before=event_id).data))


def test_advancing_renews_the_subscription_and_pays_the_renewal_invoice(stripe_sandbox, subscription):
    first_period = period(subscription)
    last_event = stripe.Event.list(limit=1).data[0].id

    renewed = stripe_sandbox.advance_subscription(subscription.id)

    assert renewed["status"] == "active"
    new_start, new_end = period(renewed)
    assert new_start == first_period[1]
    assert 28 * 86400 <= new_end - new_start <= 31 * 86400
    invoice = assert_stripe_shape(stripe.Invoice.retrieve(renewed["latest_invoice"]), "invoice")
    assert invoice["id"] != subscription.latest_invoice
    assert (invoice["billing_reason"], invoice["status"], invoice["amount_paid"]) == (
        "subscription_cycle",
        "paid",
        2000,
    )
    assert invoice["lines"]["data"][0]["period"] == {"start": new_start, "end": new_end}
    # Stripe's quirk: the invoice's own period is the one that just ended.
    assert (invoice["period_start"], invoice["period_end"]) == first_period
    assert invoice["created"] == first_period[1]
    assert [i.id for i in stripe.Invoice.list(subscription=subscription.id).data] == [
        invoice["id"],
        subscription.latest_invoice,
    ]

    events = events_since(last_event)
    assert [e.type for e in events] == [
        "invoice.upcoming",
        "customer.subscription.updated",
        "invoice.created",
        "invoice.finalized",
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "invoice_payment.paid",
        "invoice.paid",
        "invoice.payment_succeeded",
    ]
    previous = as_json(events[1].data.previous_attributes)
    assert previous["latest_invoice"] == subscription.latest_invoice
    assert previous["items"]["data"][0]["current_period_end"] == first_period[1]
    assert events[-1].data.object.id == invoice["id"]


def test_a_declining_card_fails_the_renewal_until_the_invoice_is_paid_with_a_good_card(stripe_sandbox, subscription):
    stripe_sandbox.set_card_declines(subscription.customer)
    last_event = stripe.Event.list(limit=1).data[0].id

    failed = stripe_sandbox.advance_subscription(subscription.id)

    assert failed["status"] == "past_due"
    invoice = stripe.Invoice.retrieve(failed["latest_invoice"])
    assert (invoice.status, invoice.attempted, invoice.attempt_count, invoice.amount_paid) == ("open", True, 1, 0)
    assert invoice.next_payment_attempt > invoice.created
    charge = stripe.Charge.list(customer=subscription.customer, limit=1).data[0]
    assert (charge.status, charge.paid, charge.failure_code) == ("failed", False, "card_declined")
    assert charge.outcome.type == "issuer_declined"
    assert stripe.Customer.retrieve(subscription.customer).delinquent is True
    events = events_since(last_event)
    assert [e.type for e in events] == [
        "invoice.upcoming",
        "customer.subscription.updated",
        "invoice.created",
        "invoice.finalized",
        "payment_intent.created",
        "charge.failed",
        "payment_intent.payment_failed",
        "invoice.payment_failed",
        "invoice.updated",
        "customer.updated",
        "customer.subscription.updated",
    ]
    assert (events[-1].data.object.status, events[-1].data.previous_attributes.status) == ("past_due", "active")

    with pytest.raises(stripe.CardError) as declined_again:
        stripe.Invoice.pay(invoice.id)
    stripe_sandbox.set_card_declines(subscription.customer, declines=False)
    paid = stripe.Invoice.pay(invoice.id)

    assert (declined_again.value.http_status, declined_again.value.code) == (402, "card_declined")
    assert (paid.status, paid.attempt_count) == ("paid", 3)
    assert stripe.Subscription.retrieve(subscription.id).status == "active"
    assert stripe.Customer.retrieve(subscription.customer).delinquent is False


def test_cancel_at_period_end_ends_the_subscription_when_the_period_ends(stripe_sandbox, subscription):
    scheduled = stripe.Subscription.modify(subscription.id, cancel_at_period_end=True)
    update = stripe.Event.list(limit=1).data[0]

    ended = stripe_sandbox.advance_subscription(subscription.id)

    assert (scheduled.status, scheduled.cancel_at_period_end, scheduled.cancel_at) == (
        "active",
        True,
        period(subscription)[1],
    )
    assert scheduled.cancellation_details.reason == "cancellation_requested"
    assert update.type == "customer.subscription.updated"
    assert update.data.previous_attributes.cancel_at_period_end is False
    assert (ended["status"], ended["ended_at"]) == ("canceled", period(subscription)[1])
    assert stripe.Event.list(limit=1).data[0].type == "customer.subscription.deleted"
    assert len(stripe.Invoice.list(subscription=subscription.id).data) == 1
    with pytest.raises(SandboxControlError) as again:
        stripe_sandbox.advance_subscription(subscription.id)
    assert again.value.status == 400


def test_deleting_a_subscription_cancels_it_at_once(stripe_sandbox, subscription):
    canceled = stripe.Subscription.delete(subscription.id)

    assert canceled.status == "canceled"
    assert canceled.canceled_at == canceled.ended_at is not None
    deleted_event = stripe.Event.list(limit=1).data[0]
    assert deleted_event.type == "customer.subscription.deleted"
    assert deleted_event.data.object.status == "canceled"
    assert stripe.Subscription.list().data == []
    assert [s.id for s in stripe.Subscription.list(status="all").data] == [subscription.id]
    assert [s.id for s in stripe.Subscription.list(status="canceled").data] == [subscription.id]
    with pytest.raises(stripe.InvalidRequestError):
        stripe.Subscription.delete(subscription.id)


def test_the_billing_portal_cancels_and_resumes(stripe_sandbox, subscription):
    portal = stripe.billing_portal.Session.create(
        customer=subscription.customer, return_url="https://keel.test/billing"
    )
    shape = assert_stripe_shape(portal, "billing_portal.session")
    assert shape["id"].startswith("bps_")
    assert shape["url"] == f"{stripe_sandbox.url}/billing_portal/{portal.id}"

    def press(button: str) -> str:
        page = requests.get(portal.url).text
        action = re.search(rf"action='([^']+)'>(?:<input[^>]*>)?<button>{button}</button>", page).group(1)
        fields = dict(re.findall(r"name=(\w+) value=(\w+)><button>" + button, page))
        answer = requests.post(stripe_sandbox.url + action, data=fields, allow_redirects=False)
        assert answer.status_code == 303
        return page

    page = press("Cancel at period end")
    assert "Return to the site" in page and "https://keel.test/billing" in page
    assert stripe.Subscription.retrieve(subscription.id).cancel_at_period_end is True
    press("Keep subscription")
    assert stripe.Subscription.retrieve(subscription.id).cancel_at_period_end is False
    press("Cancel now")
    assert stripe.Subscription.retrieve(subscription.id).status == "canceled"


def test_a_subscription_created_through_the_api_charges_the_default_card(stripe_sandbox, catalog):
    good = stripe.Customer.create(
        email="api@example.com",
        payment_method="pm_card_visa",
        invoice_settings={"default_payment_method": "pm_card_visa"},
    )
    failing = stripe.Customer.create(
        payment_method="pm_card_chargeCustomerFail",
        invoice_settings={"default_payment_method": "pm_card_chargeCustomerFail"},
    )

    active = stripe.Subscription.create(customer=good.id, items=[{"price": catalog.monthly.id}])
    incomplete = stripe.Subscription.create(customer=failing.id, items=[{"price": catalog.monthly.id}])
    with pytest.raises(stripe.CardError):
        stripe.Subscription.create(
            customer=failing.id, items=[{"price": catalog.monthly.id}], payment_behavior="error_if_incomplete"
        )
    with pytest.raises(stripe.InvalidRequestError) as no_card:
        stripe.Subscription.create(customer=stripe.Customer.create().id, items=[{"price": catalog.monthly.id}])

    assert active.status == "active"
    assert stripe.Invoice.retrieve(active.latest_invoice).status == "paid"
    assert incomplete.status == "incomplete"
    assert stripe.Invoice.retrieve(incomplete.latest_invoice).status == "open"
    assert "no attached payment source" in no_card.value.user_message
