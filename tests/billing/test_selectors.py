"""billing.selectors: an organization's plan, its invoices, and what is for sale."""

import pytest

from billing.models import PriceType, SubscriptionStatus
from billing.selectors import sellable_prices, tenant_invoices, tenant_plan
from core.time import MS_PER_DAY, now_ms
from tests.factories import InvoiceFactory, LifetimeFactory, PriceFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


def test_without_anything_bought_the_plan_is_free(tenant, django_assert_num_queries):
    with django_assert_num_queries(2):
        plan = tenant_plan(tenant)

    assert (plan.kind, plan.plan_id, plan.status, plan.subscription, plan.lifetime) == (
        "free",
        "free",
        "active",
        None,
        None,
    )
    assert (plan.renews_at, plan.ends_at, plan.past_due, plan.amount) == (None, None, False, None)


@pytest.mark.parametrize("status", ["active", "past_due"])
def test_an_active_or_past_due_subscription_is_the_plan_in_one_query(tenant, status, django_assert_num_queries):
    LifetimeFactory(tenant=tenant)
    subscription = SubscriptionFactory(tenant=tenant, status=status, plan_id="pro")

    with django_assert_num_queries(1):
        plan = tenant_plan(tenant)

    assert (plan.kind, plan.plan_id, plan.status, plan.subscription) == ("subscription", "pro", status, subscription)
    assert plan.past_due is (status == "past_due")
    assert (plan.renews_at, plan.ends_at) == (subscription.current_period_end, None)


@pytest.mark.parametrize("status", [SubscriptionStatus.PENDING, SubscriptionStatus.CANCELED])
def test_a_pending_or_canceled_subscription_is_not_the_plan(tenant, status):
    SubscriptionFactory(tenant=tenant, status=status)

    assert tenant_plan(tenant).kind == "free"


def test_the_lifetime_deal_is_the_plan_without_a_subscription_until_refunded(tenant):
    deal = LifetimeFactory(tenant=tenant, plan_id="lifetime")
    SubscriptionFactory(tenant=tenant, status=SubscriptionStatus.CANCELED)
    before = tenant_plan(tenant)

    deal.refunded_at = now_ms()
    deal.save()

    assert (before.kind, before.plan_id, before.lifetime, before.renews_at) == ("lifetime", "lifetime", deal, None)
    assert tenant_plan(tenant).kind == "free"


def test_cancel_at_period_end_gives_the_end_date_instead_of_a_renewal(tenant):
    end = now_ms() + 10 * MS_PER_DAY
    SubscriptionFactory(tenant=tenant, current_period_end=end, raw_data={"cancel_at_period_end": True})

    plan = tenant_plan(tenant)

    assert (plan.renews_at, plan.ends_at, plan.cancel_at_period_end) == (None, end, True)


def test_a_cancel_date_at_stripe_is_the_end(tenant):
    SubscriptionFactory(tenant=tenant, raw_data={"cancel_at_period_end": False, "cancel_at": 1_900_000_000})

    assert tenant_plan(tenant).ends_at == 1_900_000_000_000


def test_past_due_pays_on_the_open_invoice_when_the_data_has_it(tenant):
    SubscriptionFactory(
        tenant=tenant,
        status="past_due",
        raw_data={"latest_invoice": {"status": "open", "hosted_invoice_url": "https://pay.example/in_1"}},
    )

    assert tenant_plan(tenant).pay_url == "https://pay.example/in_1"


def test_the_invoices_are_the_paid_ones_newest_first_with_their_number(tenant, django_assert_num_queries):
    old = InvoiceFactory(tenant=tenant, paid_at=now_ms() - MS_PER_DAY, raw_data={"number": "K-1"})
    new = InvoiceFactory(tenant=tenant, raw_data={"number": "K-2"})
    InvoiceFactory(tenant=tenant, paid_at=None)
    InvoiceFactory()  # another organization's

    with django_assert_num_queries(1):
        rows = list(tenant_invoices(tenant))

    assert [(row.pk, row.number) for row in rows] == [(new.pk, "K-2"), (old.pk, "K-1")]


def test_sellable_prices_are_active_plans_grouped_for_display(db, django_assert_num_queries):
    def sub(plan_id, amount, interval, credits="100"):
        metadata = {"plan_id": plan_id, "kind": "subscription", "credits": credits}
        return PriceFactory(unit_amount=amount, interval=interval, metadata=metadata, product_name=plan_id.title())

    pro_yearly = sub("pro", 29000, "year")
    starter_monthly = sub("starter", 900, "month")
    pro_monthly = sub("pro", 2900, "month")
    starter_yearly = sub("starter", 9000, "year")
    archived = sub("archived", 100, "month")
    archived.active = False
    archived.save()
    one_time = {"type": PriceType.ONE_TIME, "interval": "", "interval_count": None}
    pack = PriceFactory(unit_amount=1000, metadata={"plan_id": "p", "kind": "credits", "credits": "1000"}, **one_time)
    deal = PriceFactory(unit_amount=29900, metadata={"plan_id": "l", "kind": "lifetime", "credits": "9"}, **one_time)
    PriceFactory(metadata={"plan_id": "bad"})  # no kind, no credits: not a plan
    PriceFactory(metadata={"plan_id": "x", "kind": "credits", "credits": "5"})  # a recurring "pack": not a plan

    with django_assert_num_queries(1):
        catalogue = sellable_prices()

    assert [(offer.plan_id, offer.name) for offer in catalogue.subscriptions] == [
        ("starter", "Starter"),
        ("pro", "Pro"),
    ]
    starter, pro = catalogue.subscriptions
    assert (starter.monthly.price, starter.yearly.price) == (starter_monthly, starter_yearly)
    assert (pro.monthly.price, pro.yearly.price) == (pro_monthly, pro_yearly)
    assert [item.price for item in catalogue.packs] == [pack]
    assert [item.price for item in catalogue.lifetime] == [deal]
    assert len(catalogue.prices) == 6
    assert catalogue.get(pack.provider_price_id).plan.credits == 1000
    assert pro.yearly.monthly_amount == pytest.approx(29000 / 12)
