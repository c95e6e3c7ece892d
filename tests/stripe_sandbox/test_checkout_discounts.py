"""Discounts and automatic tax at Checkout: coupons and promotion codes on sessions, on the
subscriptions they create and on those subscriptions' invoices, and Stripe's refusals."""

import re
import time

import pytest
import requests
import stripe

from stripe_sandbox import SandboxControlError
from tests.stripe_sandbox.assertions import as_json, assert_stripe_shape
from tests.stripe_sandbox.test_checkout import submit_form


def monthly_session(catalog, **params) -> stripe.checkout.Session:
    return stripe.checkout.Session.create(
        mode="subscription", line_items=[{"price": catalog.monthly.id, "quantity": 1}], **params
    )


def promotion_code(coupon, code: str = "SPRING", **params) -> stripe.PromotionCode:
    return stripe.PromotionCode.create(promotion={"type": "coupon", "coupon": coupon.id}, code=code, **params)


def invoices_of(subscription_id: str) -> list[dict]:
    """The subscription's invoices, oldest first, as JSON."""
    return [as_json(i) for i in reversed(stripe.Invoice.list(subscription=subscription_id).data)]


def test_an_amount_off_coupon_on_a_payment_session_lowers_its_total_and_the_payment(stripe_sandbox, catalog):
    coupon = stripe.Coupon.create(amount_off=500, currency="usd", name="$5 off")
    session = stripe.checkout.Session.create(
        mode="payment",
        line_items=[{"price": catalog.credits.id, "quantity": 2}],
        discounts=[{"coupon": coupon.id}],
    )

    opened = assert_stripe_shape(session, "checkout.session")
    expanded = stripe.checkout.Session.retrieve(session.id, expand=["total_details.breakdown"])
    [item] = stripe.checkout.Session.list_line_items(session.id, expand=["data.discounts"]).data
    completed = stripe_sandbox.complete_checkout(session.id)

    assert opened["discounts"] == [{"coupon": coupon.id, "promotion_code": None}]
    assert (opened["amount_subtotal"], opened["amount_total"]) == (1800, 1300)
    assert opened["total_details"] == {"amount_discount": 500, "amount_shipping": 0, "amount_tax": 0}
    [entry] = expanded.total_details.breakdown.discounts
    discount = assert_stripe_shape(entry.discount, "discount")
    assert entry.amount == 500
    assert discount["id"].startswith("di_")
    assert discount["source"] == {"coupon": coupon.id, "type": "coupon"}
    assert (discount["checkout_session"], discount["promotion_code"], discount["end"]) == (session.id, None, None)
    assert (item.amount_subtotal, item.amount_discount, item.amount_total) == (1800, 500, 1300)
    assert (item.discounts[0].amount, item.discounts[0].discount.id) == (500, discount["id"])
    assert (completed["amount_total"], completed["discounts"]) == (1300, opened["discounts"])
    payment_intent = stripe.PaymentIntent.retrieve(completed["payment_intent"])
    assert (payment_intent.amount, payment_intent.amount_received) == (1300, 1300)
    assert stripe.Charge.retrieve(payment_intent.latest_charge).amount == 1300
    assert stripe.Coupon.retrieve(coupon.id).times_redeemed == 1


def test_an_amount_off_is_spread_over_the_lines_and_never_exceeds_them(stripe_sandbox, catalog):
    big_pack = stripe.Price.create(product=catalog.pack.id, currency="usd", unit_amount=2100)
    coupon = stripe.Coupon.create(amount_off=1000, currency="usd")
    everything = stripe.Coupon.create(amount_off=10_000, currency="usd")
    line_items = [{"price": catalog.credits.id, "quantity": 1}, {"price": big_pack.id, "quantity": 1}]

    spread = stripe.checkout.Session.create(mode="payment", line_items=line_items, discounts=[{"coupon": coupon.id}])
    capped = stripe.checkout.Session.create(
        mode="payment", line_items=line_items, discounts=[{"coupon": everything.id}]
    )

    assert [i.amount_discount for i in stripe.checkout.Session.list_line_items(spread.id).data] == [300, 700]
    assert (spread.amount_subtotal, spread.amount_total) == (3000, 2000)
    assert (capped.total_details.amount_discount, capped.amount_total) == (3000, 0)


def test_a_forever_promotion_code_discounts_every_invoice_of_the_subscription(stripe_sandbox, catalog, customer):
    coupon = stripe.Coupon.create(percent_off=25, duration="forever")
    spring = promotion_code(coupon)
    session = monthly_session(catalog, customer=customer.id, discounts=[{"promotion_code": spring.id}])

    completed = stripe_sandbox.complete_checkout(session.id)
    subscription = assert_stripe_shape(stripe.Subscription.retrieve(completed["subscription"]), "subscription")
    stripe_sandbox.advance_subscription(subscription["id"])
    first, renewal = invoices_of(subscription["id"])

    assert session.discounts[0].to_dict() == {"coupon": None, "promotion_code": spring.id}
    assert (session.amount_subtotal, session.total_details.amount_discount, session.amount_total) == (2000, 500, 1500)
    [discount_id] = subscription["discounts"]
    discount = assert_stripe_shape(
        stripe.Subscription.retrieve(subscription["id"], expand=["discounts"]).discounts[0], "discount"
    )
    assert discount["id"] == discount_id
    assert (discount["subscription"], discount["customer"], discount["promotion_code"]) == (
        subscription["id"],
        customer.id,
        spring.id,
    )
    assert (discount["checkout_session"], discount["start"], discount["end"]) == (
        None,
        subscription["start_date"],
        None,
    )
    for invoice in (first, renewal):
        assert_stripe_shape(invoice, "invoice")
        assert invoice["discounts"] == [discount_id]
        assert invoice["total_discount_amounts"] == [{"amount": 500, "discount": discount_id}]
        assert invoice["total_pretax_credit_amounts"] == [{"amount": 500, "discount": discount_id, "type": "discount"}]
        assert (invoice["subtotal"], invoice["total"], invoice["total_excluding_tax"]) == (2000, 1500, 1500)
        assert (invoice["amount_due"], invoice["amount_paid"], invoice["status"]) == (1500, 1500, "paid")
        [line] = invoice["lines"]["data"]
        assert_stripe_shape(line, "line_item")
        assert (line["amount"], line["discounts"]) == (2000, [])
        assert line["discount_amounts"] == [{"amount": 500, "discount": discount_id}]
    payment = stripe.InvoicePayment.list(invoice=first["id"]).data[0]
    assert stripe.PaymentIntent.retrieve(payment.payment.payment_intent).amount == 1500
    assert completed["amount_total"] == 1500
    assert stripe.PromotionCode.retrieve(spring.id).times_redeemed == 1
    assert stripe.Coupon.retrieve(coupon.id).times_redeemed == 1
    expanded = stripe.Invoice.retrieve(first["id"], expand=["discounts", "total_discount_amounts.discount"])
    assert expanded.discounts[0].id == expanded.total_discount_amounts[0].discount.id == discount_id


def test_a_once_coupon_discounts_the_first_invoice_only(stripe_sandbox, catalog, customer):
    coupon = stripe.Coupon.create(amount_off=1200, currency="usd", duration="once")
    session = monthly_session(catalog, customer=customer.id, discounts=[{"coupon": coupon.id}])

    subscription_id = stripe_sandbox.complete_checkout(session.id)["subscription"]
    after_first = stripe.Subscription.retrieve(subscription_id)
    stripe_sandbox.advance_subscription(subscription_id)
    first, renewal = invoices_of(subscription_id)

    assert (first["total"], first["amount_paid"], len(first["discounts"])) == (800, 800, 1)
    assert (renewal["total"], renewal["amount_paid"], renewal["discounts"]) == (2000, 2000, [])
    assert renewal["total_discount_amounts"] == renewal["lines"]["data"][0]["discount_amounts"] == []
    assert len(after_first.discounts) == 1
    assert stripe.Subscription.retrieve(subscription_id).discounts == []


def test_a_repeating_coupon_discounts_the_invoices_of_its_months(stripe_sandbox, catalog, customer):
    coupon = stripe.Coupon.create(percent_off=50, duration="repeating", duration_in_months=2)
    session = monthly_session(catalog, customer=customer.id, discounts=[{"coupon": coupon.id}])

    subscription_id = stripe_sandbox.complete_checkout(session.id)["subscription"]
    subscription = stripe.Subscription.retrieve(subscription_id, expand=["discounts"])
    stripe_sandbox.advance_subscription(subscription_id)
    stripe_sandbox.advance_subscription(subscription_id)
    invoices = invoices_of(subscription_id)

    [discount] = subscription.discounts
    assert discount.end == invoices[2]["created"]
    assert [i["total"] for i in invoices] == [1000, 1000, 2000]
    assert [len(i["discounts"]) for i in invoices] == [1, 1, 0]
    assert stripe.Subscription.retrieve(subscription_id).discounts == []


@pytest.mark.parametrize(
    ("params", "param", "code"),
    [
        ({"allow_promotion_codes": True, "discounts": [{"coupon": "SPRING"}]}, None, "parameters_exclusive"),
        (
            {"discounts": [{"coupon": "SPRING", "promotion_code": "promo_x"}]},
            "discounts[0][coupon]",
            "parameters_exclusive",
        ),
        ({"discounts": [{"coupon": ""}]}, "discounts[0][coupon]", None),
        ({"discounts": [{"coupon": "SPRING"}, {"coupon": "SPRING"}]}, "discounts", None),
        ({"discounts": [{"coupon": "NOPE"}]}, "discounts[0][coupon]", "resource_missing"),
        ({"discounts": [{"promotion_code": "SPRING"}]}, "discounts[0][promotion_code]", "resource_missing"),
        ({"discounts": [{"coupon": "EUROS"}]}, "discounts[0][coupon]", None),
        ({"discounts": [{"coupon": "SPRING", "amount": 5}]}, "discounts[0][amount]", "parameter_unknown"),
    ],
    ids=[
        "with-allow-promotion-codes",
        "coupon-and-promotion-code",
        "empty-discount",
        "two-discounts",
        "unknown-coupon",
        "customer-facing-code-as-id",
        "other-currency",
        "unknown-key",
    ],
)
def test_invalid_session_discounts_are_400(stripe_sandbox, catalog, params, param, code):
    stripe.Coupon.create(id="SPRING", percent_off=10)
    stripe.Coupon.create(id="EUROS", amount_off=100, currency="eur")

    with pytest.raises(stripe.InvalidRequestError) as failure:
        monthly_session(catalog, **params)

    assert (failure.value.http_status, failure.value.param, failure.value.code) == (400, param, code)


def test_an_expired_or_exhausted_coupon_is_refused(stripe_sandbox, catalog, customer, monkeypatch):
    once = stripe.Coupon.create(id="ONE-SHOT", percent_off=10, max_redemptions=1)
    dated = stripe.Coupon.create(id="DATED", percent_off=10, redeem_by=int(time.time()) + 3600)
    code = promotion_code(once, "ONESHOT")
    stripe_sandbox.complete_checkout(monthly_session(catalog, discounts=[{"coupon": once.id}]).id)

    with pytest.raises(stripe.InvalidRequestError) as exhausted:
        monthly_session(catalog, discounts=[{"coupon": once.id}])
    later = stripe_sandbox.store.now() + 7200
    monkeypatch.setattr(stripe_sandbox.store, "now", lambda: later)
    with pytest.raises(stripe.InvalidRequestError) as expired:
        monthly_session(catalog, discounts=[{"coupon": dated.id}])

    assert (exhausted.value.code, exhausted.value.param) == ("coupon_expired", "discounts[0][coupon]")
    assert exhausted.value.user_message == "Coupon expired: ONE-SHOT"
    assert expired.value.user_message == "Coupon expired: DATED"
    assert [c.valid for c in stripe.Coupon.list().data] == [False, False]
    assert stripe.PromotionCode.retrieve(code.id).active is False


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda coupon, customer: promotion_code(coupon, active=False), "it is inactive"),
        (lambda coupon, customer: promotion_code(coupon, expires_at=int(time.time()) + 60), "it has expired"),
        (
            lambda coupon, customer: promotion_code(coupon, customer=stripe.Customer.create().id),
            "it is restricted to another customer",
        ),
        (
            lambda coupon, customer: promotion_code(coupon, restrictions={"first_time_transaction": True}),
            "the associated customer has prior transactions",
        ),
        (
            lambda coupon, customer: promotion_code(
                coupon, restrictions={"minimum_amount": 5000, "minimum_amount_currency": "usd"}
            ),
            "the associated purchase does not meet the minimum amount requirement",
        ),
    ],
    ids=["inactive", "expired", "another-customers", "not-a-first-transaction", "under-the-minimum"],
)
def test_promotion_codes_that_cannot_be_redeemed_are_refused(
    stripe_sandbox, catalog, subscription, monkeypatch, setup, message
):
    coupon = stripe.Coupon.create(percent_off=10, duration="forever")
    code = setup(coupon, subscription.customer)
    later = stripe_sandbox.store.now() + 120
    monkeypatch.setattr(stripe_sandbox.store, "now", lambda: later)

    with pytest.raises(stripe.InvalidRequestError) as failure:
        monthly_session(catalog, customer=subscription.customer, discounts=[{"promotion_code": code.id}])

    assert (failure.value.http_status, failure.value.param) == (400, "discounts[0][promotion_code]")
    assert failure.value.user_message == f"This promotion code cannot be redeemed because {message}."


def test_a_promotion_code_used_up_between_two_sessions_stops_the_second_at_payment(stripe_sandbox, catalog):
    coupon = stripe.Coupon.create(percent_off=10, duration="forever")
    spring = promotion_code(coupon, max_redemptions=1)
    first = monthly_session(catalog, discounts=[{"promotion_code": spring.id}])
    second = monthly_session(catalog, discounts=[{"promotion_code": spring.id}])

    stripe_sandbox.complete_checkout(first.id)
    with pytest.raises(SandboxControlError) as refused:
        stripe_sandbox.complete_checkout(second.id)

    assert refused.value.status == 400
    assert refused.value.body["error"]["message"] == (
        "This promotion code cannot be redeemed because it has been used the maximum number of times."
    )
    assert stripe.checkout.Session.retrieve(second.id).status == "open"
    used = stripe.PromotionCode.retrieve(spring.id)
    assert (used.times_redeemed, used.active) == (1, True)
    assert stripe.Subscription.list().data[0].id == stripe.checkout.Session.retrieve(first.id).subscription


def test_a_code_typed_on_the_hosted_page_discounts_the_subscription(stripe_sandbox, catalog, customer):
    coupon = stripe.Coupon.create(percent_off=20, duration="forever", name="Spring sale")
    spring = promotion_code(coupon)
    session = monthly_session(catalog, customer=customer.id, allow_promotion_codes=True)
    plain = monthly_session(catalog, customer=customer.id)

    page = requests.get(session.url)
    wrong = submit_form(page, "Apply", promotion_code="AUTUMN")
    applied = submit_form(page, "Apply", promotion_code="spring")
    discounted_page = requests.get(session.url)
    paid = submit_form(discounted_page, "Pay")

    assert "Promotion code" in page.text and "Promotion code" not in requests.get(plain.url).text
    assert (wrong.status_code, "This code is invalid." in wrong.text) == (400, True)
    assert (applied.status_code, applied.headers["Location"]) == (303, f"/checkout/{session.id}")
    assert "Discount (SPRING)" in discounted_page.text and "Pay $16.00 per period" in discounted_page.text
    assert (paid.status_code, "Payment complete." in paid.text) == (200, True)
    completed = stripe.checkout.Session.retrieve(session.id)
    assert completed.discounts[0].promotion_code == spring.id
    assert (completed.amount_total, completed.total_details.amount_discount) == (1600, 400)
    invoice = stripe.Invoice.retrieve(completed.invoice)
    assert (invoice.total, invoice.amount_paid, invoice.total_discount_amounts[0].amount) == (1600, 1600, 400)
    assert stripe.PromotionCode.retrieve(spring.id).times_redeemed == 1


def test_the_complete_control_takes_the_code_the_customer_types(stripe_sandbox, catalog):
    coupon = stripe.Coupon.create(amount_off=300, currency="usd", duration="once")
    promotion_code(coupon, "WELCOME")
    session = stripe.checkout.Session.create(
        mode="payment", line_items=[{"price": catalog.credits.id, "quantity": 1}], allow_promotion_codes=True
    )
    closed = stripe.checkout.Session.create(mode="payment", line_items=[{"price": catalog.credits.id, "quantity": 1}])

    with pytest.raises(SandboxControlError) as declined:
        stripe_sandbox.complete_checkout(session.id, card="declines")
    completed = stripe_sandbox.complete_checkout(session.id, promotion_code="welcome")
    with pytest.raises(SandboxControlError) as not_allowed:
        stripe_sandbox.complete_checkout(closed.id, promotion_code="WELCOME")

    assert declined.value.status == 402
    assert (completed["amount_total"], completed["total_details"]["amount_discount"]) == (600, 300)
    payment_intent = stripe.PaymentIntent.retrieve(completed["payment_intent"])
    assert (payment_intent.amount, payment_intent.amount_received) == (600, 600)
    assert (not_allowed.value.status, not_allowed.value.body["error"]["param"]) == (400, "promotion_code")
    assert stripe.checkout.Session.retrieve(closed.id).status == "open"


def test_automatic_tax_shows_on_the_session_the_subscription_and_its_invoices(stripe_sandbox, catalog):
    customer = stripe.Customer.create(
        email="taxed@example.com", address={"country": "US", "postal_code": "94103", "line1": "1 Market St"}
    )
    session = monthly_session(catalog, customer=customer.id, automatic_tax={"enabled": True})

    subscription_id = stripe_sandbox.complete_checkout(session.id)["subscription"]
    stripe_sandbox.advance_subscription(subscription_id)
    subscription = stripe.Subscription.retrieve(subscription_id)

    assert session.automatic_tax.to_dict() == {
        "enabled": True,
        "liability": {"type": "self"},
        "provider": "stripe",
        "status": "complete",
    }
    assert (session.total_details.amount_tax, session.amount_total) == (0, 2000)
    assert subscription.automatic_tax.to_dict() == {
        "disabled_reason": None,
        "enabled": True,
        "liability": {"type": "self"},
    }
    for invoice in invoices_of(subscription_id):
        assert invoice["automatic_tax"] == {
            "disabled_reason": None,
            "enabled": True,
            "liability": {"type": "self"},
            "provider": "stripe",
            "status": "complete",
        }
        assert (invoice["total_taxes"], invoice["total"], invoice["amount_paid"]) == ([], 2000, 2000)


def test_automatic_tax_waits_for_the_address_checkout_collects(stripe_sandbox, catalog, customer):
    guest = stripe.checkout.Session.create(
        mode="payment",
        line_items=[{"price": catalog.credits.id, "quantity": 1}],
        automatic_tax={"enabled": True, "liability": {"type": "self"}},
    )
    saved_address = monthly_session(
        catalog, customer=customer.id, automatic_tax={"enabled": True}, customer_update={"address": "auto"}
    )

    with pytest.raises(stripe.InvalidRequestError) as no_address:
        monthly_session(catalog, customer=customer.id, automatic_tax={"enabled": True})
    with pytest.raises(stripe.InvalidRequestError) as connected:
        monthly_session(catalog, automatic_tax={"enabled": True, "liability": {"type": "account", "account": "acct_1"}})
    completed = stripe_sandbox.complete_checkout(guest.id)

    assert (guest.automatic_tax.status, saved_address.automatic_tax.status) == ("requires_location_inputs",) * 2
    assert completed["automatic_tax"]["status"] == "complete"
    assert no_address.value.user_message.startswith("Automatic tax calculation in Checkout requires a valid address")
    assert (connected.value.param, connected.value.code) == ("automatic_tax[liability][account]", "resource_missing")
    assert stripe.checkout.Session.create(
        mode="payment", line_items=[{"price": catalog.credits.id, "quantity": 1}], automatic_tax={"enabled": False}
    ).automatic_tax.to_dict() == {"enabled": False, "liability": None, "provider": None, "status": None}


def test_the_checkout_completed_event_carries_the_discounted_session(stripe_sandbox, catalog, customer):
    coupon = stripe.Coupon.create(percent_off=10, duration="forever")
    session = monthly_session(catalog, customer=customer.id, discounts=[{"coupon": coupon.id}])

    stripe_sandbox.complete_checkout(session.id)

    events = {event.type: event for event in reversed(stripe.Event.list(limit=100).data)}
    assert events["checkout.session.completed"].data.object.amount_total == 1800
    created = events["customer.subscription.created"].data.object
    assert len(created.discounts) == 1 and re.match(r"di_\w+", created.discounts[0])
    assert events["invoice.created"].data.object.total == 1800
