"""Buying for an organization: Stripe Checkout for a subscription, a credit pack or a
lifetime deal; plan changes of the live subscription; cancellation, reactivation and the
customer portal (docs/billing.md)."""

from dataclasses import dataclass

import stripe
from django.db import transaction

from audit.services import audit_record
from billing.models import Lifetime, Price, Subscription, SubscriptionStatus
from billing.plans import Plan, PlanKind, monthly_amount, plan_from_metadata
from billing.services.customers import customer_for, customer_replace
from billing.stripe_api import client
from core.errors import Conflict, NotFound, ValidationFailed
from organizations.models import Permission, TenantMember
from organizations.tenancy import member_require

# The organization's plan (billing.selectors.tenant_plan): buying another plan changes it.
LIVE_STATUSES = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)
SESSION_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"


@dataclass(frozen=True)
class CheckoutResult:
    id: str
    url: str | None  # None: no page to visit (a plan change of the live subscription)
    kind: str


def _require_billing(member: TenantMember) -> None:
    member_require(member, Permission.MANAGE_BILLING, "You need the billing permission to pay for this organization.")


def sellable_price(provider_price_id: str, *, kind: str | None = None) -> tuple[Price, Plan]:
    price = Price.objects.filter(provider="stripe", provider_price_id=provider_price_id or "").first()
    if price is None or not price.active:
        raise NotFound("That price is not for sale.", code="price_unavailable", field="price")
    try:
        plan = plan_from_metadata(price.metadata, price_type=price.type)
    except ValidationFailed:
        raise NotFound("That price is not for sale.", code="price_unavailable", field="price") from None
    if kind is not None and plan.kind != kind:
        raise ValidationFailed(
            f"That price is a {PlanKind(plan.kind).label.lower()}, not a {PlanKind(kind).label.lower()}.",
            code="price_kind_mismatch",
            field="price",
        )
    return price, plan


def live_subscription(tenant) -> Subscription | None:
    return Subscription.objects.filter(tenant=tenant, status__in=LIVE_STATUSES).order_by("-current_period_end").first()


def _requested(action: str, subscription: Subscription, **after) -> None:
    """The audit row of what a member asked Stripe to do to the subscription (the change itself
    comes back from Stripe as a webhook, with its own row). Written once Stripe accepted it."""
    with transaction.atomic():
        audit_record(
            action=action,
            tenant_id=subscription.tenant_id,
            target_type="subscription",
            target_id=subscription.provider_subscription_id,
            target_label=subscription.plan_id or subscription.provider_price_id,
            before={"provider_price_id": subscription.provider_price_id, "plan_id": subscription.plan_id},
            after=after or None,
        )


def _metadata(member: TenantMember, plan: Plan, price: Price) -> dict:
    return {
        "keel_tenant_id": str(member.tenant_id),
        "keel_user_id": str(member.user_id),
        "keel_plan_id": plan.plan_id,
        "keel_price_id": price.provider_price_id,
        "keel_kind": plan.kind,
    }


def checkout_start(
    *, member: TenantMember, provider_price_id: str, success_url: str, cancel_url: str, kind: str | None = None
) -> CheckoutResult:
    """A Checkout Session for `member`'s organization, or, when it already has a live
    subscription and buys another subscription plan, that plan change."""
    _require_billing(member)
    price, plan = sellable_price(provider_price_id, kind=kind)
    tenant = member.tenant
    if plan.kind == PlanKind.SUBSCRIPTION and (current := live_subscription(tenant)) is not None:
        return subscription_change_plan(member=member, subscription=current, provider_price_id=provider_price_id)
    if plan.kind == PlanKind.LIFETIME and Lifetime.objects.filter(tenant=tenant, refunded_at__isnull=True).exists():
        raise Conflict("This organization already has the lifetime deal.", code="lifetime_owned")
    customer = customer_for(user=member.user)
    metadata = _metadata(member, plan, price)
    params = {
        "mode": "subscription" if plan.kind == PlanKind.SUBSCRIPTION else "payment",
        "customer": customer.customer_id,
        "client_reference_id": str(tenant.pk),
        "line_items": [{"price": price.provider_price_id, "quantity": 1}],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "metadata": metadata,
        "allow_promotion_codes": True,
    }
    if plan.kind == PlanKind.SUBSCRIPTION:
        params["subscription_data"] = {"metadata": metadata}
    else:
        params["payment_intent_data"] = {"metadata": metadata}
    try:
        session = client().v1.checkout.sessions.create(params=params)
    except stripe.InvalidRequestError as exc:
        if exc.code != "resource_missing" or exc.param != "customer":
            raise
        # The customer is gone at Stripe (deleted there, or a restarted local sandbox).
        params["customer"] = customer_replace(user=member.user).customer_id
        session = client().v1.checkout.sessions.create(params=params)
    return CheckoutResult(id=session.id, url=session.url, kind=plan.kind)


def subscription_change_plan(*, member: TenantMember, subscription: Subscription, provider_price_id: str):
    """An upgrade (more per month) is invoiced now, prorated; a downgrade takes effect at the
    period's end, through a subscription schedule."""
    _require_billing(member)
    if subscription.tenant_id != member.tenant_id:
        raise NotFound("No such subscription.")
    price, plan = sellable_price(provider_price_id, kind=PlanKind.SUBSCRIPTION)
    if price.provider_price_id == subscription.provider_price_id:
        raise Conflict("The organization is already on this plan.", code="already_on_plan", field="price")
    current = Price.objects.filter(provider="stripe", provider_price_id=subscription.provider_price_id).first()
    api = client().v1
    stripe_sub = api.subscriptions.retrieve(subscription.provider_subscription_id)
    item = stripe_sub["items"].data[0]
    metadata = {**stripe_sub.metadata, "keel_plan_id": plan.plan_id, "keel_price_id": price.provider_price_id}
    if current is None or monthly_amount(price) >= monthly_amount(current):
        updated = api.subscriptions.update(
            stripe_sub.id,
            params={
                "items": [{"id": item.id, "price": price.provider_price_id}],
                "proration_behavior": "always_invoice",
                "metadata": metadata,
            },
        )
        _requested(
            "subscription.change_requested",
            subscription,
            provider_price_id=price.provider_price_id,
            plan_id=plan.plan_id,
            kind="upgrade",
        )
        return CheckoutResult(id=updated.id, url=None, kind="upgrade")
    schedule_id = (
        stripe_sub.schedule or api.subscription_schedules.create(params={"from_subscription": stripe_sub.id}).id
    )
    api.subscription_schedules.update(
        schedule_id,
        params={
            "phases": [
                {
                    "items": [{"price": item.price.id, "quantity": item.quantity}],
                    "start_date": item.current_period_start,
                    "end_date": item.current_period_end,
                },
                {"items": [{"price": price.provider_price_id, "quantity": item.quantity}]},
            ],
            "end_behavior": "release",
        },
    )
    _requested(
        "subscription.change_requested",
        subscription,
        provider_price_id=price.provider_price_id,
        plan_id=plan.plan_id,
        kind="downgrade",
    )
    return CheckoutResult(id=stripe_sub.id, url=None, kind="downgrade")


def subscription_cancel(*, member: TenantMember, subscription: Subscription, at_period_end: bool = True):
    """Cancel at the period's end (staff may cancel at once: `at_period_end=False`)."""
    _require_billing(member)
    if subscription.tenant_id != member.tenant_id:
        raise NotFound("No such subscription.")
    api = client().v1
    if at_period_end:
        result = api.subscriptions.update(subscription.provider_subscription_id, params={"cancel_at_period_end": True})
    else:
        result = api.subscriptions.cancel(subscription.provider_subscription_id)
    _requested("subscription.cancel_requested", subscription, at_period_end=at_period_end)
    return result


def subscription_reactivate(*, member: TenantMember, subscription: Subscription):
    _require_billing(member)
    if subscription.tenant_id != member.tenant_id:
        raise NotFound("No such subscription.")
    if subscription.status == SubscriptionStatus.CANCELED:
        raise Conflict("A canceled subscription cannot be reactivated: buy a plan again.", code="subscription_ended")
    result = client().v1.subscriptions.update(
        subscription.provider_subscription_id, params={"cancel_at_period_end": False}
    )
    _requested("subscription.reactivation_requested", subscription)
    return result


def billing_portal_url(*, member: TenantMember, return_url: str) -> str:
    _require_billing(member)
    # The portal of the customer who pays for the live subscription, else the member's own.
    current = live_subscription(member.tenant)
    customer_id = current.provider_customer_id if current else customer_for(user=member.user).customer_id
    session = client().v1.billing_portal.sessions.create(params={"customer": customer_id, "return_url": return_url})
    return session.url
