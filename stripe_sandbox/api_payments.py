"""`/v1` routes for payment intents, charges and refunds."""

from . import errors, flows
from .formdata import merge_metadata
from .listing import list_endpoint, paginate

REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def retrieve_payment_intent(ctx, payment_intent_id: str) -> dict:
    ctx.params.reject_unknown("client_secret")
    return ctx.store.get(payment_intent_id, "payment_intent")


def update_payment_intent(ctx, payment_intent_id: str) -> dict:
    ctx.params.reject_unknown("metadata", "description", "receipt_email")
    payment_intent = ctx.store.get(payment_intent_id, "payment_intent")
    payment_intent["metadata"] = merge_metadata(payment_intent["metadata"], ctx.params.metadata())
    for key in ("description", "receipt_email"):
        if key in ctx.params:
            payment_intent[key] = ctx.params.text(key)
    return payment_intent


def list_payment_intents(ctx) -> dict:
    customer = ctx.params.text("customer")
    return list_endpoint(
        ctx,
        "payment_intent",
        "/v1/payment_intents",
        filters=("customer",),
        where=lambda pi: customer is None or pi["customer"] == customer,
    )


def retrieve_charge(ctx, charge_id: str) -> dict:
    ctx.params.reject_unknown()
    return ctx.store.get(charge_id, "charge")


def update_charge(ctx, charge_id: str) -> dict:
    ctx.params.reject_unknown("metadata", "description", "receipt_email")
    charge = ctx.store.get(charge_id, "charge")
    with ctx.store.updating(charge, "charge.updated", ctx.request):
        charge["metadata"] = merge_metadata(charge["metadata"], ctx.params.metadata())
        for key in ("description", "receipt_email"):
            if key in ctx.params:
                charge[key] = ctx.params.text(key)
    return charge


def list_charges(ctx) -> dict:
    customer = ctx.params.text("customer")
    payment_intent = ctx.params.text("payment_intent")
    return list_endpoint(
        ctx,
        "charge",
        "/v1/charges",
        filters=("customer", "payment_intent"),
        where=lambda c: (
            (customer is None or c["customer"] == customer)
            and (payment_intent is None or c["payment_intent"] == payment_intent)
        ),
    )


def list_charge_refunds(ctx, charge_id: str) -> dict:
    ctx.store.get(charge_id, "charge")
    ctx.params.reject_unknown("limit", "starting_after", "ending_before")
    refunds = ctx.store.all("refund", lambda refund: refund["charge"] == charge_id)
    return paginate(refunds, ctx.params, f"/v1/charges/{charge_id}/refunds", "refund")


def create_refund(ctx) -> dict:
    params = ctx.params
    params.reject_unknown("charge", "payment_intent", "amount", "reason", "metadata")
    charge_id, payment_intent_id = params.text("charge"), params.text("payment_intent")
    if bool(charge_id) == bool(payment_intent_id):
        raise errors.invalid("You must pass exactly one of charge or payment_intent.")
    if charge_id:
        charge = ctx.store.get(charge_id, "charge", param="charge", status=400)
    else:
        payment_intent = ctx.store.get(payment_intent_id, "payment_intent", param="payment_intent", status=400)
        if payment_intent["status"] != "succeeded":
            raise errors.invalid(
                f"This PaymentIntent ({payment_intent_id}) does not have a successful charge to refund.",
                "payment_intent",
            )
        charge = ctx.store.get(payment_intent["latest_charge"], "charge")
    return flows.refund_charge(
        ctx,
        charge,
        amount=params.integer("amount", minimum=1),
        reason=params.text("reason", choices=REFUND_REASONS),
        metadata=params.metadata() or {},
    )


def retrieve_refund(ctx, refund_id: str) -> dict:
    ctx.params.reject_unknown()
    return ctx.store.get(refund_id, "refund")


def update_refund(ctx, refund_id: str) -> dict:
    ctx.params.reject_unknown("metadata")
    refund = ctx.store.get(refund_id, "refund")
    with ctx.store.updating(refund, "refund.updated", ctx.request):
        refund["metadata"] = merge_metadata(refund["metadata"], ctx.params.metadata())
    return refund


def list_refunds(ctx) -> dict:
    charge = ctx.params.text("charge")
    payment_intent = ctx.params.text("payment_intent")
    return list_endpoint(
        ctx,
        "refund",
        "/v1/refunds",
        filters=("charge", "payment_intent"),
        where=lambda r: (
            (charge is None or r["charge"] == charge)
            and (payment_intent is None or r["payment_intent"] == payment_intent)
        ),
    )


ROUTES = [
    ("GET", "/v1/payment_intents", list_payment_intents),
    ("GET", "/v1/payment_intents/{payment_intent_id}", retrieve_payment_intent),
    ("POST", "/v1/payment_intents/{payment_intent_id}", update_payment_intent),
    ("GET", "/v1/charges", list_charges),
    ("GET", "/v1/charges/{charge_id}", retrieve_charge),
    ("POST", "/v1/charges/{charge_id}", update_charge),
    ("GET", "/v1/charges/{charge_id}/refunds", list_charge_refunds),
    ("POST", "/v1/refunds", create_refund),
    ("GET", "/v1/refunds", list_refunds),
    ("GET", "/v1/refunds/{refund_id}", retrieve_refund),
    ("POST", "/v1/refunds/{refund_id}", update_refund),
]
