"""Refunds staff make from the admin (docs/billing.md): the refund is made at Stripe, and
its effect on credits is the one `charge.refunded` applies, run at once (idempotent)."""

import stripe

from billing.models import Invoice, Lifetime
from billing.services import fulfilment
from billing.stripe_api import PaymentProviderError, client
from core.errors import PermissionDenied, ValidationFailed


def _require_staff(staff) -> None:
    if not getattr(staff, "is_staff", False):
        raise PermissionDenied("Only a site operator can refund a payment.", code="not_staff")


def _refund_charge(charge_id: str, *, staff) -> list:
    api = client().v1
    try:
        charge = api.charges.retrieve(charge_id)
        if charge.amount_refunded >= charge.amount:
            raise ValidationFailed("This payment is already refunded in full.", code="already_refunded")
        api.refunds.create(
            params={
                "charge": charge_id,
                "reason": "requested_by_customer",
                "metadata": {"keel_staff_id": str(staff.pk)},
            },
            options={"idempotency_key": f"keel-refund-{charge_id}-{charge.amount_refunded}"},
        )
    except stripe.StripeError as exc:
        raise PaymentProviderError() from exc
    return fulfilment.charge_refunded(charge_id)


def invoice_refund(*, invoice: Invoice, staff) -> list:
    """Refund what is left of an invoice's payment; its grant gives back the same share."""
    _require_staff(staff)
    charges = fulfilment._invoice_charges(invoice.provider_invoice_id)
    if not charges:
        raise ValidationFailed("This invoice was not paid with a charge.", code="no_charge")
    return [reversal for charge_id in charges for reversal in _refund_charge(charge_id, staff=staff)]


def lifetime_refund(*, lifetime: Lifetime, staff) -> list:
    """Refund a lifetime deal in full: the deal ends and its remaining credits go."""
    _require_staff(staff)
    try:
        intent = client().v1.payment_intents.retrieve(lifetime.provider_payment_intent_id)
    except stripe.StripeError as exc:
        raise PaymentProviderError() from exc
    if not intent.latest_charge:
        raise ValidationFailed("This lifetime deal was not paid with a charge.", code="no_charge")
    return _refund_charge(fulfilment._id(intent.latest_charge), staff=staff)
