"""`/_sandbox` routes: what a test (or a developer with curl) does that a customer or
Stripe's clock would do in real life. They take form or JSON bodies and need no API key."""

from . import discounts, errors, flows
from .api_catalog import live_customer
from .objects import deleted_object
from .payment_objects import CHARGE_FAILS_CARD, SUCCEEDING_CARD, card_number_from_input


def reset(ctx) -> dict:
    ctx.app.on_reset()
    return {"reset": True}


def list_deliveries(ctx) -> dict:
    deliveries = ctx.app.deliverer.deliveries()
    return {
        "object": "list",
        "data": deliveries,
        "pending": sum(delivery["state"] == "pending" for delivery in deliveries),
    }


def card_number(ctx) -> str:
    number = card_number_from_input(ctx.params.text("card"))
    if number is None:
        raise errors.StripeError(402, "Your card number is incorrect.", type="card_error", code="incorrect_number")
    return number


def complete_checkout(ctx, session_id: str) -> dict:
    ctx.params.reject_unknown("card", "email", "name", "promotion_code")
    session = ctx.store.get(session_id, "checkout.session")
    with ctx.store.at(flows.customer_time(ctx.store, session["customer"])):
        return discounts.complete_checkout(
            ctx,
            session,
            promotion_code=ctx.params.text("promotion_code"),
            card_number=card_number(ctx),
            email=ctx.params.text("email"),
            name=ctx.params.text("name"),
        )


def cancel_checkout(ctx, session_id: str) -> dict:
    # Stripe expires an abandoned session after 24 hours; the sandbox does it at once so
    # that checkout.session.expired can be tested.
    ctx.params.reject_unknown()
    return flows.expire_checkout(ctx, ctx.store.get(session_id, "checkout.session"))


def advance_subscription(ctx, subscription_id: str) -> dict:
    ctx.params.reject_unknown()
    subscription = ctx.store.get(subscription_id, "subscription")
    flows.advance_subscription(ctx, subscription)
    return subscription


def set_customer_card(ctx, customer_id: str) -> dict:
    """The customer replaces their card (as in the billing portal): the new card becomes the
    default of the customer and of their subscriptions. `declines=true` gives a card that
    attaches but fails every charge."""
    ctx.params.reject_unknown("declines")
    customer = live_customer(ctx, customer_id)
    declines = ctx.params.boolean("declines", default=False)
    payment_method = flows.attach_card(ctx, customer, CHARGE_FAILS_CARD if declines else SUCCEEDING_CARD)
    with ctx.store.updating(customer, "customer.updated", ctx.request):
        customer["invoice_settings"]["default_payment_method"] = payment_method["id"]
    for subscription in ctx.store.all("subscription", lambda sub: sub["customer"] == customer_id):
        if subscription["status"] not in flows.ENDED_STATUSES:
            with ctx.store.updating(subscription, "customer.subscription.updated", ctx.request):
                subscription["default_payment_method"] = payment_method["id"]
    return payment_method


def billing_settings(ctx) -> dict:
    """The account's Billing settings the clock follows (reset restores the defaults):
    `upcoming_renewal_days`, `retry_days` (comma-separated days after each failed attempt),
    `subscription_after_retries` (canceled, unpaid, past_due) and `invoice_after_retries`
    (past_due, uncollectible)."""
    params, settings = ctx.params, ctx.store.settings
    params.reject_unknown("upcoming_renewal_days", "retry_days", "subscription_after_retries", "invoice_after_retries")
    if "upcoming_renewal_days" in params:
        settings.upcoming_renewal_days = params.integer("upcoming_renewal_days", minimum=1)
    if "retry_days" in params:
        settings.retry_days = parse_retry_days(params.text("retry_days") or "")
    if "subscription_after_retries" in params:
        settings.subscription_after_retries = params.text(
            "subscription_after_retries", choices=settings.SUBSCRIPTION_OUTCOMES
        )
    if "invoice_after_retries" in params:
        settings.invoice_after_retries = params.text("invoice_after_retries", choices=settings.INVOICE_OUTCOMES)
    return {
        "upcoming_renewal_days": settings.upcoming_renewal_days,
        "retry_days": list(settings.retry_days),
        "subscription_after_retries": settings.subscription_after_retries,
        "invoice_after_retries": settings.invoice_after_retries,
    }


def parse_retry_days(text: str) -> tuple[int, ...]:
    """`3,5,7`: up to four retries, each a number of days (1 to 30) after the attempt before."""
    try:
        days = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise errors.invalid("retry_days must be comma-separated whole days, e.g. 3,5,7.", "retry_days") from None
    if len(days) > 4 or any(not 1 <= day <= 30 for day in days):
        raise errors.invalid("Up to 4 retries, each 1 to 30 days after the previous attempt.", "retry_days")
    return days


def delete_price(ctx, price_id: str) -> dict:
    # The API cannot delete prices; the Dashboard can, and then Stripe sends price.deleted.
    ctx.params.reject_unknown()
    price = ctx.store.get(price_id, "price")
    ctx.store.remove(price_id)
    ctx.store.emit("price.deleted", price, ctx.request)
    return deleted_object(price)


ROUTES = [
    ("POST", "/_sandbox/reset", reset),
    ("GET", "/_sandbox/deliveries", list_deliveries),
    ("POST", "/_sandbox/checkout/sessions/{session_id}/complete", complete_checkout),
    ("POST", "/_sandbox/checkout/sessions/{session_id}/cancel", cancel_checkout),
    ("POST", "/_sandbox/subscriptions/{subscription_id}/advance", advance_subscription),
    ("POST", "/_sandbox/customers/{customer_id}/card", set_customer_card),
    ("DELETE", "/_sandbox/prices/{price_id}", delete_price),
    ("POST", "/_sandbox/settings", billing_settings),
]
