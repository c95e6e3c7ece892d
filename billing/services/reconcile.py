"""`billing_reconcile`: read Stripe again and repair what a lost or failed webhook left
undone (docs/billing.md). It applies the webhooks' own idempotent effects, so it is safe
at any time and a second run changes nothing."""

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from billing.models import Invoice, RefundReversal, Subscription
from billing.services import fulfilment
from billing.stripe_api import client
from credits.models import Credit

RECENT = 3 * 24 * 60 * 60  # seconds: the default window


@dataclass
class Report:
    repaired: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # objects that are not Keel's


def _listed(resource, params: dict) -> Iterator:
    yield from resource.list(params={"limit": 100, **params}).auto_paging_iter()


def _subscription_drift(sub) -> str | None:
    row = Subscription.objects.filter(provider_subscription_id=sub.id).first()
    if row is None:
        return "missing"
    item = sub["items"].data[0]
    expected = (
        fulfilment.STATUS_MAP.get(sub.status),
        item.price.id,
        fulfilment._ms(item.current_period_end),
        fulfilment._ms(sub.canceled_at),
    )
    found = (row.status, row.provider_price_id, row.current_period_end, row.canceled_at)
    return None if expected == found else f"{found} -> {expected}"


def _invoice_missing(invoice) -> bool:
    if not Invoice.objects.filter(provider_invoice_id=invoice.id).exists():
        return True
    bought = fulfilment.invoice_credits(fulfilment._json(invoice))
    if bought is None or bought.credits <= 0:
        return False
    return not Credit.objects.filter(source_type="invoice", source_id=invoice.id).exists()


def billing_reconcile(*, since: int | None = None, dry_run: bool = False) -> Report:
    """Repair every Keel effect of Stripe objects created since `since` (unix seconds;
    default three days ago), and the state of every subscription Keel holds."""
    since = int(time.time()) - RECENT if since is None else since
    api = client().v1
    report = Report()

    def repair(label: str, apply) -> None:
        if dry_run:
            report.repaired.append(f"would repair {label}")
            return
        try:
            apply()
        except fulfilment.Unattributable as exc:
            report.skipped.append(f"{label}: {exc}")
            return
        report.repaired.append(f"repaired {label}")

    known = set(Subscription.objects.values_list("provider_subscription_id", flat=True))
    recent = {sub.id: sub for sub in _listed(api.subscriptions, {"status": "all", "created": {"gte": since}})}
    for sub_id in sorted(known - recent.keys()):
        recent[sub_id] = api.subscriptions.retrieve(sub_id)
    for sub in recent.values():
        if not (sub.metadata or {}).get("keel_tenant_id"):
            report.skipped.append(f"subscription {sub.id}: not created by Keel")
            continue
        if drift := _subscription_drift(sub):
            repair(f"subscription {sub.id} ({drift})", lambda sub=sub: fulfilment.subscription_sync(sub.id))

    for session in _listed(api.checkout.sessions, {"status": "complete", "created": {"gte": since}}):
        if session.mode != "payment" or session.payment_status not in fulfilment.PAID_SESSION_STATUSES:
            continue
        if not (session.metadata or {}).get("keel_tenant_id"):
            report.skipped.append(f"checkout session {session.id}: not created by Keel")
        elif not Credit.objects.filter(source_type="checkout_session", source_id=session.id).exists():
            repair(f"checkout session {session.id}", lambda s=session: fulfilment.checkout_session_fulfil(s.id))

    for invoice in _listed(api.invoices, {"status": "paid", "created": {"gte": since}}):
        try:
            fulfilment.invoice_owner(fulfilment._json(invoice))
            missing = _invoice_missing(invoice)
        except fulfilment.Unattributable as exc:
            report.skipped.append(f"invoice {invoice.id}: {exc}")
            continue
        if missing:
            repair(f"invoice {invoice.id}", lambda i=invoice: fulfilment.invoice_paid(i.id))

    charges = set()
    for refund in _listed(api.refunds, {"created": {"gte": since}}):
        if refund.charge and not RefundReversal.objects.filter(provider_refund_id=refund.id).exists():
            charges.add(refund.charge)
    for charge_id in sorted(charges):
        repair(f"refunds of charge {charge_id}", lambda c=charge_id: fulfilment.charge_refunded(c))
    return report
