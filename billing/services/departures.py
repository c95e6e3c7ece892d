"""When an organization or an account goes, its subscriptions stop being charged
(docs/billing.md): `KEEL_TENANT_DELETE_HOOKS` and `KEEL_ACCOUNT_DELETE_HOOKS` call these."""

import logging

import stripe
from django.db import transaction

from billing.models import Subscription, SubscriptionStatus
from billing.stripe_api import client

logger = logging.getLogger("keel.billing")

_ENDING = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE, SubscriptionStatus.PENDING)


def _cancel_at_stripe(subscription_ids: list[str]) -> None:
    for subscription_id in subscription_ids:
        try:
            client().v1.subscriptions.cancel(subscription_id)
        except stripe.StripeError as exc:
            # The row is re-read from Stripe by the subscription.deleted webhook or by
            # billing_reconcile; a cancellation that failed is logged for staff to repeat.
            logger.error("could not cancel subscription %s at Stripe: %s", subscription_id, exc)


def tenant_subscriptions_cancel(*, tenant) -> list[str]:
    """The deleted organization's subscriptions end now (run after the deletion committed)."""
    ids = list(
        Subscription.objects.filter(tenant=tenant, status__in=_ENDING).values_list(
            "provider_subscription_id", flat=True
        )
    )
    _cancel_at_stripe(ids)
    return ids


def account_subscriptions_cancel(*, user) -> None:
    """The subscriptions the deleted account pays for end, once the deletion commits (an
    organization handed over to another member buys its own plan again)."""
    ids = list(
        Subscription.objects.filter(user=user, status__in=_ENDING).values_list("provider_subscription_id", flat=True)
    )
    if ids:
        transaction.on_commit(lambda: _cancel_at_stripe(ids))
