"""The organization dashboard (/o/<slug>/): its chart's data, notices, empty states, billing's
panel, isolation, the way there from `/`, and its queries pinned."""

import json
import re
import time

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from accounts.models import User, UserEmail
from billing.models import Subscription, SubscriptionStatus
from core.time import MS_PER_DAY, now_ms
from credits import dashboard as board
from credits import selectors
from credits.models import Credit, CreditTransaction, TransactionType
from credits.services import api_key_create, credits_consume, credits_grant
from organizations.models import MemberRole, TenantMember, TenantMemberCreditLimit
from organizations.tenancy import SESSION_KEY
from tests import factories
from tests.credits.helpers import add_member, give, make_org

pytestmark = pytest.mark.django_db

DAY = MS_PER_DAY


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def dashboard(client, tenant):
    response = client.get(f"/o/{tenant.slug}/")
    assert response.status_code == 200
    return response


def html(response) -> str:
    return response.content.decode()


def chart_json(response) -> dict:
    match = re.search(r'<script id="usage-chart-data" type="application/json">(.*?)</script>', html(response), re.S)
    assert match, "no chart data on the page"
    return json.loads(match.group(1))


def ledger(tenant, user, *, at: int, credits: int = -1, type: str = TransactionType.DEDUCT):
    return factories.CreditTransactionFactory(
        credit__tenant=tenant, tenant=tenant, user=user, credits=credits, type=type, created_at=at
    )


# --- the chart's data ----------------------------------------------------------------------


NOON = 20_000 * DAY + DAY // 2  # 2024-10-04 12:00 UTC: "today" for the selector tests


def used(tenant, *, user=None, days=30):
    window = selectors.usage_window(days=days, at_ms=NOON)
    rows = selectors.credits_used_per_day(tenant=tenant, window=window, user=user)
    return window, list(rows)


def test_the_window_is_whole_utc_days_ending_today():
    window = selectors.usage_window(days=30, at_ms=NOON)

    assert (window.first_day, window.days) == (20_000 - 29, 30)
    assert window.start_ms == (20_000 - 29) * DAY and window.end_ms == 20_001 * DAY


def test_days_are_utc_days_and_the_window_boundaries_hold(org):
    window = selectors.usage_window(days=30, at_ms=NOON)
    ledger(org, org.owner, at=window.start_ms - 1, credits=-100)  # the day before the window: out
    ledger(org, org.owner, at=window.start_ms, credits=-2)  # the first millisecond of the first day
    ledger(org, org.owner, at=window.start_ms + DAY - 1, credits=-3)  # its last millisecond
    ledger(org, org.owner, at=window.end_ms - 1, credits=-5)  # the last millisecond of today
    ledger(org, org.owner, at=window.end_ms, credits=-1000)  # tomorrow: out

    _, rows = used(org)

    assert sorted(rows) == [(window.first_day, org.owner.pk, 5), (20_000, org.owner.pk, 5)]


def test_only_consumption_counts_covered_or_on_overdraft(org):
    for type_, credits in [
        (TransactionType.DEDUCT, -4),
        (TransactionType.DEDUCT_OVERDRAFT, -3),
        (TransactionType.DEDUCT_REPAY, -50),
        (TransactionType.ADD_REPAY, 50),
        (TransactionType.ADD_PURCHASE, 500),
        (TransactionType.EXPIRE, -70),
        (TransactionType.REVERSE, -90),
    ]:
        ledger(org, org.owner, at=NOON, credits=credits, type=type_)

    _, rows = used(org)

    assert rows == [(20_000, org.owner.pk, 7)]


def test_missing_days_are_zero_and_members_are_series_busiest_first(org):
    mia = add_member(org, first_name="Mia", last_name="Moss")
    ledger(org, org.owner, at=NOON - 2 * DAY, credits=-4)
    ledger(org, mia, at=NOON - 2 * DAY, credits=-1)
    ledger(org, mia, at=NOON, credits=-9)
    window, rows = used(org)

    chart = board.usage_chart(
        rows, window=window, names=selectors.user_labels(user_ids=[mia.pk]), viewer_id=org.owner.pk
    )

    assert len(chart.days) == 30 and chart.days[-1].isoformat() == "2024-10-04"
    assert [(s.label, s.own, s.total) for s in chart.series] == [("Mia Moss", False, 10), ("You", True, 4)]
    assert chart.series[0].data == [0] * 27 + [1, 0, 9]
    assert chart.totals == [0] * 27 + [5, 0, 9] and chart.total == 14
    assert chart.busiest == (chart.days[-1], 9)


def test_own_only_reads_the_viewers_rows(org):
    mia = add_member(org)
    ledger(org, org.owner, at=NOON, credits=-4)
    ledger(org, mia, at=NOON, credits=-1)

    _, rows = used(org, user=mia)

    assert rows == [(20_000, mia.pk, 1)]


def test_past_eight_members_the_quietest_are_one_series():
    window = selectors.usage_window(days=3, at_ms=NOON)
    rows = [(20_000, f"user-{n}", 100 - n) for n in range(10)]

    chart = board.usage_chart(rows, window=window, names={f"user-{n}": f"U{n}" for n in range(10)}, viewer_id=None)

    assert [s.label for s in chart.series] == ["U0", "U1", "U2", "U3", "U4", "U5", "U6", "3 other members"]
    assert chart.series[-1].data == [0, 0, 93 + 92 + 91]
    assert chart.total == sum(100 - n for n in range(10))


def test_the_chart_query_reads_its_index(org):
    """The query's day expression must be the index's, or PostgreSQL scans the ledger instead."""
    window = selectors.usage_window(days=30)
    sql, params = selectors.credits_used_per_day(tenant=org, window=window).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "Index Only Scan using credit_tx_usage_idx" in plan, plan
    assert f"((created_at / {MS_PER_DAY})) >= {window.first_day}" in plan, plan  # the window is the index's range
    assert "Sort" not in plan and "HashAggregate" not in plan, plan  # grouped as the index is read


# --- the page: chart, as members see it ------------------------------------------------------


def test_an_owner_sees_everyone_stacked_and_a_member_only_their_own(org):
    give(org, 100)
    mia = add_member(org, username="mia", first_name="Mia", last_name="Moss")
    credits_consume(tenant=org, user=mia, amount=7)
    credits_consume(tenant=org, user=org.owner, amount=3)

    everyone = chart_json(dashboard(signed_in(org.owner), org))
    own = chart_json(dashboard(signed_in(mia), org))

    assert [(s["label"], s["own"], sum(s["data"])) for s in everyone["series"]] == [
        ("Mia Moss", False, 7),
        ("You", True, 3),
    ]
    assert len(everyone["days"]) == 30 and everyone["total"] == 10
    assert [(s["label"], sum(s["data"])) for s in own["series"]] == [("You", 7)]
    assert own["total"] == 7


def test_the_chart_has_a_text_equivalent_and_no_inline_script(org):
    give(org, 100)
    credits_consume(tenant=org, user=org.owner, amount=3)

    page = html(dashboard(signed_in(org.owner), org))

    assert 'role="img"' in page and "3 in total" in page
    assert '<table id="usage-table">' in page and "<details>" in page
    scripts = re.findall(r"<script([^>]*)>", page)
    assert scripts and all('src="' in attrs or 'type="application/json"' in attrs for attrs in scripts), scripts
    assert "/static/vendor/chart.js/chart.umd.min.js" in page and "/static/js/dashboard.js" in page


def test_chart_js_is_served_from_here_and_loaded_by_the_dashboard_only(org):
    give(org, 100)
    credits_consume(tenant=org, user=org.owner, amount=3)
    client = signed_in(org.owner)

    assert client.get("/static/vendor/chart.js/chart.umd.min.js").status_code == 200
    assert client.get("/static/js/dashboard.js").status_code == 200
    assert "chart.umd.min.js" not in html(client.get(f"/o/{org.slug}/credits/"))


def test_without_use_the_chart_says_so_and_loads_no_script(org):
    give(org, 100)

    page = html(dashboard(signed_in(org.owner), org))

    assert 'id="no-usage"' in page and "Nobody used any credits in the last 30 days" in page
    assert "chart.umd.min.js" not in page and 'id="usage-chart-data"' not in page


# --- balance, low balance, expiry, recent transactions ---------------------------------------


def test_balance_overdraft_and_recent_transactions(org):
    org.overdraft_enabled, org.overdraft_limit = True, 50
    org.save()
    give(org, 10)
    for n in range(12):
        credits_consume(tenant=org, user=org.owner, amount=1, description=f"job-{n:02d}")
        # Each in its own millisecond: rows of one millisecond have no order between them
        # (random uuid ids), and a consumption can take less than one.
        time.sleep(0.002)
    client = signed_in(org.owner)

    page = html(dashboard(client, org))

    assert '<span class="stat-value" id="balance">-2</span>' in page
    assert "Owes <strong>2</strong> credits of the 50 allowed" in page
    recent = page.split('id="recent-transactions"')[1].split("</table>")[0]
    assert recent.count("<tr>") == 1 + 10  # the head, and the last ten
    assert "job-11" in recent and "job-02" in recent and "job-01" not in recent
    assert f'href="/o/{org.slug}/credits/"' in page


def test_the_low_balance_notice_follows_recent_grants_and_the_floor(org):
    now = now_ms()
    give(org, 1_000)
    credits_consume(tenant=org, user=org.owner, amount=901)  # 99 left: under a tenth of 1,000
    low = html(dashboard(signed_in(org.owner), org))

    credits_grant(
        tenant=org, user=org.owner, amount=60, mode="one_time:credits", source_type="test", source_id="more"
    )  # 159 left of 1,060 granted lately: above a tenth
    enough = html(dashboard(signed_in(org.owner), org))

    assert 'id="low-balance"' in low and "less than a tenth of the 1,000 granted in the last 30 days" in low
    assert 'id="low-balance"' not in enough
    # Granted long ago, the floor alone counts: 12 left is not low, 9 is.
    Credit.objects.filter(tenant=org).update(created_at=now - 40 * DAY)
    credits_consume(tenant=org, user=org.owner, amount=147)
    assert 'id="low-balance"' not in html(dashboard(signed_in(org.owner), org))
    credits_consume(tenant=org, user=org.owner, amount=3)
    assert "Credits are running low:</strong> 9 left." in html(dashboard(signed_in(org.owner), org))


def test_low_balance_rule():
    assert board.low_balance_threshold(granted_recently=0) == board.LOW_BALANCE_FLOOR == 10
    assert board.low_balance_threshold(granted_recently=5_000) == 500
    assert board.balance_is_low(balance=499, granted_recently=5_000)
    assert not board.balance_is_low(balance=500, granted_recently=5_000)


def test_what_expires_next_is_the_soonest_usable_grant(org):
    now = now_ms()
    give(org, 40, expires_at=now + 30 * DAY)
    give(org, 25, expires_at=now + 3 * DAY)
    give(org, 500)  # never expires
    give(org, 70, now=now - 10 * DAY, expires_at=now - 1)  # expired already: not usable

    page = html(dashboard(signed_in(org.owner), org))

    assert '<span class="stat-value" id="expires-next">25</span>' in page
    assert "(in 2\xa0days" in page


def test_nothing_expiring_says_so(org):
    give(org, 500)

    assert "None of the usable credits expire." in html(dashboard(signed_in(org.owner), org))


# --- empty states, as each member may act --------------------------------------------------


def test_no_credits_offers_to_buy_to_whoever_may_and_tells_the_others(org):
    plain = add_member(org)

    owner_page = html(dashboard(signed_in(org.owner), org))
    member_page = html(dashboard(signed_in(plain), org))

    assert 'id="no-credits"' in owner_page and f'href="/o/{org.slug}/billing/#packs">Buy credits</a>' in owner_page
    assert 'id="no-credits"' in member_page and "Ask an owner to buy credits" in member_page
    assert "Buy credits</a>" not in member_page and 'href="/pricing/"' in member_page


def test_alone_an_owner_is_asked_to_invite_and_a_custom_member_never(org):
    alone = html(dashboard(signed_in(org.owner), org))
    custom = add_member(org, role="custom", permissions=["view_all_usage"])

    together = html(dashboard(signed_in(org.owner), org))

    assert 'id="invite-someone"' in alone and f'href="/o/{org.slug}/invitations/">Invite someone</a>' in alone
    assert 'id="invite-someone"' not in together
    assert '<span class="stat-value" id="member-count">2</span>' in together
    assert 'id="invite-someone"' not in html(dashboard(signed_in(custom), org))


def test_no_api_key_is_an_invitation_to_create_one_for_those_allowed(org):
    keys_manager = add_member(org, role="custom", permissions=["manage_api_keys"])
    plain = add_member(org)

    before = html(dashboard(signed_in(keys_manager), org))
    api_key_create(tenant=org, user=keys_manager, name="ci")
    after = html(dashboard(signed_in(keys_manager), org))

    assert f'href="/o/{org.slug}/api-keys/">Create an API key</a>' in before
    assert 'id="create-api-key"' not in after
    assert 'id="create-api-key"' not in html(dashboard(signed_in(plain), org))


def test_role_and_leave_stay_on_the_dashboard(org):
    plain = add_member(org)

    member_page = html(dashboard(signed_in(plain), org))

    assert "You are a member of this organization" in member_page
    assert f'action="/o/{org.slug}/leave/"' in member_page
    personal = make_org(is_default=True)
    assert f'action="/o/{personal.slug}/leave/"' not in html(dashboard(signed_in(personal.owner), personal))


# --- billing's panel ---------------------------------------------------------------------------


def test_the_plan_and_its_renewal_date(org):
    renews = 20_400 * DAY  # 2025-11-08
    factories.PriceFactory(provider_price_id="price_pro", product_name="Pro")
    factories.SubscriptionFactory(tenant=org, provider_price_id="price_pro", current_period_end=renews)

    page = html(dashboard(signed_in(org.owner), org))

    assert '<span class="stat-value truncate" id="plan-name" title="Pro">Pro</span>' in page
    assert "Renews on <strong>2025-11-08</strong>" in page and 'id="past-due"' not in page


def test_past_due_says_where_to_pay(org):
    plain = add_member(org)
    subscription = factories.SubscriptionFactory(
        tenant=org,
        status=SubscriptionStatus.PAST_DUE,
        raw_data={"latest_invoice": {"status": "open", "hosted_invoice_url": "https://pay.example/in_1"}},
    )

    owner_page = html(dashboard(signed_in(org.owner), org))

    assert 'id="past-due"' in owner_page and 'href="https://pay.example/in_1"' in owner_page
    Subscription.objects.filter(pk=subscription.pk).update(raw_data={})  # no open invoice known
    assert f'href="/o/{org.slug}/billing/">Update the card or pay' in html(dashboard(signed_in(org.owner), org))
    assert "Ask an owner to update the card." in html(dashboard(signed_in(plain), org))


def test_a_canceled_subscription_shows_its_end_and_a_lifetime_deal_shows_itself(org):
    ends = 20_400 * DAY
    factories.SubscriptionFactory(tenant=org, current_period_end=ends, raw_data={"cancel_at_period_end": True})
    factories.LifetimeFactory(tenant=org)

    page = html(dashboard(signed_in(org.owner), org))

    assert "Active until <strong>2025-11-08</strong>" in page
    assert "also has the lifetime deal" in page


def test_without_a_subscription_the_free_plan_leads_to_the_plans(org):
    page = html(dashboard(signed_in(org.owner), org))

    assert 'id="plan-name" title="Free plan"' in page and f'href="/o/{org.slug}/billing/#plans"' in page


def no_panel(*, member):
    return None


@override_settings(KEEL_DASHBOARD_PANELS=["tests.credits.test_dashboard.no_panel"])
def test_panels_come_from_the_setting_and_may_show_nothing(org):
    page = html(dashboard(signed_in(org.owner), org))

    assert 'id="plan-card"' not in page and 'id="balance-card"' in page


# --- isolation and the way in ----------------------------------------------------------------


def test_another_organizations_dashboard_is_not_found(org):
    outsider = make_org()

    assert signed_in(outsider.owner).get(f"/o/{org.slug}/").status_code == 404
    assert Client().get(f"/o/{org.slug}/")["Location"].startswith("/accounts/login/")


def test_home_sends_a_signed_in_user_to_the_current_organizations_dashboard(org):
    personal = make_org(owner=org.owner, is_default=True)
    client = signed_in(org.owner)

    first = client.get("/")
    client.get(f"/o/{org.slug}/credits/")  # visiting makes it current
    then = client.get("/")

    assert first.status_code == 302 and first["Location"] == f"/o/{personal.slug}/"
    assert client.session[SESSION_KEY] == str(org.pk)
    assert then.status_code == 302 and then["Location"] == f"/o/{org.slug}/"


def test_home_without_an_organization_leads_to_the_list():
    response = signed_in(factories.UserFactory()).get("/")

    assert response.status_code == 302 and response["Location"] == "/orgs/"


# --- queries -------------------------------------------------------------------------------------


def grow(tenant, *, members: int, transactions: int):
    """Bring the organization to `members` members (a third allowed to see all usage) and add
    `transactions` consumptions spread over them and over the last 60 days, in bulk."""
    have = TenantMember.objects.filter(tenant=tenant).count()
    users = User.objects.bulk_create(
        User(username=f"{tenant.slug}-bulk{n}", first_name="Bulk", last_name=str(n)) for n in range(have, members)
    )
    UserEmail.objects.bulk_create(
        UserEmail(user=u, email=f"{u.username}@example.com", is_primary=True, verified=True) for u in users
    )
    TenantMember.objects.bulk_create(
        TenantMember(tenant=tenant, user=u, role=MemberRole.CUSTOM, permissions=["view_all_usage"] if n % 3 else [])
        for n, u in enumerate(users)
    )
    TenantMemberCreditLimit.objects.bulk_create(TenantMemberCreditLimit(tenant=tenant, user=u) for u in users)
    everyone = list(TenantMember.objects.filter(tenant=tenant).values_list("user_id", flat=True))
    grant = give(tenant, 10_000_000, expires_at=now_ms() + 90 * DAY)
    now = now_ms()
    CreditTransaction.objects.bulk_create(
        CreditTransaction(
            tenant=tenant,
            user_id=everyone[n % len(everyone)],
            credit=grant,
            credits=-(1 + n % 7),
            type=TransactionType.DEDUCT,
            description=f"bulk {n}",
            created_at=now - (n * 7919) % (60 * DAY),
        )
        for n in range(transactions)
    )


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


# Session, user, membership; balance (usable grants, overdraft, the viewer's limit); the chart
# and its legend's names (those who see all); grants of the last 30 days; member count; recent
# transactions; API keys (those who manage them); billing's panel (subscription, lifetime deal,
# the price's name); the nav's organizations.
OWNER_QUERIES = 16
MEMBER_QUERIES = 14  # their own use only (no legend's names), no API keys


def test_the_dashboard_costs_the_same_with_10_or_1000_transactions_and_members(
    org, django_assert_num_queries, django_assert_max_num_queries
):
    factories.PriceFactory(provider_price_id="price_test", product_name="Pro")
    factories.SubscriptionFactory(tenant=org)
    plain = add_member(org)
    other = make_org()  # its members see a free plan
    owner, member, member_of_other = signed_in(org.owner), signed_in(plain), signed_in(other.owner)
    url = f"/o/{org.slug}/"
    for client, tenant in ((owner, org), (member, org), (member_of_other, other)):
        client.get(f"/o/{tenant.slug}/")  # the first visit stores the current organization
    grow(org, members=10, transactions=10)
    grow(other, members=10, transactions=10)
    small = (queries(owner, url), queries(member, url), queries(member_of_other, f"/o/{other.slug}/"))

    grow(org, members=1_000, transactions=1_000)
    grow(other, members=1_000, transactions=1_000)
    large = (queries(owner, url), queries(member, url), queries(member_of_other, f"/o/{other.slug}/"))

    assert large == small
    with django_assert_num_queries(OWNER_QUERIES):
        owner_page = owner.get(url)
    with django_assert_num_queries(MEMBER_QUERIES):
        member.get(url)
    with django_assert_max_num_queries(OWNER_QUERIES):
        member_of_other.get(f"/o/{other.slug}/")
    legend = chart_json(owner_page)["series"]
    assert len(legend) == board.CHART_SERIES and legend[-1]["label"].endswith("other members")
