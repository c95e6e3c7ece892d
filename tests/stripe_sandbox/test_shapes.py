"""Every object the sandbox makes has the shape of Stripe's type for the API version it serves
(stripe_sandbox/schema.json): its templates, and every event a full billing history produces
with the object it carries. (The `stripe_sandbox` fixture also checks everything served.)"""

import pytest
import stripe

from stripe_sandbox import schema
from stripe_sandbox.expand import INCLUDABLE
from stripe_sandbox.shapes import NOT_SENT, fixture, template
from tests.stripe_sandbox.assertions import as_json, assert_stripe_shape

KINDS = sorted(schema.schema()["objects"].keys() - {"list"})


def object_kind(event_type: str) -> str:
    prefix = event_type.rsplit(".", 1)[0]
    return "subscription" if prefix == "customer.subscription" else prefix


@pytest.mark.parametrize("kind", [*KINDS, "deleted_customer"])
def test_every_template_has_the_shape_of_its_type(kind):
    assert [str(deviation) for deviation in schema.deviations(template(kind))] == []


@pytest.mark.parametrize(("kind", "path"), [(kind, path) for kind, paths in NOT_SENT.items() for path in paths])
def test_the_keys_templates_leave_out_are_not_in_the_version_or_only_sent_when_expanded(kind, path):
    *parents, key = path.split(".")
    example, restored = fixture(kind), template(kind)
    node, example_node = restored, example
    for parent in parents:
        node, example_node = node[parent], example_node[parent]
    assert key in example_node and key not in node
    node[key] = example_node[key]

    # With the example's key back, the template has a key this version does not declare,
    # or a field Stripe sends only on expand[] (that the sandbox's INCLUDABLE computes).
    problems = {(deviation.path, deviation.rule) for deviation in schema.deviations(restored)}
    assert (f"$.{path}", "unknown key") in problems or (kind, path) in INCLUDABLE


def test_the_fields_that_differ_between_api_versions(stripe_sandbox, subscription):
    invoice = as_json(stripe.Invoice.retrieve(subscription.latest_invoice))
    payment = stripe.InvoicePayment.list(invoice=invoice["id"]).data[0]
    charge = stripe.Charge.retrieve(stripe.PaymentIntent.retrieve(payment.payment.payment_intent).latest_charge)
    refund = as_json(stripe.Refund.create(charge=charge.id, amount=100))
    session = as_json(stripe.checkout.Session.list(limit=1).data[0])

    assert "subscription" not in invoice
    assert invoice["parent"]["subscription_details"]["subscription"] == subscription.id
    assert "refunds" not in as_json(stripe.Charge.retrieve(charge.id))
    assert "transaction_link_id" not in as_json(charge)["payment_method_details"]["card"]
    assert {"customer", "customer_account", "payment_method"}.isdisjoint(refund)
    assert refund["destination_details"]["card"]["reference"].isdigit()
    assert session["ui_mode"] == "hosted_page"


def test_every_event_and_its_object_have_stripes_shape(stripe_sandbox, catalog, subscription):
    coupon = stripe.Coupon.create(percent_off=20, duration="once")
    promotion_code = stripe.PromotionCode.create(promotion={"type": "coupon", "coupon": coupon.id}, code="SHAPES")
    stripe.PromotionCode.modify(promotion_code.id, metadata={"seen": "yes"})
    stripe.Coupon.modify(coupon.id, name="20% off")
    discounted = stripe.checkout.Session.create(
        mode="subscription",
        line_items=[{"price": catalog.monthly.id, "quantity": 1}],
        allow_promotion_codes=True,
        automatic_tax={"enabled": True},
    )
    stripe_sandbox.complete_checkout(discounted.id, promotion_code="shapes")
    assert stripe.checkout.Session.retrieve(discounted.id).total_details.amount_discount == 400
    credit_pack = stripe.checkout.Session.create(
        mode="payment", customer=subscription.customer, line_items=[{"price": catalog.credits.id, "quantity": 1}]
    )
    stripe_sandbox.complete_checkout(credit_pack.id)
    abandoned = stripe.checkout.Session.create(
        mode="payment", line_items=[{"price": catalog.credits.id, "quantity": 1}]
    )
    stripe_sandbox.cancel_checkout(abandoned.id)
    stripe.Refund.create(payment_intent=stripe.checkout.Session.retrieve(credit_pack.id).payment_intent, amount=100)
    stripe_sandbox.advance_subscription(subscription.id)
    stripe_sandbox.set_card_declines(subscription.customer)
    stripe_sandbox.advance_subscription(subscription.id)
    stripe.Subscription.modify(subscription.id, cancel_at_period_end=True)
    stripe.Subscription.delete(subscription.id)
    stripe.Price.modify(catalog.credits.id, active=False)
    stripe.Customer.delete(subscription.customer)
    stripe.Coupon.delete(coupon.id)

    events = list(stripe.Event.list(limit=100).auto_paging_iter())

    for event in events:
        shaped = assert_stripe_shape(event, "event")
        assert shaped["id"].startswith("evt_") and shaped["livemode"] is False
        assert shaped["data"]["object"]["object"] == object_kind(event.type)
        assert schema.type_of(shaped["data"]["object"]) == schema.schema()["events"][event.type]
    assert {event.type for event in events} == {
        "charge.failed",
        "charge.refunded",
        "charge.succeeded",
        "checkout.session.completed",
        "checkout.session.expired",
        "coupon.created",
        "coupon.deleted",
        "coupon.updated",
        "customer.created",
        "customer.deleted",
        "customer.subscription.created",
        "customer.subscription.deleted",
        "customer.subscription.updated",
        "customer.updated",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_failed",
        "invoice.payment_succeeded",
        "invoice.upcoming",
        "invoice.updated",
        "invoice_payment.paid",
        "payment_intent.created",
        "payment_intent.payment_failed",
        "payment_intent.succeeded",
        "payment_method.attached",
        "price.created",
        "price.updated",
        "product.created",
        "promotion_code.created",
        "promotion_code.updated",
        "refund.created",
    }
