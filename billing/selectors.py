"""Reads of the billing app that pages, the API and the admin share: an organization's plan,
its paid invoices, and what is for sale."""

from dataclasses import dataclass, field

from django.db import models
from django.db.models import QuerySet
from django.db.models.fields.json import KT

from billing.models import Invoice, Lifetime, Price, Subscription, SubscriptionStatus
from billing.plans import Plan, PlanKind, monthly_amount, plan_from_metadata
from core.errors import ValidationFailed
from organizations.models import MemberRole, Tenant, TenantMember

# What makes a subscription the organization's plan (DESIGN.md, "Billing"): `pending` (an
# incomplete first payment) does not, `past_due` does until Stripe cancels it.
PLAN_STATUSES = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)


class TenantPlanKind(models.TextChoices):
    SUBSCRIPTION = "subscription", "Subscription"
    LIFETIME = "lifetime", "Lifetime deal"
    FREE = "free", "Free plan"


FREE_PLAN_ID = "free"


@dataclass(frozen=True)
class TenantPlan:
    kind: str  # TenantPlanKind
    plan_id: str
    status: str  # the subscription's; "active" for a lifetime deal and the free plan
    subscription: Subscription | None = None
    lifetime: Lifetime | None = None
    # Epoch ms: when the subscription renews, or when it ends (canceled at the period's end).
    renews_at: int | None = None
    ends_at: int | None = None
    past_due: bool = False

    @property
    def cancel_at_period_end(self) -> bool:
        return self.ends_at is not None

    @property
    def provider_price_id(self) -> str | None:
        row = self.subscription or self.lifetime
        return row.provider_price_id if row is not None and row.provider_price_id else None

    @property
    def amount(self) -> int | None:
        row = self.subscription or self.lifetime
        return row.amount if row is not None else None

    @property
    def currency(self) -> str | None:
        row = self.subscription or self.lifetime
        return row.currency if row is not None else None

    @property
    def interval(self) -> str | None:
        if self.subscription is None:
            return None
        items = (self.subscription.raw_data.get("items") or {}).get("data") or [{}]
        return ((items[0].get("price") or {}).get("recurring") or {}).get("interval")

    @property
    def pay_url(self) -> str | None:
        """Where a past-due organization pays: the open invoice's hosted page, when the
        subscription's data carries it (an expanded `latest_invoice`)."""
        if not self.past_due:
            return None
        latest = self.subscription.raw_data.get("latest_invoice")
        if isinstance(latest, dict) and latest.get("status") == "open":
            return latest.get("hosted_invoice_url") or None
        return None


def _ms(seconds) -> int | None:
    return None if seconds in (None, "") else int(seconds) * 1000


def tenant_plan(tenant: Tenant) -> TenantPlan:
    """The organization's plan: its active or past-due subscription, else its lifetime deal
    (not refunded), else the free plan. One query, two without a subscription."""
    subscription = (
        Subscription.objects.filter(tenant=tenant, status__in=PLAN_STATUSES)
        .order_by("-current_period_end", "-created_at")
        .first()
    )
    if subscription is not None:
        data = subscription.raw_data or {}
        ending = bool(data.get("cancel_at_period_end")) or bool(data.get("cancel_at"))
        end = _ms(data.get("cancel_at")) or subscription.current_period_end
        return TenantPlan(
            kind=TenantPlanKind.SUBSCRIPTION,
            plan_id=subscription.plan_id,
            status=subscription.status,
            subscription=subscription,
            renews_at=None if ending else subscription.current_period_end,
            ends_at=end if ending else None,
            past_due=subscription.status == SubscriptionStatus.PAST_DUE,
        )
    lifetime = Lifetime.objects.filter(tenant=tenant, refunded_at__isnull=True).order_by("created_at").first()
    if lifetime is not None:
        return TenantPlan(
            kind=TenantPlanKind.LIFETIME, plan_id=lifetime.plan_id, status=SubscriptionStatus.ACTIVE, lifetime=lifetime
        )
    return TenantPlan(kind=TenantPlanKind.FREE, plan_id=FREE_PLAN_ID, status=SubscriptionStatus.ACTIVE)


def plan_name(plan: TenantPlan) -> str:
    """What people call the plan: its product's name when the price is synced, else its plan id."""
    if plan.kind == TenantPlanKind.FREE:
        return "Free plan"
    name = None
    if plan.provider_price_id:
        prices = Price.objects.filter(provider="stripe", provider_price_id=plan.provider_price_id)
        name = prices.values_list("product_name", flat=True).first()
    return name or plan.plan_id.replace("-", " ").title()


def tenant_has_lifetime(tenant: Tenant) -> bool:
    return Lifetime.objects.filter(tenant=tenant, refunded_at__isnull=True).exists()


def tenant_invoices(tenant: Tenant) -> QuerySet[Invoice]:
    """The organization's paid invoices, newest first, without their raw data (but with the
    invoice's `number` from it)."""
    return (
        Invoice.objects.filter(tenant=tenant, paid_at__isnull=False)
        .defer("raw_data")
        .annotate(number=KT("raw_data__number"))
        .order_by("-paid_at", "-id")
    )


# What is for sale


@dataclass(frozen=True)
class SellablePrice:
    price: Price
    plan: Plan

    @property
    def provider_price_id(self) -> str:
        return self.price.provider_price_id

    @property
    def monthly_amount(self) -> float:
        return monthly_amount(self.price)


@dataclass
class SubscriptionOffer:
    """One subscription plan and its prices (monthly, yearly, ...), cheapest first."""

    plan_id: str
    name: str
    description: str
    prices: list[SellablePrice] = field(default_factory=list)

    def _every(self, interval: str) -> SellablePrice | None:
        every = (p for p in self.prices if p.price.interval == interval and p.price.interval_count in (1, None))
        return next(every, None)

    @property
    def monthly(self) -> SellablePrice | None:
        return self._every("month")

    @property
    def yearly(self) -> SellablePrice | None:
        return self._every("year")


@dataclass
class Catalogue:
    prices: list[SellablePrice]  # everything for sale, cheapest first
    subscriptions: list[SubscriptionOffer]
    packs: list[SellablePrice]
    lifetime: list[SellablePrice]

    def get(self, provider_price_id: str | None) -> SellablePrice | None:
        return next((p for p in self.prices if p.provider_price_id == provider_price_id), None)


def sellable_prices() -> Catalogue:
    """Active prices whose metadata is a plan (the ones checkout sells), grouped for display:
    subscription plans by `plan_id` (cheapest first), credit packs, lifetime deals. One query."""
    sellable = []
    for price in Price.objects.filter(provider="stripe", active=True).defer("raw_data").order_by("unit_amount", "id"):
        try:
            sellable.append(SellablePrice(price, plan_from_metadata(price.metadata, price_type=price.type)))
        except ValidationFailed:
            continue  # stored, never sold (sync_prices reports it)
    offers: dict[str, SubscriptionOffer] = {}
    for item in sellable:
        if item.plan.kind == PlanKind.SUBSCRIPTION:
            offer = offers.setdefault(
                item.plan.plan_id,
                SubscriptionOffer(item.plan.plan_id, item.price.product_name, item.price.product_description),
            )
            offer.prices.append(item)
    by_month = sorted(offers.values(), key=lambda offer: min(p.monthly_amount for p in offer.prices))
    return Catalogue(
        prices=sellable,
        subscriptions=by_month,
        packs=[item for item in sellable if item.plan.kind == PlanKind.CREDITS],
        lifetime=[item for item in sellable if item.plan.kind == PlanKind.LIFETIME],
    )


def user_export_invoices(*, user) -> tuple[str, list]:
    """The data export's section (KEEL_ACCOUNT_EXPORT_SECTIONS): the invoices of the organizations
    the user owns (as an owner member, now), in one query, without the provider's raw data."""
    owned = TenantMember.objects.filter(user=user, role=MemberRole.OWNER, tenant__deleted_at__isnull=True)
    invoices = (
        Invoice.objects.filter(tenant_id__in=owned.values("tenant_id"))
        .select_related("tenant")
        .defer("raw_data", "tenant__logo_url")
        .annotate(number=KT("raw_data__number"), provider_status=KT("raw_data__status"))
        .order_by("tenant__slug", "-paid_at", "-id")
    )
    return "invoices", [
        {
            "organization": invoice.tenant.slug,
            "number": invoice.number,
            "provider_invoice_id": invoice.provider_invoice_id,
            "plan_id": invoice.plan_id,
            "amount": invoice.amount,
            "currency": invoice.currency,
            # Keel records invoices once paid; the provider's own status when it sent one.
            "status": invoice.provider_status or ("paid" if invoice.paid_at else "open"),
            "billing_reason": invoice.billing_reason,
            "paid_at": invoice.paid_at,
            "hosted_invoice_url": invoice.hosted_invoice_url,
            "invoice_pdf": invoice.invoice_pdf,
            "receipt_pdf": invoice.receipt_pdf,
        }
        for invoice in invoices
    ]
