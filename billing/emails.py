"""Billing's emails (docs/billing.md): a receipt for each paid invoice (honouring the
payer's `payment_receipts` preference) and a failed-payment notice to the organization's
owners. Both go out after the transaction commits (accounts.emails)."""

from datetime import UTC, datetime

from accounts.emails import email_send
from accounts.models import EmailType
from organizations.models import MemberRole, TenantMember


def money(cents: int, currency: str) -> str:
    symbol = {"usd": "$", "eur": "€", "gbp": "£"}.get(currency.lower())
    return f"{symbol}{cents / 100:,.2f}" if symbol else f"{cents / 100:,.2f} {currency.upper()}"


def receipt_send(*, user, tenant, invoice: dict, plan_name: str, credits: int) -> None:
    if not user.email:
        return
    email_send(
        to=user.email,
        user=user,
        template="payment_receipt",
        email_type=EmailType.PAYMENT_RECEIPTS,
        context={
            "amount": money(invoice["amount_paid"], invoice["currency"]),
            "tenant_name": tenant.name,
            "plan_name": plan_name,
            "credits": credits,
            "hosted_invoice_url": invoice.get("hosted_invoice_url") or "",
            "invoice_pdf": invoice.get("invoice_pdf") or "",
        },
    )


def payment_failed_send(*, tenant, invoice: dict) -> int:
    """To each owner: what failed, when Stripe tries again, the link to pay."""
    next_attempt = invoice.get("next_payment_attempt")
    owners = TenantMember.objects.filter(tenant=tenant, role=MemberRole.OWNER).select_related("user")
    sent = 0
    for member in owners:
        if member.user.email and member.user.deleted_at is None:
            email_send(
                to=member.user.email,
                user=member.user,
                template="payment_failed",
                context={
                    "amount": money(invoice["amount_due"], invoice["currency"]),
                    "tenant_name": tenant.name,
                    "next_attempt": datetime.fromtimestamp(next_attempt, tz=UTC) if next_attempt else None,
                    "pay_url": invoice.get("hosted_invoice_url") or "",
                },
            )
            sent += 1
    return sent
