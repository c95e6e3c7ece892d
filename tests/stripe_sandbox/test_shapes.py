"""Every event a full billing history produces, and the object it carries, has Stripe's shape."""

import stripe

from tests.stripe_sandbox.assertions import assert_stripe_shape


def object_kind(event_type: str) -> str:
    prefix = event_type.rsplit(".", 1)[0]
    return "subscription" if prefix == "customer.subscription" else prefix


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
        obj = shaped["data"]["object"]
        if event.type == "invoice.upcoming":
            # Stripe: "The received Invoice object will not have an invoice ID."
            assert "id" not in obj
            obj = dict(obj, id="upcoming")
        assert_stripe_shape(obj, object_kind(event.type))
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
