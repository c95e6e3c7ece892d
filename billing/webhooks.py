"""dj-stripe's webhook intake, and what Keel does with each event (docs/billing.md).

dj-stripe verifies the signature, stores the event and re-fetches the object, then calls
these receivers inside the same transaction: an exception rolls everything back and
answers 500, so Stripe retries. Effects are idempotent and order-independent (see
billing/services/fulfilment.py). An event Keel cannot attribute, of another API version
or of the other mode is recorded in `billing_event_problems` and acknowledged, so Stripe
does not retry it for days.
"""

from django.conf import settings
from djstripe.event_handlers import djstripe_receiver

from audit.context import acting_as
from audit.models import ActorKind
from billing.services import fulfilment, prices

HANDLED = {
    "checkout.session.completed": lambda obj: fulfilment.checkout_session_fulfil(obj["id"]),
    "checkout.session.async_payment_succeeded": lambda obj: fulfilment.checkout_session_fulfil(obj["id"]),
    "customer.subscription.created": lambda obj: fulfilment.subscription_sync(obj["id"]),
    "customer.subscription.updated": lambda obj: fulfilment.subscription_sync(obj["id"]),
    "customer.subscription.deleted": lambda obj: fulfilment.subscription_sync(obj["id"]),
    "invoice.paid": lambda obj: fulfilment.invoice_paid(obj["id"]),
    "invoice.payment_failed": lambda obj: fulfilment.invoice_payment_failed(obj["id"]),
    "charge.refunded": lambda obj: fulfilment.charge_refunded(obj["id"]),
    "price.created": lambda obj: prices.price_upsert(obj),
    "price.updated": lambda obj: prices.price_upsert(obj),
    "price.deleted": lambda obj: prices.price_deactivate(obj["id"]),
    "product.created": lambda obj: prices.product_refresh(obj),
    "product.updated": lambda obj: prices.product_refresh(obj),
    "product.deleted": lambda obj: prices.product_refresh(dict(obj, active=False)),
}


def refusal(event) -> str | None:
    if event.api_version != settings.STRIPE_API_VERSION:
        return f"API version {event.api_version}, Keel speaks {settings.STRIPE_API_VERSION}"
    if bool(event.livemode) != bool(settings.STRIPE_LIVE_MODE):
        return f"livemode={event.livemode} sent to a site with STRIPE_LIVE_MODE={settings.STRIPE_LIVE_MODE}"
    return None


@djstripe_receiver(list(HANDLED))
def apply_event(sender, event, **kwargs):
    # Stripe is who changed what an event changes (docs/audit.md), whoever's request it follows.
    with acting_as(kind=ActorKind.STRIPE, label="Stripe"):
        _apply(event)


def _apply(event) -> None:
    problem = refusal(event)
    if problem is None:
        try:
            HANDLED[event.type](event.data["object"])
        except fulfilment.Unattributable as exc:
            problem = str(exc)
        except Exception as exc:
            if not fulfilment.is_missing(exc):
                raise  # rolled back; Stripe retries
            problem = f"the object is gone at Stripe: {exc}"
    if problem is not None:
        fulfilment.record_problem(event_id=event.id, event_type=event.type, problem=problem)
