"""Checkout: the hosted page and the API helper complete sessions the way Stripe does."""

import re

import pytest
import requests
import stripe

from stripe_sandbox import SandboxControlError
from tests.stripe_sandbox.assertions import as_json, assert_stripe_shape, event_types

SUCCESS_URL = "https://keel.test/billing/success?session={CHECKOUT_SESSION_ID}"
CANCEL_URL = "https://keel.test/billing/pricing"


def submit_form(page: requests.Response, button: str, **overrides) -> requests.Response:
    """POST the page's form whose submit button reads `button`, with its own field values."""
    for action, form in re.findall(r"<form[^>]*action='([^']+)'[^>]*>(.*?)</form>", page.text, re.S):
        if f">{button}</button>" in form:
            fields = dict(re.findall(r"<input[^>]*name=(\w+)[^>]*value='([^']*)'", form))
            fields.update(re.findall(r"<select[^>]*name=(\w+)[^>]*><option value=(\w+)", form))
            fields.update(overrides)
            origin = re.match(r"https?://[^/]+", page.url).group(0)
            return requests.post(origin + action, data=fields, allow_redirects=False)
    raise AssertionError(f"no form with a {button!r} button")


def test_a_subscription_bought_on_the_hosted_page(stripe_sandbox, catalog, customer):
    session = stripe.checkout.Session.create(
        mode="subscription",
        customer=customer.id,
        client_reference_id="tenant-1",
        line_items=[{"price": catalog.monthly.id, "quantity": 1}],
        metadata={"tenant_id": "t-1", "price_kind": "subscription"},
        subscription_data={"metadata": {"tenant_id": "t-1"}},
        success_url=SUCCESS_URL,
        cancel_url=CANCEL_URL,
    )
    opened = assert_stripe_shape(session, "checkout.session")
    assert opened["id"].startswith("cs_test_")
    assert opened["url"] == f"{stripe_sandbox.url}/checkout/{session.id}"
    assert (opened["ui_mode"], opened["client_secret"]) == ("hosted_page", None)
    assert (opened["status"], opened["payment_status"], opened["mode"]) == ("open", "unpaid", "subscription")
    assert (opened["amount_total"], opened["currency"], opened["subscription"]) == (2000, "usd", None)

    page = requests.get(session.url)
    assert page.status_code == 200 and "$20.00" in page.text
    paid = submit_form(page, "Pay")

    assert paid.status_code == 303
    assert paid.headers["Location"] == SUCCESS_URL.replace("{CHECKOUT_SESSION_ID}", session.id)
    completed = assert_stripe_shape(stripe.checkout.Session.retrieve(session.id), "checkout.session")
    assert (completed["status"], completed["payment_status"], completed["url"]) == ("complete", "paid", None)
    assert completed["customer"] == customer.id
    assert completed["customer_details"]["email"] == "ada@example.com"
    assert completed["client_reference_id"] == "tenant-1"
    assert completed["metadata"] == {"tenant_id": "t-1", "price_kind": "subscription"}

    subscription = assert_stripe_shape(stripe.Subscription.retrieve(completed["subscription"]), "subscription")
    assert subscription["id"].startswith("sub_")
    assert (subscription["status"], subscription["customer"], subscription["metadata"]) == (
        "active",
        customer.id,
        {"tenant_id": "t-1"},
    )
    item = assert_stripe_shape(subscription["items"]["data"][0], "subscription_item")
    assert item["id"].startswith("si_") and item["price"]["id"] == catalog.monthly.id
    assert_stripe_shape(item["plan"], "plan")
    start, end = item["current_period_start"], item["current_period_end"]
    assert 28 * 86400 <= end - start <= 31 * 86400
    assert subscription["start_date"] == subscription["billing_cycle_anchor"] == start
    assert subscription["cancel_at_period_end"] is False

    invoice = assert_stripe_shape(stripe.Invoice.retrieve(subscription["latest_invoice"]), "invoice")
    assert invoice["id"] == completed["invoice"]
    assert (invoice["billing_reason"], invoice["status"]) == ("subscription_create", "paid")
    assert (invoice["amount_due"], invoice["amount_paid"], invoice["amount_remaining"]) == (2000, 2000, 0)
    assert invoice["parent"]["subscription_details"] == {
        "metadata": {"tenant_id": "t-1"},
        "subscription": subscription["id"],
    }
    assert invoice["status_transitions"]["paid_at"] is not None
    line = assert_stripe_shape(invoice["lines"]["data"][0], "line_item")
    assert line["id"].startswith("il_")
    assert (line["amount"], line["period"]) == (2000, {"start": start, "end": end})
    assert line["pricing"]["price_details"] == {"price": catalog.monthly.id, "product": catalog.pro.id}
    assert line["parent"]["subscription_item_details"]["subscription_item"] == item["id"]
    assert requests.get(invoice["hosted_invoice_url"]).status_code == 200
    assert requests.get(invoice["invoice_pdf"]).content.startswith(b"%PDF-")

    payments = stripe.InvoicePayment.list(invoice=invoice["id"]).data
    payment = assert_stripe_shape(payments[0], "invoice_payment")
    assert (payment["status"], payment["amount_paid"]) == ("paid", 2000)
    payment_intent = assert_stripe_shape(
        stripe.PaymentIntent.retrieve(payment["payment"]["payment_intent"]), "payment_intent"
    )
    assert (payment_intent["status"], payment_intent["amount_received"]) == ("succeeded", 2000)
    charge = assert_stripe_shape(stripe.Charge.retrieve(payment_intent["latest_charge"]), "charge")
    assert (charge["status"], charge["paid"], charge["amount"], charge["customer"]) == (
        "succeeded",
        True,
        2000,
        customer.id,
    )
    assert requests.get(charge["receipt_url"]).status_code == 200
    assert_stripe_shape(stripe.BalanceTransaction.retrieve(charge["balance_transaction"]), "balance_transaction")

    events = stripe.Event.list(limit=100).data
    assert event_types(events)[5:] == [
        "payment_method.attached",
        "customer.subscription.created",
        "invoice.created",
        "invoice.finalized",
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "invoice_payment.paid",
        "invoice.paid",
        "invoice.payment_succeeded",
        "customer.subscription.updated",
        "checkout.session.completed",
    ]
    completed_event = assert_stripe_shape(events[0], "event")
    assert completed_event["data"]["object"]["id"] == session.id
    assert completed_event["request"] == {"id": None, "idempotency_key": None}
    activated = events[1]
    assert activated.data.object.status == "active"
    assert as_json(activated.data.previous_attributes) == {"status": "incomplete"}


def test_a_credit_pack_paid_through_the_api_helper(stripe_sandbox, catalog):
    session = stripe.checkout.Session.create(
        mode="payment",
        customer_email="grace@example.com",
        line_items=[{"price": catalog.credits.id, "quantity": 2}],
        payment_intent_data={"metadata": {"tenant_id": "t-2"}},
        metadata={"tenant_id": "t-2"},
        success_url=SUCCESS_URL,
    )
    items = stripe.checkout.Session.list_line_items(session.id)

    completed = stripe_sandbox.complete_checkout(session.id)

    item = assert_stripe_shape(items.data[0], "item")
    assert (item["description"], item["quantity"], item["amount_total"]) == ("1,000 credits", 2, 1800)
    assert item["price"]["id"] == catalog.credits.id
    assert_stripe_shape(completed, "checkout.session")
    assert (completed["status"], completed["payment_status"], completed["amount_total"]) == ("complete", "paid", 1800)
    assert completed["subscription"] is None and completed["invoice"] is None
    customer = stripe.Customer.retrieve(completed["customer"])
    assert customer.email == "grace@example.com"
    payment_intent = stripe.PaymentIntent.retrieve(completed["payment_intent"])
    assert (payment_intent.status, payment_intent.amount, payment_intent.customer) == ("succeeded", 1800, customer.id)
    assert payment_intent.metadata.to_dict() == {"tenant_id": "t-2"}
    charge = stripe.Charge.list(payment_intent=payment_intent.id).data[0]
    assert (charge.paid, charge.amount, charge.metadata.to_dict()) == (True, 1800, {"tenant_id": "t-2"})
    assert event_types(stripe.Event.list(limit=100).data)[4:] == [
        "customer.created",
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "checkout.session.completed",
    ]
    expanded = stripe.checkout.Session.retrieve(session.id, expand=["line_items", "payment_intent"])
    assert expanded.line_items.data[0].id == item["id"]
    assert expanded.payment_intent.id == payment_intent.id


def test_a_declined_card_leaves_a_payment_session_open_until_a_good_card_pays(stripe_sandbox, catalog):
    session = stripe.checkout.Session.create(
        mode="payment", line_items=[{"price": catalog.credits.id, "quantity": 1}], success_url=SUCCESS_URL
    )

    with pytest.raises(SandboxControlError) as declined:
        stripe_sandbox.complete_checkout(session.id, card="declines", email="bob@example.com")
    after_decline = stripe.checkout.Session.retrieve(session.id)
    failed_intent = stripe.PaymentIntent.retrieve(after_decline.payment_intent)
    stripe_sandbox.complete_checkout(session.id)

    assert declined.value.status == 402
    assert declined.value.body["error"]["type"] == "card_error"
    assert declined.value.body["error"]["code"] == "card_declined"
    assert after_decline.status == "open"
    assert failed_intent.status == "requires_payment_method"
    assert failed_intent.last_payment_error.code == "card_declined"
    charges = stripe.Charge.list(payment_intent=failed_intent.id).data
    assert [(c.status, c.failure_code) for c in charges] == [("succeeded", None), ("failed", "card_declined")]
    assert stripe.PaymentIntent.retrieve(failed_intent.id).status == "succeeded"
    assert "charge.failed" in event_types(stripe.Event.list(limit=100).data)
    assert "payment_intent.payment_failed" in event_types(stripe.Event.list(limit=100).data)


def test_a_declined_card_on_the_hosted_page_shows_the_error_and_creates_no_subscription(stripe_sandbox, catalog):
    session = stripe.checkout.Session.create(
        mode="subscription", line_items=[{"price": catalog.monthly.id, "quantity": 1}], success_url=SUCCESS_URL
    )

    answer = submit_form(requests.get(session.url), "Pay", card="4000000000000002")

    assert answer.status_code == 402
    assert "Your card was declined." in answer.text
    assert stripe.checkout.Session.retrieve(session.id).status == "open"
    assert stripe.Subscription.list(status="all").data == []


def test_cancel_on_the_hosted_page_expires_the_session(stripe_sandbox, catalog, customer):
    session = stripe.checkout.Session.create(
        mode="subscription",
        customer=customer.id,
        line_items=[{"price": catalog.monthly.id, "quantity": 1}],
        success_url=SUCCESS_URL,
        cancel_url=CANCEL_URL,
    )

    answer = submit_form(requests.get(session.url), "Cancel")

    assert (answer.status_code, answer.headers["Location"]) == (303, CANCEL_URL)
    assert stripe.checkout.Session.retrieve(session.id).status == "expired"
    assert stripe.Event.list(limit=1).data[0].type == "checkout.session.expired"
    with pytest.raises(SandboxControlError) as late:
        stripe_sandbox.complete_checkout(session.id)
    assert late.value.status == 400


def _monthly_item(catalog, **fields):
    return [{"price": catalog.monthly.id, **fields}]


@pytest.mark.parametrize(
    ("params", "param"),
    [
        (lambda catalog: {"mode": "payment", "line_items": _monthly_item(catalog, quantity=1)}, "line_items"),
        (
            lambda catalog: {"mode": "subscription", "line_items": [{"price": "price_nope", "quantity": 1}]},
            "line_items[0][price]",
        ),
        (lambda catalog: {"mode": "subscription", "line_items": _monthly_item(catalog)}, "line_items[0][quantity]"),
        (lambda catalog: {"mode": "subscription"}, "line_items"),
        (lambda catalog: {"line_items": _monthly_item(catalog, quantity=1)}, "mode"),
    ],
    ids=["recurring-price-in-payment-mode", "unknown-price", "no-quantity", "no-line-items", "no-mode"],
)
def test_invalid_checkout_sessions_are_400_naming_the_param(stripe_sandbox, catalog, params, param):
    with pytest.raises(stripe.InvalidRequestError) as failure:
        stripe.checkout.Session.create(**params(catalog))

    assert failure.value.http_status == 400
    assert failure.value.param == param


def test_inactive_prices_and_mixed_customer_params_are_refused(stripe_sandbox, catalog, customer):
    stripe.Price.modify(catalog.credits.id, active=False)

    with pytest.raises(stripe.InvalidRequestError) as inactive:
        stripe.checkout.Session.create(mode="payment", line_items=[{"price": catalog.credits.id, "quantity": 1}])
    with pytest.raises(stripe.InvalidRequestError) as both:
        stripe.checkout.Session.create(
            mode="subscription",
            customer=customer.id,
            customer_email="x@example.com",
            line_items=[{"price": catalog.monthly.id, "quantity": 1}],
        )

    assert inactive.value.param == "line_items[0][price]"
    assert "inactive" in inactive.value.user_message
    assert "customer, customer_email" in both.value.user_message


def test_an_embedded_page_session_has_a_client_secret_and_no_url(stripe_sandbox, catalog):
    session = stripe.checkout.Session.create(
        mode="payment",
        ui_mode="embedded_page",
        line_items=[{"price": catalog.credits.id, "quantity": 1}],
        return_url="https://keel.test/billing/return?session={CHECKOUT_SESSION_ID}",
    )
    elements = stripe.checkout.Session.create(
        mode="subscription", ui_mode="elements", line_items=[{"price": catalog.monthly.id, "quantity": 1}]
    )

    opened = assert_stripe_shape(session, "checkout.session")
    completed = stripe_sandbox.complete_checkout(session.id)

    assert (opened["ui_mode"], opened["url"], opened["redirect_on_completion"]) == ("embedded_page", None, "always")
    assert opened["client_secret"].startswith(f"{session.id}_secret_")
    assert opened["return_url"] == "https://keel.test/billing/return?session={CHECKOUT_SESSION_ID}"
    assert (elements.ui_mode, elements.url, "return_url" in elements) == ("elements", None, False)
    assert elements.client_secret.startswith(f"{elements.id}_secret_")
    assert (completed["status"], completed["payment_status"]) == ("complete", "paid")


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"ui_mode": "hosted"}, "ui_mode"),
        ({"ui_mode": "embedded"}, "ui_mode"),
        ({"ui_mode": "embedded_page"}, "return_url"),
        ({"ui_mode": "embedded_page", "return_url": "https://keel.test/r", "success_url": SUCCESS_URL}, "success_url"),
        ({"ui_mode": "elements", "cancel_url": CANCEL_URL}, "cancel_url"),
        ({"return_url": "https://keel.test/r"}, "return_url"),
        ({"ui_mode": "form", "redirect_on_completion": "never"}, "redirect_on_completion"),
    ],
    ids=[
        "old-hosted",
        "old-embedded",
        "embedded-without-return-url",
        "embedded-with-success-url",
        "elements-with-cancel-url",
        "hosted-with-return-url",
        "form-with-redirect-on-completion",
    ],
)
def test_ui_modes_take_this_versions_values_and_urls(stripe_sandbox, catalog, params, param):
    with pytest.raises(stripe.InvalidRequestError) as failure:
        stripe.checkout.Session.create(
            mode="payment", line_items=[{"price": catalog.credits.id, "quantity": 1}], **params
        )

    assert (failure.value.http_status, failure.value.param) == (400, param)
