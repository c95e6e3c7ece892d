"""Billing's audit rows, end to end against the Stripe sandbox: what a webhook changes is by
Stripe, what a member asks for is by the member; a replayed event writes nothing again."""

import pytest
import stripe

from audit.models import ActorKind
from billing.models import Invoice, Lifetime, Subscription
from billing.services import invoice_paid
from billing.services.checkout import checkout_start, subscription_cancel
from organizations.models import TenantMember
from organizations.services import tenant_create
from tests.audit.conftest import events, only_event, signed_in
from tests.billing.conftest import catalogue, shop, stripe_sandbox, stripe_sandbox_server, webhook_receiver
from tests.factories import UserFactory

__all__ = ["catalogue", "shop", "stripe_sandbox", "stripe_sandbox_server", "webhook_receiver"]

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def payer(db):
    user = UserFactory(username="ada", first_name="Ada", last_name="Lovelace")
    tenant = tenant_create(owner=user, name="Analytical Engines")
    return TenantMember.objects.select_related("tenant", "user").get(tenant=tenant, user=user)


def buy(stripe_sandbox, member, price_id):
    with signed_in(member.user):
        result = checkout_start(
            member=member,
            provider_price_id=price_id,
            success_url="https://k/s?s={CHECKOUT_SESSION_ID}",
            cancel_url="https://k/c",
        )
    stripe_sandbox.complete_checkout(result.id)
    stripe_sandbox.wait_for_deliveries(timeout=30)
    return result


def test_a_subscription_started_paid_and_renewed_is_by_stripe(shop, stripe_sandbox, payer):
    buy(stripe_sandbox, payer, shop["keel_starter_monthly"])
    row = Subscription.objects.get(tenant=payer.tenant)
    created = only_event(action="subscription.created")
    assert (created.actor_kind, created.actor_label, created.tenant_id) == (ActorKind.STRIPE, "Stripe", payer.tenant_id)
    assert (created.target_type, created.target_id) == ("subscription", row.provider_subscription_id)
    assert created.after["status"] == "active" and created.after["plan_id"] == "starter"
    paid = only_event(action="invoice.paid")
    assert paid.actor_kind == ActorKind.STRIPE
    assert (paid.after["amount"], paid.after["credits"], paid.after["billing_reason"]) == (
        900,
        1000,
        "subscription_create",
    )
    assert only_event(action="credits.granted", actor_kind=ActorKind.STRIPE).after["credits"] == 1000

    invoice_paid(Invoice.objects.get(tenant=payer.tenant).provider_invoice_id)  # a replay writes nothing
    assert len(events(action="invoice.paid")) == 1

    stripe_sandbox.advance_subscription(row.provider_subscription_id)
    stripe_sandbox.wait_for_deliveries(timeout=30)
    renewed = only_event(action="subscription.renewed")
    assert renewed.after["current_period_end"] > renewed.before["current_period_end"]
    assert len(events(action="invoice.paid")) == 2


def test_cancel_asked_by_the_member_then_done_by_stripe(shop, stripe_sandbox, payer):
    buy(stripe_sandbox, payer, shop["keel_starter_monthly"])
    row = Subscription.objects.get(tenant=payer.tenant)
    with signed_in(payer.user):
        subscription_cancel(member=payer, subscription=row)
    stripe_sandbox.wait_for_deliveries(timeout=30)
    asked = only_event(action="subscription.cancel_requested")
    assert (asked.actor_kind, asked.actor_user_id, asked.after) == (
        ActorKind.USER,
        payer.user_id,
        {"at_period_end": True},
    )
    scheduled = only_event(action="subscription.cancel_scheduled")
    assert scheduled.actor_kind == ActorKind.STRIPE
    assert (scheduled.before["cancel_at_period_end"], scheduled.after["cancel_at_period_end"]) == (False, True)
    stripe_sandbox.advance_subscription(row.provider_subscription_id)
    stripe_sandbox.wait_for_deliveries(timeout=30)
    ended = only_event(action="subscription.canceled")
    assert ended.after["status"] == "canceled"


def test_an_upgrade_requested_then_applied(shop, stripe_sandbox, payer):
    buy(stripe_sandbox, payer, shop["keel_starter_monthly"])
    with signed_in(payer.user):
        checkout_start(
            member=payer,
            provider_price_id=shop["keel_pro_monthly"],
            success_url="https://k/s",
            cancel_url="https://k/c",
        )
    stripe_sandbox.wait_for_deliveries(timeout=30)
    asked = only_event(action="subscription.change_requested")
    assert (asked.actor_kind, asked.after["plan_id"], asked.after["kind"]) == (ActorKind.USER, "pro", "upgrade")
    changed = only_event(action="subscription.plan_changed")
    assert (changed.actor_kind, changed.before["plan_id"], changed.after["plan_id"]) == (
        ActorKind.STRIPE,
        "starter",
        "pro",
    )


def test_a_pack_bought_and_partly_refunded(shop, stripe_sandbox, payer):
    buy(stripe_sandbox, payer, shop["keel_credits_1000"])
    session = stripe.checkout.Session.list(limit=1).data[0]
    bought = only_event(action="checkout.completed")
    assert (bought.actor_kind, bought.target_id, bought.after["credits"]) == (ActorKind.STRIPE, session.id, 1000)

    stripe.Refund.create(payment_intent=session.payment_intent, amount=250)
    stripe_sandbox.wait_for_deliveries(timeout=30)
    refund = only_event(action="refund.applied")
    assert (refund.actor_kind, refund.after["amount"], refund.after["credits_taken"], refund.after["full"]) == (
        ActorKind.STRIPE,
        250,
        250,
        False,
    )
    assert only_event(action="credits.reversed").after["taken"] == 250


def test_a_lifetime_deal_bought_and_refunded_in_full(shop, stripe_sandbox, payer):
    buy(stripe_sandbox, payer, shop["keel_lifetime"])
    deal = Lifetime.objects.get(tenant=payer.tenant)
    assert only_event(action="lifetime.purchased").target_id == deal.provider_checkout_session_id
    assert events(action="checkout.completed") == []
    stripe.Refund.create(payment_intent=deal.provider_payment_intent_id)
    stripe_sandbox.wait_for_deliveries(timeout=30)
    ended = only_event(action="lifetime.refunded")
    assert (ended.actor_kind, ended.target_id) == (ActorKind.STRIPE, deal.provider_checkout_session_id)
