"""Refunds: partial and full, by charge or by payment intent."""

import pytest
import stripe

from tests.stripe_sandbox.assertions import as_json, assert_stripe_shape, event_types


def paid_charge(subscription):
    invoice_payment = stripe.InvoicePayment.list(invoice=subscription.latest_invoice).data[0]
    payment_intent = stripe.PaymentIntent.retrieve(invoice_payment.payment.payment_intent)
    return stripe.Charge.retrieve(payment_intent.latest_charge)


def test_a_partial_then_a_full_refund(stripe_sandbox, subscription):
    charge = paid_charge(subscription)

    partial = stripe.Refund.create(charge=charge.id, amount=500, reason="requested_by_customer")
    after_partial = stripe.Charge.retrieve(charge.id, expand=["refunds"])
    refunded_event, created_event = stripe.Event.list(limit=2).data[::-1]
    rest = stripe.Refund.create(payment_intent=charge.payment_intent)
    after_full = stripe.Charge.retrieve(charge.id)
    listed = stripe.Charge.list_refunds(charge.id)

    refund = assert_stripe_shape(partial, "refund")
    assert refund["id"].startswith("re_")
    assert (refund["amount"], refund["status"], refund["charge"]) == (500, "succeeded", charge.id)
    assert (refund["payment_intent"], refund["reason"]) == (charge.payment_intent, "requested_by_customer")
    transaction = stripe.BalanceTransaction.retrieve(refund["balance_transaction"])
    assert (transaction.type, transaction.amount, transaction.source) == ("refund", -500, refund["id"])
    assert (after_partial.amount_refunded, after_partial.refunded) == (500, False)
    assert [r.id for r in after_partial.refunds.data] == [partial.id]
    assert after_partial.refunds.url == f"/v1/charges/{charge.id}/refunds"
    assert (refunded_event.type, created_event.type) == ("charge.refunded", "refund.created")
    assert as_json(refunded_event.data.previous_attributes)["amount_refunded"] == 0
    assert created_event.data.object.id == partial.id
    assert rest.amount == 1500
    assert (after_full.amount_refunded, after_full.refunded) == (2000, True)
    # In this API version a charge carries its refunds only when expanded.
    assert "refunds" not in as_json(after_full)
    assert "refunds" not in as_json(refunded_event.data.object)
    assert [r.id for r in listed.data] == [rest.id, partial.id]
    assert [r.id for r in stripe.Refund.list(charge=charge.id).data] == [rest.id, partial.id]
    assert event_types(stripe.Event.list(limit=4).data) == [
        "charge.refunded",
        "refund.created",
        "charge.refunded",
        "refund.created",
    ]


def test_refunding_more_than_is_left_is_refused(stripe_sandbox, subscription):
    charge = paid_charge(subscription)

    with pytest.raises(stripe.InvalidRequestError) as too_much:
        stripe.Refund.create(charge=charge.id, amount=2001)
    stripe.Refund.create(charge=charge.id)
    with pytest.raises(stripe.InvalidRequestError) as already:
        stripe.Refund.create(charge=charge.id, amount=1)

    assert (too_much.value.http_status, too_much.value.param) == (400, "amount")
    assert already.value.code == "charge_already_refunded"
    assert stripe.Charge.retrieve(charge.id).amount_refunded == 2000


def test_a_refund_names_exactly_one_charge_or_payment_intent(stripe_sandbox, subscription):
    with pytest.raises(stripe.InvalidRequestError):
        stripe.Refund.create(amount=100)
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        stripe.Refund.create(charge="ch_unknown")

    assert (unknown.value.code, unknown.value.param) == ("resource_missing", "charge")
