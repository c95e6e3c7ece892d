"""Billing pages: /pricing/ (public), and per organization /o/<slug>/billing/ (plan, plan
changes, cancellation, portal, invoices, packs, lifetime deal), the checkout's success and
cancel pages.

Every action calls the same services as the API. The organization's pages resolve it first
(`tenant_page`); actions need the billing permission. After an action that changes the
subscription at Stripe, the page re-reads it (`subscription_sync`, idempotent, as the webhook
would) so that what follows shows the new state without waiting for the webhook.
"""

import contextlib
import logging
import re
import uuid

import stripe
from django.contrib import messages
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse

from accounts.reauth import reauth_required
from billing import links, selectors
from billing.forms import CheckoutForm
from billing.models import Price
from billing.plans import PlanKind
from billing.services import checkout_session_fulfil, invoice_paid, subscription_sync
from billing.services.checkout import (
    billing_portal_url,
    checkout_start,
    subscription_cancel,
    subscription_reactivate,
)
from billing.services.fulfilment import Unattributable, is_missing
from billing.stripe_api import client
from core.errors import ApplicationError, PermissionDenied
from core.time import ms_to_datetime
from credits.models import Credit
from credits.selectors import credits_summary
from organizations.models import Permission
from organizations.tenancy import member_can
from organizations.views import tenants as tenant_views
from organizations.views.common import tenant_page

logger = logging.getLogger("keel.billing")

INVOICES_PER_PAGE = 24
SESSION_ID = re.compile(r"cs_[A-Za-z0-9_]{1,250}")
BILLING_DENIED = "Only owners and members allowed to manage billing can pay for this organization."
STRIPE_FAILED = "Stripe could not be reached or refused the request; nothing was charged. Please try again."


def _to_billing(member):
    return redirect("billing:billing", slug=member.tenant.slug)


def _refresh_subscription(subscription_id: str, *, with_invoice: bool = False) -> None:
    """Re-read the subscription (and its latest invoice) as a webhook would: idempotent, so
    the webhook arriving later changes nothing. A failure here only delays the page."""
    try:
        row = subscription_sync(subscription_id)
        latest = row.raw_data.get("latest_invoice")  # expanded by subscription_sync
        latest_id = latest.get("id") if isinstance(latest, dict) else latest
        if with_invoice and latest_id:
            invoice_paid(latest_id)
    except (Unattributable, stripe.StripeError) as exc:
        logger.warning("could not refresh subscription %s: %s", subscription_id, exc)


# /pricing/


def pricing(request):
    return render(request, "billing/pricing.html", _catalogue_context(request))


def landing(request):
    """`/`: what Keel does and its plans for a visitor; a signed-in user's dashboard."""
    if request.user.is_authenticated:
        return tenant_views.home(request)
    return render(request, "billing/landing.html", _catalogue_context(request))


def _catalogue_context(request) -> dict:
    interval = "year" if request.GET.get("billing") == "yearly" else "month"
    catalogue = selectors.sellable_prices()
    offers = [
        {"offer": offer, "shown": offer.yearly if interval == "year" else offer.monthly}
        for offer in catalogue.subscriptions
    ]
    return {
        "catalogue": catalogue,
        "offers": offers,
        "interval": interval,
        "signup_url": f"{reverse('accounts:signup')}?next={reverse('billing:pricing')}",
    }


# /o/<slug>/billing/


def _invoice_page(tenant, before: str | None):
    rows = selectors.tenant_invoices(tenant)
    paid_at, _, row_id = (before or "").partition(".")
    if paid_at.isdigit():
        with contextlib.suppress(ValueError):  # a malformed cursor: the first page
            rows = rows.filter(Q(paid_at__lt=int(paid_at)) | Q(paid_at=int(paid_at), id__lt=uuid.UUID(row_id)))
    invoices = list(rows[: INVOICES_PER_PAGE + 1])
    more = len(invoices) > INVOICES_PER_PAGE
    invoices = invoices[:INVOICES_PER_PAGE]
    return invoices, (f"{invoices[-1].paid_at}.{invoices[-1].pk}" if more else None)


def _plan_choices(catalogue, plan):
    """Every subscription price with what buying it would do now: `current`, `upgrade` or
    `downgrade` (the rule checkout applies), or `subscribe` without a subscription."""
    current = catalogue.get(plan.provider_price_id) if plan.kind == selectors.TenantPlanKind.SUBSCRIPTION else None
    choices = []
    for offer in catalogue.subscriptions:
        rows = []
        for item in offer.prices:
            if plan.kind != selectors.TenantPlanKind.SUBSCRIPTION:
                action = "subscribe"
            elif item.provider_price_id == plan.provider_price_id:
                action = "current"
            elif current is None or item.monthly_amount >= current.monthly_amount:
                action = "upgrade"
            else:
                action = "downgrade"
            rows.append({"item": item, "action": action})
        choices.append({"offer": offer, "prices": rows})
    return choices


@tenant_page(methods=("GET",))
def billing(request, member):
    tenant = member.tenant
    plan = selectors.tenant_plan(tenant)
    catalogue = selectors.sellable_prices()
    invoices, next_cursor = _invoice_page(tenant, request.GET.get("before"))
    current = catalogue.get(plan.provider_price_id)
    if plan.kind == selectors.TenantPlanKind.LIFETIME:
        lifetime_owned = True
    elif plan.kind == selectors.TenantPlanKind.FREE:
        lifetime_owned = False  # tenant_plan found no lifetime deal
    else:
        lifetime_owned = selectors.tenant_has_lifetime(tenant)
    return render(
        request,
        "billing/billing.html",
        {
            "tenant": tenant,
            "member": member,
            "plan": plan,
            "plan_name": current.price.product_name if current else plan.plan_id.replace("-", " ").title(),
            "catalogue": catalogue,
            "choices": _plan_choices(catalogue, plan),
            "lifetime_owned": lifetime_owned,
            "invoices": invoices,
            "next_cursor": next_cursor,
            "can_manage": member_can(member, Permission.MANAGE_BILLING),
        },
    )


@tenant_page(methods=("POST",), permission=Permission.MANAGE_BILLING, denied=BILLING_DENIED)
@reauth_required
def checkout(request, member):
    form = CheckoutForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose something to buy.")
        return _to_billing(member)
    result, refused = _attempt(
        request,
        member,
        "checkout",
        lambda: checkout_start(
            member=member,
            provider_price_id=form.cleaned_data["price"],
            kind=form.cleaned_data["kind"] or None,
            success_url=links.checkout_success_url(member.tenant),
            cancel_url=links.checkout_cancel_url(member.tenant),
        ),
    )
    if refused:
        return refused
    if result.url:
        return redirect(result.url)  # Stripe's hosted page
    _refresh_subscription(result.id, with_invoice=True)
    price = selectors.sellable_prices().get(form.cleaned_data["price"])
    name = price.price.product_name if price else "the new plan"
    if result.kind == "upgrade":
        messages.success(request, f"Upgraded to {name}: the difference is invoiced now, with its credits.")
    else:
        messages.success(request, f"{name} starts at the end of the current period; nothing changes until then.")
    return _to_billing(member)


@tenant_page(methods=("POST",), permission=Permission.MANAGE_BILLING, denied=BILLING_DENIED)
@reauth_required
def portal(request, member):
    url, refused = _attempt(
        request,
        member,
        "portal",
        lambda: billing_portal_url(member=member, return_url=links.billing_page_url(member.tenant)),
    )
    return refused or redirect(url)


def _plan_subscription(request, member):
    plan = selectors.tenant_plan(member.tenant)
    if plan.subscription is None:
        messages.info(request, "This organization has no subscription.")
    return plan


def _attempt(request, member, what: str, call):
    """Run a billing service for a page: `(result, None)`, or, when it refuses or Stripe fails,
    a message and `(None, the way back to the billing page)`. A permission refusal stays a 403."""
    try:
        return call(), None
    except PermissionDenied:
        raise
    except ApplicationError as error:
        messages.error(request, error.detail)
    except stripe.StripeError as exc:
        logger.warning("%s for %s refused by Stripe: %s", what, member.tenant_id, exc)
        messages.error(request, STRIPE_FAILED)
    return None, _to_billing(member)


def _subscription_action(request, member, action, subscription, done: str):
    _result, refused = _attempt(
        request, member, action.__name__, lambda: action(member=member, subscription=subscription)
    )
    if refused:
        return refused
    _refresh_subscription(subscription.provider_subscription_id)
    messages.success(request, done)
    return _to_billing(member)


@tenant_page(permission=Permission.MANAGE_BILLING, denied=BILLING_DENIED)
@reauth_required
def subscription_cancel_page(request, member):
    """GET: what cancelling means, and a confirmation; POST: cancel at the period's end."""
    plan = _plan_subscription(request, member)
    if plan.subscription is None:
        return _to_billing(member)
    if request.method != "POST":
        context = {"tenant": member.tenant, "member": member, "plan": plan}
        return render(request, "billing/cancel_subscription.html", context)
    when = _date(plan.subscription.current_period_end)
    return _subscription_action(
        request,
        member,
        subscription_cancel,
        plan.subscription,
        f"Your subscription is canceled: it stays active, with its credits, until {when}, then ends.",
    )


@tenant_page(methods=("POST",), permission=Permission.MANAGE_BILLING, denied=BILLING_DENIED)
@reauth_required
def subscription_reactivate_page(request, member):
    plan = _plan_subscription(request, member)
    if plan.subscription is None:
        return _to_billing(member)
    when = _date(plan.subscription.current_period_end)
    return _subscription_action(
        request,
        member,
        subscription_reactivate,
        plan.subscription,
        f"Your subscription continues: it renews on {when}.",
    )


def _date(ms: int | None) -> str:
    return ms_to_datetime(ms).strftime("%Y-%m-%d") if ms else "the end of the period"


# The checkout's way back


def _retrieve_session(session_id: str):
    try:
        return client().v1.checkout.sessions.retrieve(session_id)
    except stripe.StripeError as exc:
        if is_missing(exc):
            raise Http404 from None
        raise


@tenant_page(methods=("GET",))
def checkout_success(request, member):
    """Stripe brings the buyer here: the purchase is applied now (the webhook, whenever it
    comes, finds it done), after checking that the session is this organization's."""
    tenant = member.tenant
    session_id = request.GET.get("session_id", "")
    if not SESSION_ID.fullmatch(session_id):
        raise Http404
    try:
        session = _retrieve_session(session_id)
        if (session.metadata or {}).get("keel_tenant_id") != str(tenant.pk):
            raise Http404  # another organization's purchase is none of this one's business
        outcome = checkout_session_fulfil(session_id)
        if outcome == "subscription" and session.invoice:
            invoice_paid(session.invoice)
    except Unattributable as exc:
        logger.warning("checkout session %s not applied: %s", session_id, exc)
        outcome = "pending"
    except ApplicationError as error:
        messages.error(request, error.detail)
        return _to_billing(member)
    except stripe.StripeError as exc:
        logger.warning("checkout session %s: Stripe failed: %s", session_id, exc)
        messages.error(request, "Stripe could not be reached to confirm the payment; it will show here shortly.")
        return _to_billing(member)
    price_id = (session.metadata or {}).get("keel_price_id")
    price = Price.objects.filter(provider="stripe", provider_price_id=price_id).first() if price_id else None
    source_ids = [session.id] + ([session.invoice] if getattr(session, "invoice", None) else [])
    grant = Credit.objects.filter(tenant=tenant, provider="stripe", source_id__in=source_ids).first()
    if outcome == "pending":
        messages.info(request, "Your payment is being processed: what you bought appears here once it clears.")
    else:
        messages.success(request, "Thank you: your payment went through.")
    return render(
        request,
        "billing/success.html",
        {
            "tenant": tenant,
            "member": member,
            "outcome": outcome,
            "kind_label": PlanKind(outcome).label if outcome in PlanKind.values else "",
            "price": price,
            "grant": grant,
            "plan": selectors.tenant_plan(tenant),
            "summary": credits_summary(tenant=tenant, user=request.user),
        },
    )


@tenant_page(methods=("GET",))
def checkout_cancel(request, member):
    messages.info(request, "Checkout canceled: nothing was charged.")
    return _to_billing(member)
