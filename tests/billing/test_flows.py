"""Billing end to end: Keel's services against the Stripe sandbox over HTTP, the sandbox's
webhooks delivered to dj-stripe's real view on a live server, and Keel's receivers."""

import io
import uuid

import pytest
import stripe
from djstripe import models as djstripe

from billing.models import EventProblem, Invoice, Lifetime, RefundReversal, Subscription
from billing.services import invoice_paid
from billing.services.checkout import checkout_start, subscription_cancel
from core.errors import Conflict, PermissionDenied
from credits.models import Credit, CreditMode
from organizations.models import TenantMember
from organizations.services import tenant_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def buy(stripe_sandbox, member, price_id, **complete):
    result = checkout_start(
        member=member,
        provider_price_id=price_id,
        success_url="https://keel.test/ok?session={CHECKOUT_SESSION_ID}",
        cancel_url="https://keel.test/cancel",
    )
    stripe_sandbox.complete_checkout(result.id, **complete)
    stripe_sandbox.wait_for_deliveries(timeout=30)
    return result


def grants(tenant):
    return list(Credit.objects.filter(tenant=tenant, provider="stripe").order_by("created_at"))


def test_a_subscription_grants_each_paid_periods_credits_expiring_at_its_end(shop, stripe_sandbox, owner):
    buy(stripe_sandbox, owner, shop["keel_starter_monthly"])
    row = Subscription.objects.get(tenant=owner.tenant)
    stripe_sandbox.advance_subscription(row.provider_subscription_id)
    stripe_sandbox.wait_for_deliveries(timeout=30)

    row.refresh_from_db()
    first, second = grants(owner.tenant)
    assert (row.status, row.plan_id, row.amount, row.user_id) == ("active", "starter", 900, owner.user_id)
    assert (first.total_credits, first.mode, first.source_type) == (1000, CreditMode.SUBSCRIPTION, "invoice")
    # Each period's credits expire when it ends: the first when the second starts.
    assert first.expires_at == row.current_period_start
    assert second.expires_at == row.current_period_end
    assert {i.billing_reason for i in Invoice.objects.filter(tenant=owner.tenant)} == {
        "subscription_create",
        "subscription_cycle",
    }
    assert all(i.hosted_invoice_url and i.invoice_pdf and i.paid_at for i in Invoice.objects.all())
    assert not EventProblem.objects.exists()
    assert djstripe.WebhookEventTrigger.objects.exclude(processed=True).count() == 0


def test_the_same_invoice_twice_grants_once(shop, stripe_sandbox, owner):
    buy(stripe_sandbox, owner, shop["keel_starter_monthly"])
    invoice = Invoice.objects.get(tenant=owner.tenant)

    invoice_paid(invoice.provider_invoice_id)
    invoice_paid(invoice.provider_invoice_id)

    assert len(grants(owner.tenant)) == 1


def test_a_credit_pack_and_its_refunds(shop, stripe_sandbox, owner):
    buy(stripe_sandbox, owner, shop["keel_credits_1000"])
    [pack] = grants(owner.tenant)
    session = stripe.checkout.Session.list(limit=1).data[0]

    stripe.Refund.create(payment_intent=session.payment_intent, amount=250)
    stripe_sandbox.wait_for_deliveries(timeout=30)
    pack.refresh_from_db()
    partly = pack.remaining_credits
    stripe.Refund.create(payment_intent=session.payment_intent)
    stripe_sandbox.wait_for_deliveries(timeout=30)
    pack.refresh_from_db()

    assert (pack.total_credits, pack.mode, pack.source_id) == (1000, CreditMode.ONE_TIME_CREDITS, session.id)
    assert pack.expires_at is not None
    assert partly == 750
    assert pack.remaining_credits == 0
    assert sorted(r.credits for r in RefundReversal.objects.all()) == [250, 750]


def test_a_lifetime_deal_once_and_ended_by_a_full_refund(shop, stripe_sandbox, owner):
    buy(stripe_sandbox, owner, shop["keel_lifetime"])
    deal = Lifetime.objects.get(tenant=owner.tenant)
    [grant] = grants(owner.tenant)
    with pytest.raises(Conflict) as again:
        checkout_start(
            member=owner, provider_price_id=shop["keel_lifetime"], success_url="https://k/s", cancel_url="https://k/c"
        )

    stripe.Refund.create(payment_intent=deal.provider_payment_intent_id)
    stripe_sandbox.wait_for_deliveries(timeout=30)

    deal.refresh_from_db()
    grant.refresh_from_db()
    assert (grant.total_credits, grant.mode, grant.expires_at) == (50000, CreditMode.ONE_TIME_LIFETIME, None)
    assert again.value.code == "lifetime_owned"
    assert deal.refunded_at is not None and grant.remaining_credits == 0


def test_an_upgrade_is_invoiced_now_and_grants_the_difference(shop, stripe_sandbox, owner):
    buy(stripe_sandbox, owner, shop["keel_starter_monthly"])

    result = checkout_start(
        member=owner, provider_price_id=shop["keel_pro_monthly"], success_url="https://k/s", cancel_url="https://k/c"
    )
    stripe_sandbox.wait_for_deliveries(timeout=30)

    row = Subscription.objects.get(tenant=owner.tenant)
    first, difference = grants(owner.tenant)
    assert (result.kind, result.url) == ("upgrade", None)
    assert (row.plan_id, row.provider_price_id, row.amount) == ("pro", shop["keel_pro_monthly"], 2900)
    assert 0 < difference.total_credits <= 4000  # (5000 - 1000) credits for what is left of the period
    assert difference.expires_at == row.current_period_end


def test_a_downgrade_waits_for_the_periods_end(shop, stripe_sandbox, owner):
    buy(stripe_sandbox, owner, shop["keel_pro_monthly"])
    row = Subscription.objects.get(tenant=owner.tenant)

    result = checkout_start(
        member=owner,
        provider_price_id=shop["keel_starter_monthly"],
        success_url="https://k/s",
        cancel_url="https://k/c",
    )
    stripe_sandbox.wait_for_deliveries(timeout=30)
    row.refresh_from_db()
    before = row.provider_price_id
    stripe_sandbox.advance_subscription(row.provider_subscription_id)
    stripe_sandbox.wait_for_deliveries(timeout=30)
    row.refresh_from_db()

    assert result.kind == "downgrade"
    assert before == shop["keel_pro_monthly"]
    assert (row.provider_price_id, row.plan_id) == (shop["keel_starter_monthly"], "starter")
    assert [g.total_credits for g in grants(owner.tenant)] == [5000, 1000]


def test_a_failed_renewal_is_past_due_until_paid(shop, stripe_sandbox, owner):
    buy(stripe_sandbox, owner, shop["keel_starter_monthly"])
    row = Subscription.objects.get(tenant=owner.tenant)
    stripe_sandbox.set_card_declines(row.provider_customer_id)
    stripe_sandbox.advance_subscription(row.provider_subscription_id)
    stripe_sandbox.wait_for_deliveries(timeout=30)
    row.refresh_from_db()
    past_due = row.status
    open_invoice = stripe.Invoice.list(customer=row.provider_customer_id, status="open").data[0]
    # The row keeps the open invoice, so the billing page links to its page to pay.
    assert row.raw_data["latest_invoice"]["hosted_invoice_url"] == open_invoice.hosted_invoice_url

    stripe_sandbox.set_card_declines(row.provider_customer_id, declines=False)
    stripe.Invoice.pay(open_invoice.id)
    stripe_sandbox.wait_for_deliveries(timeout=30)
    row.refresh_from_db()

    assert past_due == "past_due"
    assert row.status == "active"
    assert len(grants(owner.tenant)) == 2


def test_cancel_at_period_end_then_canceled_at_the_end(shop, stripe_sandbox, owner):
    buy(stripe_sandbox, owner, shop["keel_starter_monthly"])
    row = Subscription.objects.get(tenant=owner.tenant)

    subscription_cancel(member=owner, subscription=row)
    stripe_sandbox.wait_for_deliveries(timeout=30)
    row.refresh_from_db()
    still = (row.status, row.raw_data["cancel_at_period_end"])
    stripe_sandbox.advance_subscription(row.provider_subscription_id)
    stripe_sandbox.wait_for_deliveries(timeout=30)
    row.refresh_from_db()

    assert still == ("active", True)
    assert row.status == "canceled"


def test_a_member_without_the_billing_permission_cannot_buy(shop, owner):
    user = UserFactory()
    member = TenantMember.objects.create(tenant=owner.tenant, user=user, role="member", permissions=[])
    with pytest.raises(PermissionDenied):
        checkout_start(
            member=member, provider_price_id=shop["keel_credits_1000"], success_url="https://k", cancel_url="https://k"
        )


def test_an_event_for_an_unknown_organization_is_recorded_not_retried(shop, stripe_sandbox):
    customer = stripe.Customer.create(email="stranger@example.com")
    session = stripe.checkout.Session.create(
        mode="payment",
        customer=customer.id,
        line_items=[{"price": shop["keel_credits_1000"], "quantity": 1}],
        metadata={"keel_tenant_id": str(uuid.uuid4()), "keel_user_id": str(uuid.uuid4())},
    )
    stripe_sandbox.complete_checkout(session.id)
    stripe_sandbox.wait_for_deliveries(timeout=30)

    assert {d["state"] for d in stripe_sandbox.deliveries()} == {"succeeded"}
    problem = EventProblem.objects.get(event_type="checkout.session.completed")
    assert "does not exist" in problem.problem
    assert not Credit.objects.filter(provider="stripe").exists()


def test_reconcile_repairs_what_lost_webhooks_left_undone_and_then_changes_nothing(shop, stripe_sandbox, owner):
    from django.core.management import call_command

    for endpoint in stripe.WebhookEndpoint.list().data:  # every webhook from now on is lost
        stripe.WebhookEndpoint.modify(endpoint.id, disabled=True)
    buy(stripe_sandbox, owner, shop["keel_starter_monthly"])
    buy(stripe_sandbox, owner, shop["keel_credits_1000"])
    pack_session = stripe.checkout.Session.list(limit=1).data[0]
    stripe.Refund.create(payment_intent=pack_session.payment_intent, amount=500)
    assert not Credit.objects.filter(tenant=owner.tenant).exclude(source_type="signup").exists()

    def reconcile(*args) -> str:
        out = io.StringIO()
        call_command("billing_reconcile", *args, stdout=out)
        return out.getvalue()

    dry = reconcile("--dry-run")
    nothing_yet = Credit.objects.filter(provider="stripe").count()
    first = reconcile()
    second = reconcile()

    assert "would repair subscription" in dry and nothing_yet == 0
    assert "repaired subscription" in first and "repaired checkout session" in first
    assert "repaired invoice" in first  # the pack's refund is taken back as its grant is made
    assert second.strip().endswith("0 repaired, 0 skipped.")
    row = Subscription.objects.get(tenant=owner.tenant)
    pack = Credit.objects.get(source_id=pack_session.id)
    assert row.status == "active"
    assert sorted(g.total_credits for g in grants(owner.tenant)) == [1000, 1000]
    assert pack.remaining_credits == 500


def test_checkout_makes_a_new_customer_when_stripe_no_longer_has_the_users(shop, stripe_sandbox, owner):
    from accounts.models import UserProviderCustomer

    buy(stripe_sandbox, owner, shop["keel_credits_1000"])
    old = UserProviderCustomer.objects.get(user=owner.user).customer_id
    stripe.Customer.delete(old)

    buy(stripe_sandbox, owner, shop["keel_credits_5000"])

    new = UserProviderCustomer.objects.get(user=owner.user).customer_id
    assert new != old and stripe.Customer.retrieve(new).email == owner.user.email
    assert sorted(g.total_credits for g in grants(owner.tenant)) == [1000, 5000]


def test_a_receipt_for_each_paid_invoice_unless_unwanted_and_owners_told_of_a_failure(
    shop, stripe_sandbox, owner, mailoutbox
):
    from accounts.models import EmailType, UserEmailPreference

    buy(stripe_sandbox, owner, shop["keel_starter_monthly"])
    receipts = [m for m in mailoutbox if m.subject.startswith("Receipt")]
    row = Subscription.objects.get(tenant=owner.tenant)
    UserEmailPreference.objects.create(user=owner.user, email_type=EmailType.PAYMENT_RECEIPTS, subscribed=False)
    stripe_sandbox.advance_subscription(row.provider_subscription_id)
    stripe_sandbox.wait_for_deliveries(timeout=30)
    after_opt_out = [m for m in mailoutbox if m.subject.startswith("Receipt")]
    stripe_sandbox.set_card_declines(row.provider_customer_id)
    stripe_sandbox.advance_subscription(row.provider_subscription_id)
    stripe_sandbox.wait_for_deliveries(timeout=30)

    [receipt] = receipts
    assert receipt.to == [owner.user.email] and "$9.00" in receipt.subject
    assert "1000 credits were added" in receipt.body and "List-Unsubscribe" in receipt.extra_headers
    assert after_opt_out == receipts  # the renewal's receipt is not wanted
    [failed] = [m for m in mailoutbox if m.subject.startswith("Payment failed")]
    open_invoice = stripe.Invoice.list(customer=row.provider_customer_id, status="open").data[0]
    assert failed.to == [owner.user.email]
    assert open_invoice.hosted_invoice_url in failed.body and "try again on" in failed.body


def test_deleting_the_organization_or_the_paying_account_cancels_at_stripe(shop, stripe_sandbox, owner):
    from accounts.services import user_delete
    from organizations.services import tenant_delete

    buy(stripe_sandbox, owner, shop["keel_starter_monthly"])
    org_sub = Subscription.objects.get(tenant=owner.tenant)
    other = tenant_create(owner=owner.user, name="Second Org")
    second = TenantMember.objects.get(tenant=other, user=owner.user)
    buy(stripe_sandbox, second, shop["keel_pro_monthly"])
    account_sub = Subscription.objects.get(tenant=other)

    tenant_delete(tenant=owner.tenant, actor=owner, confirm_name="Analytical Engines")
    first = stripe.Subscription.retrieve(org_sub.provider_subscription_id).status
    still = stripe.Subscription.retrieve(account_sub.provider_subscription_id).status
    user_delete(user=owner.user)
    stripe_sandbox.wait_for_deliveries(timeout=30)

    assert (first, still) == ("canceled", "active")
    assert stripe.Subscription.retrieve(account_sub.provider_subscription_id).status == "canceled"
    assert set(Subscription.objects.values_list("status", flat=True)) == {"canceled"}


def test_staff_refund_a_lifetime_deal_and_resync_an_invoice_from_the_admin(shop, stripe_sandbox, owner, client):
    from django.urls import reverse

    from core.admin import APPLY

    buy(stripe_sandbox, owner, shop["keel_lifetime"])
    buy(stripe_sandbox, owner, shop["keel_starter_monthly"])
    deal = Lifetime.objects.get(tenant=owner.tenant)
    invoice = Invoice.objects.get(tenant=owner.tenant)
    Invoice.objects.filter(pk=invoice.pk).update(hosted_invoice_url="")  # drifted
    client.force_login(UserFactory(role="owner"))  # a site owner is staff

    confirm = client.post(
        reverse("admin:billing_lifetime_changelist"), {"action": "refund", "_selected_action": [deal.pk]}
    )
    refunded = client.post(
        reverse("admin:billing_lifetime_changelist"),
        {"action": "refund", "_selected_action": [deal.pk], APPLY: "1"},
    )
    resynced = client.post(
        reverse("admin:billing_invoice_changelist"), {"action": "resync", "_selected_action": [invoice.pk]}
    )
    stripe_sandbox.wait_for_deliveries(timeout=30)

    deal.refresh_from_db()
    invoice.refresh_from_db()
    grant = Credit.objects.get(source_id=deal.provider_checkout_session_id)
    assert confirm.status_code == 200 and b"Refund in full" in confirm.content
    assert refunded.status_code == 302 and resynced.status_code == 302
    assert deal.refunded_at is not None and grant.remaining_credits == 0
    assert stripe.Charge.list(customer=deal.provider_customer_id).data[-1].refunded is True
    assert invoice.hosted_invoice_url


def test_a_trials_zero_invoice_grants_only_the_prices_trial_credits(shop, stripe_sandbox, owner):
    from billing.services import customer_for

    customer = customer_for(user=owner.user)
    metadata = {"keel_tenant_id": str(owner.tenant_id), "keel_user_id": str(owner.user_id)}
    trial_price = stripe.Price.create(
        product="keel_pro",
        currency="usd",
        unit_amount=2900,
        recurring={"interval": "month"},
        metadata={"plan_id": "pro-trial", "kind": "subscription", "credits": "5000", "trial_credits": "100"},
    )
    stripe.PaymentMethod.attach("pm_card_visa", customer=customer.customer_id)
    for price in (shop["keel_starter_monthly"], trial_price.id):
        stripe.Subscription.create(
            customer=customer.customer_id,
            items=[{"price": price}],
            trial_period_days=14,
            payment_behavior="default_incomplete",
            metadata=metadata,
        )
    stripe_sandbox.wait_for_deliveries(timeout=30)

    assert set(Subscription.objects.values_list("status", flat=True)) == {"active"}  # trialing
    assert [g.total_credits for g in grants(owner.tenant)] == [100]  # starter has no trial credits
