"""What a payment does in Keel (docs/billing.md, "Webhook effects").

Every effect reads the object afresh from Stripe while it holds the organization's row
lock, so deliveries that race or arrive out of order apply in lock order with the newest
state, and each money effect is keyed on its business object by a unique constraint: one
grant per paid invoice, one per paid checkout session, one lifetime deal per session, one
reversal per refund. Run them once or many times, in any order: the result is the same.

The webhook receivers (billing/webhooks.py), the checkout success page and
`billing_reconcile` all call these functions.
"""

import logging
import uuid
from dataclasses import dataclass

import stripe
from django.db import transaction

from accounts.models import User
from audit.services import audit_record
from billing import emails
from billing.models import EventProblem, Invoice, Lifetime, Price, RefundReversal, Subscription, SubscriptionStatus
from billing.plans import Plan, PlanKind, plan_from_metadata
from billing.services.prices import price_upsert
from billing.stripe_api import client
from core.errors import ValidationFailed
from core.locks import lock_row
from core.time import now_ms
from credits.models import Credit, CreditMode
from credits.services import credits_grant, credits_reverse
from organizations.models import Tenant

logger = logging.getLogger("keel.billing")

DAY_MS = 24 * 60 * 60 * 1000

# Stripe's subscription statuses on the spec's four (docs/billing.md).
STATUS_MAP = {
    "active": SubscriptionStatus.ACTIVE,
    "trialing": SubscriptionStatus.ACTIVE,
    "past_due": SubscriptionStatus.PAST_DUE,
    # Retries are over but the subscription is not canceled: it still owes, Stripe decides.
    "unpaid": SubscriptionStatus.PAST_DUE,
    "incomplete": SubscriptionStatus.PENDING,
    "paused": SubscriptionStatus.PENDING,
    "incomplete_expired": SubscriptionStatus.CANCELED,
    "canceled": SubscriptionStatus.CANCELED,
}
PAID_SESSION_STATUSES = ("paid", "no_payment_required")


class Unattributable(Exception):
    """The object names no organization or user Keel knows: recorded, not applied."""


@dataclass(frozen=True)
class Owner:
    tenant: Tenant
    user: User


def _ms(seconds: int | None) -> int | None:
    return None if seconds is None else int(seconds) * 1000


def _json(obj) -> dict:
    return obj.to_dict(for_json=True) if hasattr(obj, "to_dict") else dict(obj)


def owner_from_metadata(metadata: dict | None) -> Owner:
    """The organization and user a checkout wrote into Stripe's metadata."""
    metadata = metadata or {}
    try:
        tenant_id = uuid.UUID(str(metadata.get("keel_tenant_id")))
        user_id = uuid.UUID(str(metadata.get("keel_user_id")))
    except ValueError:
        raise Unattributable("its metadata names no Keel organization and user") from None
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    user = User.objects.filter(pk=user_id).first()
    if tenant is None or user is None:
        raise Unattributable(f"organization {tenant_id} or user {user_id} does not exist")
    return Owner(tenant, user)


def record_problem(*, event_id: str, event_type: str, problem: str) -> None:
    logger.warning("stripe event %s (%s) not applied: %s", event_id, event_type, problem)
    EventProblem.objects.bulk_create(
        [EventProblem(event_id=event_id, event_type=event_type, problem=problem[:2000])], ignore_conflicts=True
    )


def price_plan(provider_price_id: str) -> tuple[Price, Plan]:
    """The price (synced if Keel has not seen it yet) and the plan its metadata describes."""
    price = Price.objects.filter(provider="stripe", provider_price_id=provider_price_id).first()
    if price is None:
        price = price_upsert(client().v1.prices.retrieve(provider_price_id, params={"expand": ["product"]}))
    try:
        return price, plan_from_metadata(price.metadata, price_type=price.type)
    except ValidationFailed as exc:
        raise Unattributable(f"price {provider_price_id} is not a plan: {exc.detail}") from None


def _lock(owner: Owner) -> None:
    lock_row(Tenant, owner.tenant.pk, fields=["id"])


# Subscriptions


def subscription_sync(subscription_id: str) -> Subscription:
    """The `subscriptions` row of a Stripe subscription, as Stripe has it now."""
    with transaction.atomic():
        first = client().v1.subscriptions.retrieve(subscription_id)
        owner = owner_from_metadata(first.metadata)
        _lock(owner)
        # Read again under the lock: a later writer always writes a later state. The latest
        # invoice comes expanded: a past-due page links to its hosted page to pay.
        latest = client().v1.subscriptions.retrieve(subscription_id, params={"expand": ["latest_invoice"]})
        return _subscription_write(owner, latest)


# What the audit log compares between a subscription's row before and after a sync.
_AUDITED = ("status", "plan_id", "provider_price_id", "current_period_end", "canceled_at", "cancel_at_period_end")


def _audited_state(values: dict, raw: dict) -> dict:
    state = {field: values[field] for field in _AUDITED if field != "cancel_at_period_end"}
    return state | {"cancel_at_period_end": bool(raw.get("cancel_at_period_end"))}


def _subscription_action(before: dict | None, after: dict) -> str | None:
    """The one audit action a sync is (docs/audit.md), or None when nothing it tracks changed."""
    if before is None:
        return "subscription.created"
    if before == after:
        return None
    if after["status"] == SubscriptionStatus.CANCELED and before["status"] != SubscriptionStatus.CANCELED:
        return "subscription.canceled"
    if after["provider_price_id"] != before["provider_price_id"]:
        return "subscription.plan_changed"
    if after["cancel_at_period_end"] != before["cancel_at_period_end"]:
        return "subscription.cancel_scheduled" if after["cancel_at_period_end"] else "subscription.cancel_withdrawn"
    if (after["current_period_end"] or 0) > (before["current_period_end"] or 0):
        return "subscription.renewed"
    return "subscription.status_changed" if after["status"] != before["status"] else "subscription.updated"


def _subscription_write(owner: Owner, sub) -> Subscription:
    data = _json(sub)
    item = data["items"]["data"][0]
    price = item["price"]
    plan_id = (price.get("metadata") or {}).get("plan_id") or data["metadata"].get("keel_plan_id", "")
    values = {
        "provider": "stripe",
        "user": owner.user,
        "tenant": owner.tenant,
        "plan_id": plan_id,
        "status": STATUS_MAP.get(data["status"], SubscriptionStatus.PENDING),
        "amount": (price.get("unit_amount") or 0) * (item.get("quantity") or 1),
        "currency": data["currency"],
        "provider_customer_id": data["customer"],
        "provider_price_id": price["id"],
        "current_period_start": _ms(item.get("current_period_start")),
        "current_period_end": _ms(item.get("current_period_end")),
        "canceled_at": _ms(data.get("canceled_at")),
        "raw_data": data,
        "updated_at": now_ms(),
    }
    # Read before the write, under the organization's lock (which every writer of the row holds),
    # for the audit row; the row returned is this one as updated, so no read follows.
    existing = Subscription.objects.filter(provider_subscription_id=data["id"]).first()
    before = None if existing is None else _audited_state(existing.__dict__, existing.raw_data or {})
    [row] = Subscription.objects.bulk_create(
        [Subscription(provider_subscription_id=data["id"], **values)],
        update_conflicts=True,
        unique_fields=["provider_subscription_id"],
        update_fields=[key for key in values if key not in ("user", "tenant")],
    )
    if existing is not None:
        for key, value in values.items():
            if key not in ("user", "tenant"):
                setattr(existing, key, value)
        row = existing
    after = _audited_state(values, data)
    action = _subscription_action(before, after)
    if action is not None:
        changed = [field for field in _AUDITED if before is None or before[field] != after[field]]
        audit_record(
            action=action,
            tenant=owner.tenant,
            target_type="subscription",
            target_id=data["id"],
            target_label=plan_id or price["id"],
            before=None if before is None else {field: before[field] for field in changed},
            after={field: after[field] for field in changed},
        )
    return row


# Checkout sessions


def checkout_session_fulfil(session_id: str) -> str:
    """Apply a completed, paid checkout session: a pack's credits, a lifetime deal and its
    credits, or the subscription's row. Returns what it did (for the success page)."""
    api = client().v1
    session = api.checkout.sessions.retrieve(session_id, params={"expand": ["line_items", "payment_intent"]})
    if session.status != "complete" or session.payment_status not in PAID_SESSION_STATUSES:
        return "pending"
    owner = owner_from_metadata(session.metadata)
    if session.mode == "subscription":
        subscription_sync(session.subscription)
        return "subscription"
    line = session.line_items.data[0]
    price, plan = price_plan(line.price.id)
    payment_intent = session.payment_intent
    # Credits expire N days after the payment (Stripe's time, whenever Keel hears of it).
    paid_at = _ms(payment_intent.created) if payment_intent else _ms(session.created)
    quantity = line.quantity or 1
    with transaction.atomic():
        _lock(owner)
        # Under the lock, whether this is the session's first fulfilment (its audit row's).
        if plan.kind == PlanKind.LIFETIME:
            first_time = not Lifetime.objects.filter(provider_checkout_session_id=session.id).exists()
        else:
            first_time = not Credit.objects.filter(source_type="checkout_session", source_id=session.id).exists()
        if plan.kind == PlanKind.LIFETIME:
            Lifetime.objects.bulk_create(
                [
                    Lifetime(
                        user=owner.user,
                        tenant=owner.tenant,
                        plan_id=plan.plan_id,
                        amount=session.amount_total or 0,
                        currency=session.currency,
                        provider_price_id=price.provider_price_id,
                        provider_customer_id=session.customer or "",
                        provider_payment_intent_id=payment_intent.id if payment_intent else "",
                        provider_checkout_session_id=session.id,
                        raw_data=_json(session),
                    )
                ],
                ignore_conflicts=True,
            )
        mode = CreditMode.ONE_TIME_LIFETIME if plan.kind == PlanKind.LIFETIME else CreditMode.ONE_TIME_CREDITS
        _grant(
            owner,
            plan,
            price,
            credits=plan.credits * quantity,
            mode=mode,
            source_type="checkout_session",
            source_id=session.id,
            expires_at=paid_at + plan.expires_days * DAY_MS if plan.expires_days else None,
            amount_cents=session.amount_total or 0,
            currency=session.currency,
            customer=session.customer or "",
            description=f"{price.product_name or plan.plan_id} ({session.id})",
        )
        if first_time:
            audit_record(
                action="lifetime.purchased" if plan.kind == PlanKind.LIFETIME else "checkout.completed",
                tenant=owner.tenant,
                target_type="checkout_session",
                target_id=session.id,
                target_label=price.product_name or plan.plan_id,
                after={
                    "plan_id": plan.plan_id,
                    "kind": plan.kind,
                    "credits": plan.credits * quantity,
                    "amount": session.amount_total or 0,
                    "currency": session.currency,
                },
            )
        # A refund that arrived before this grant existed is taken back now.
        if payment_intent and payment_intent.latest_charge:
            charge_refunded(_id(payment_intent.latest_charge))
    return plan.kind


def _grant(owner: Owner, plan: Plan, price: Price, *, credits: int, **fields) -> Credit | None:
    if credits <= 0:
        return None
    return credits_grant(
        tenant=owner.tenant,
        user=owner.user,
        amount=credits,
        mode=fields["mode"],
        source_type=fields["source_type"],
        source_id=fields["source_id"],
        priority=plan.priority,
        expires_at=fields["expires_at"],
        plan_id=plan.plan_id,
        provider_price_id=price.provider_price_id,
        provider_customer_id=fields["customer"],
        amount_cents=fields["amount_cents"],
        currency=fields["currency"],
        provider="stripe",
        description=fields["description"],
    )


# Invoices


def _subscription_lines(invoice: dict) -> list[dict]:
    lines = []
    for line in invoice["lines"]["data"]:
        details = (line.get("parent") or {}).get("subscription_item_details")
        if details is not None:
            lines.append(line | {"_proration": details["proration"]})
    return lines


def _line_price_id(line: dict) -> str | None:
    return ((line.get("pricing") or {}).get("price_details") or {}).get("price")


def invoice_owner(invoice: dict) -> Owner:
    details = (invoice.get("parent") or {}).get("subscription_details")
    if not details:
        raise Unattributable("the invoice belongs to no subscription")
    return owner_from_metadata(details.get("metadata"))


def main_line(lines: list[dict]) -> dict | None:
    """The line that says what an invoice is for: its period's, else (a plan change) the
    largest proration, the new price's."""
    period_lines = [line for line in lines if not line["_proration"]]
    if period_lines:
        return period_lines[0]
    return max(lines, key=lambda line: line["amount"], default=None)


@dataclass(frozen=True)
class InvoiceCredits:
    price: Price
    plan: Plan
    credits: int
    expires_at: int | None


def invoice_credits(invoice: dict) -> InvoiceCredits | None:
    """What a paid invoice grants: a period's credits for a subscription's first or renewal
    invoice (a trial's $0 invoice only the price's `trial_credits`), the credits of the
    prorated difference for a plan change; None for anything else."""
    lines = _subscription_lines(invoice)
    period_lines = [line for line in lines if not line["_proration"]]
    main = main_line(lines)
    price_id = _line_price_id(main) if main else None
    if price_id is None:
        return None
    price, plan = price_plan(price_id)
    reason = invoice["billing_reason"]
    if reason in ("subscription_create", "subscription_cycle") and period_lines:
        trial = all(line["amount"] == 0 for line in period_lines)
        credits = plan.trial_credits if trial else plan.credits * (main.get("quantity") or 1)
        end = main["period"]["end"]
    elif reason == "subscription_update":
        credits = _prorated_credits(lines)
        end = max(line["period"]["end"] for line in lines)
    else:
        return None
    return InvoiceCredits(price, plan, credits, _ms(end))


def invoice_paid(invoice_id: str) -> Invoice | None:
    """A paid invoice: its `invoices` row and the credits it buys (invoice_credits)."""
    with transaction.atomic():
        invoice = _json(client().v1.invoices.retrieve(invoice_id))
        owner = invoice_owner(invoice)
        _lock(owner)
        invoice = _json(client().v1.invoices.retrieve(invoice_id))
        if invoice["status"] != "paid":
            return None
        main = main_line(_subscription_lines(invoice))
        first_time = not Invoice.objects.filter(provider_invoice_id=invoice["id"]).exists()
        row = _invoice_write(owner, invoice, _line_price_id(main) if main else None)
        bought = invoice_credits(invoice)
        if first_time:
            audit_record(
                action="invoice.paid",
                tenant=owner.tenant,
                target_type="invoice",
                target_id=invoice["id"],
                target_label=invoice.get("number") or invoice["id"],
                after={
                    "amount": invoice["amount_paid"],
                    "currency": invoice["currency"],
                    "billing_reason": invoice.get("billing_reason") or "",
                    "credits": bought.credits if bought else 0,
                },
            )
        if first_time and invoice["amount_paid"] > 0:
            emails.receipt_send(
                user=owner.user,
                tenant=owner.tenant,
                invoice=invoice,
                plan_name=(bought.price.product_name or bought.plan.plan_id) if bought else "your plan",
                credits=bought.credits if bought else 0,
            )
        if bought is not None:
            _grant(
                owner,
                bought.plan,
                bought.price,
                credits=bought.credits,
                mode=CreditMode.SUBSCRIPTION,
                source_type="invoice",
                source_id=invoice["id"],
                expires_at=bought.expires_at,
                amount_cents=invoice["amount_paid"],
                currency=invoice["currency"],
                customer=invoice["customer"],
                description=f"{bought.price.product_name or bought.plan.plan_id} "
                f"({invoice.get('number') or invoice['id']})",
            )
            for charge_id in _invoice_charges(invoice["id"]):
                charge_refunded(charge_id)
        return row


def _id(value) -> str:
    return value if isinstance(value, str) else value["id"]


def _invoice_charges(invoice_id: str) -> list[str]:
    """The charges that paid an invoice, through its invoice payments' payment intents."""
    api = client().v1
    charges = []
    for payment in api.invoice_payments.list(params={"invoice": invoice_id, "limit": 10}).data:
        intent_id = payment.payment.payment_intent if payment.payment else None
        if intent_id:
            intent = api.payment_intents.retrieve(_id(intent_id))
            if intent.latest_charge:
                charges.append(_id(intent.latest_charge))
    return charges


def _prorated_credits(lines: list[dict]) -> int:
    """The credits a plan change's proration lines are worth: each line's plan credits
    times the share of the price's full amount the line bills (negative for the unused
    time of the old plan)."""
    total = 0.0
    for line in lines:
        price_id = _line_price_id(line)
        if not line["_proration"] or price_id is None:
            continue
        price, plan = price_plan(price_id)
        full = (price.unit_amount or 0) * (line.get("quantity") or 1)
        if full:
            total += plan.credits * (line.get("quantity") or 1) * line["amount"] / full
    return round(total)


def _invoice_write(owner: Owner, invoice: dict, price_id: str | None) -> Invoice:
    plan_id = ""
    if price_id:
        price = Price.objects.filter(provider="stripe", provider_price_id=price_id).first()
        plan_id = (price.metadata.get("plan_id") if price else "") or ""
    paid_at = (invoice.get("status_transitions") or {}).get("paid_at")
    values = {
        "provider": "stripe",
        "user": owner.user,
        "tenant": owner.tenant,
        "plan_id": plan_id,
        "amount": invoice["amount_paid"],
        "currency": invoice["currency"],
        "billing_reason": invoice.get("billing_reason") or "",
        "provider_price_id": price_id or "",
        "provider_customer_id": invoice["customer"],
        "invoice_pdf": invoice.get("invoice_pdf") or "",
        "hosted_invoice_url": invoice.get("hosted_invoice_url") or "",
        "raw_data": invoice,
        "paid_at": _ms(paid_at),
    }
    Invoice.objects.bulk_create(
        [Invoice(provider_invoice_id=invoice["id"], **values)],
        update_conflicts=True,
        unique_fields=["provider_invoice_id"],
        update_fields=[key for key in values if key not in ("user", "tenant")],
    )
    return Invoice.objects.get(provider_invoice_id=invoice["id"])


def invoice_payment_failed(invoice_id: str) -> int:
    """Tell the organization's owners, with the link to pay. The subscription's status
    (past_due) comes with its own event; access and credits go on until Stripe cancels."""
    invoice = _json(client().v1.invoices.retrieve(invoice_id))
    owner = invoice_owner(invoice)
    if invoice["status"] != "open":
        return 0  # paid (or voided) since
    return emails.payment_failed_send(tenant=owner.tenant, invoice=invoice)


# Refunds


def _payment_grant(payment_intent_id: str) -> Credit | None:
    """The grant a payment bought: its checkout session's, or its invoice's."""
    api = client().v1
    sessions = api.checkout.sessions.list(params={"payment_intent": payment_intent_id, "limit": 1}).data
    sources = [session.id for session in sessions]
    payments = api.invoice_payments.list(
        params={"payment": {"type": "payment_intent", "payment_intent": payment_intent_id}, "limit": 1}
    ).data
    sources += [payment.invoice for payment in payments]
    return Credit.objects.filter(provider="stripe", source_id__in=sources).first()


def _keel_payment(payment_intent_id: str) -> bool:
    api = client().v1
    if (api.payment_intents.retrieve(payment_intent_id).metadata or {}).get("keel_tenant_id"):
        return True
    payments = api.invoice_payments.list(
        params={"payment": {"type": "payment_intent", "payment_intent": payment_intent_id}, "limit": 1}
    ).data
    if not payments:
        return False
    invoice = _json(api.invoices.retrieve(payments[0].invoice))
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    return bool((details.get("metadata") or {}).get("keel_tenant_id"))


def charge_refunded(charge_id: str) -> list[RefundReversal]:
    """Each refund of the charge takes back its share of the credits the payment granted
    (all that is left for a full refund), capped at what is left of that grant; once per
    refund. A lifetime deal refunded in full ends."""
    api = client().v1
    charge = api.charges.retrieve(charge_id)
    if not charge.payment_intent:
        return []
    grant = _payment_grant(_id(charge.payment_intent))
    if grant is None:
        # Not granted yet (the grant, when it comes, takes the refund back), or not Keel's.
        if not _keel_payment(_id(charge.payment_intent)):
            raise Unattributable(f"payment {_id(charge.payment_intent)} bought nothing in Keel")
        return []
    made = []
    with transaction.atomic():
        lock_row(Tenant, grant.tenant_id, fields=["id"])
        charge = api.charges.retrieve(charge_id)
        refunds = sorted(
            api.refunds.list(params={"charge": charge_id, "limit": 100}).data, key=lambda refund: refund.created
        )
        refunded_before = 0
        for refund in refunds:
            if refund.status not in ("succeeded", "pending"):
                continue
            refunded_before += refund.amount
            if RefundReversal.objects.filter(provider_refund_id=refund.id).exists():
                continue
            full = refunded_before >= charge.amount
            share = None if full else max(1, round(grant.total_credits * refund.amount / charge.amount))
            taken = credits_reverse(credit=grant, description=f"Refund {refund.id}", amount=share)
            # Unique: a second reversal of this refund fails the transaction rather than take twice.
            made.append(
                RefundReversal.objects.create(
                    provider_refund_id=refund.id, credit=grant, credits=taken, amount=refund.amount
                )
            )
            audit_record(
                action="refund.applied",
                tenant_id=grant.tenant_id,
                target_type="refund",
                target_id=refund.id,
                target_label=refund.id,
                after={
                    "amount": refund.amount,
                    "currency": charge.currency,
                    "charge": charge_id,
                    "credits_taken": taken,
                    "full": full,
                },
            )
        if charge.amount_refunded >= charge.amount and grant.mode == CreditMode.ONE_TIME_LIFETIME:
            at_ms = now_ms()
            if Lifetime.objects.filter(provider_checkout_session_id=grant.source_id, refunded_at__isnull=True).update(
                refunded_at=at_ms
            ):
                audit_record(
                    action="lifetime.refunded",
                    tenant_id=grant.tenant_id,
                    target_type="checkout_session",
                    target_id=grant.source_id,
                    target_label=grant.plan_id,
                    after={"refunded_at": at_ms},
                )
    return made


def is_missing(exc: Exception) -> bool:
    return isinstance(exc, stripe.InvalidRequestError) and getattr(exc, "code", None) == "resource_missing"
