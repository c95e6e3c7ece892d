"""Benchmark: the organization dashboard (GET /o/<slug>/) against the sign-in page (GET /accounts/login/).

    .venv/bin/python bench/dashboard.py [--requests 300] [--rounds 6] [--transactions 100000] [--write-docs]

One organization with `--transactions` ledger rows spread over the last 60 days across 20
members (96% consumptions, the rest grants, repayments and expiries, as a ledger has), 8 live
grants, an active subscription and an API key; beside it 50 other organizations with 2,000
rows each, so the indexes hold other tenants' rows too. The database (`keel_bench_dashboard`
on 127.0.0.1, the machine's PostgreSQL) is copied from a migrated template made once, loaded,
then VACUUM ANALYZEd, as autovacuum would have left a ledger that is mostly history.

Both pages go through Django's test client in this process: URL routing, the whole middleware
stack, the templates, bench/settings.py (Keel's settings, DEBUG off), one kept database
connection. The dashboard is asked by the organization's owner (who sees every member's use:
the chart stacked by member), the sign-in page by a visitor without a session. After a
warm-up, the two pages alternate request by request for `--rounds` rounds of `--requests`
each (which goes first swaps every round), so that both meet the same load on a shared
machine; reported: median and p95 per page over all rounds, the time spent in the database,
the ratio of the medians (the goal: at most 2), the queries each page runs, and the chart
query's plan. With --write-docs the figures replace the dashboard block in docs/performance.md;
--reuse measures the database the last run loaded (after a change of code, not of schema).
"""

import argparse
import datetime as dt
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = os.environ.get("BENCH_DASHBOARD_DB", "keel_bench_dashboard")
os.environ["DATABASE_URL"] = f"postgres://root@127.0.0.1:5432/{DB}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 40)

import django  # noqa: E402
import psycopg  # noqa: E402

from bench.databases import create_from, ensure_postgres, migrated_template, use_database  # noqa: E402

DOCS = ROOT / "docs" / "performance.md"
START, END = "<!-- bench:dashboard:start -->", "<!-- bench:dashboard:end -->"
SLUG = "bench"
MEMBERS = 20
OTHER_ORGS, OTHER_ROWS = 50, 2_000
HISTORY_DAYS = 60


# --- data ---------------------------------------------------------------------------------------


def load(transactions: int) -> dict:
    from django.db import connection

    from billing.models import Price, PriceType, Subscription, SubscriptionStatus
    from core.time import MS_PER_DAY, now_ms
    from credits.models import CreditMode
    from credits.services import api_key_create, credits_grant
    from organizations.models import MemberRole, TenantMember, TenantMemberCreditLimit
    from organizations.services import tenant_create
    from tests.factories import UserFactory

    now = now_ms()
    owner = UserFactory(username="bench-owner", first_name="Bench", last_name="Owner")
    tenant = tenant_create(owner=owner, name="Bench Org", slug=SLUG)
    members = [owner]
    for n in range(MEMBERS - 1):
        user = UserFactory(username=f"bench-member-{n:02d}")
        role, permissions = (MemberRole.CUSTOM, ["view_all_usage"]) if n % 5 == 0 else (MemberRole.MEMBER, [])
        TenantMember.objects.create(tenant=tenant, user=user, role=role, permissions=permissions)
        TenantMemberCreditLimit.objects.create(tenant=tenant, user=user, credit_limit=-1)
        members.append(user)
    grants = []
    for n in range(8):
        monthly = n % 2 == 0
        grants.append(
            credits_grant(
                tenant=tenant,
                user=owner,
                amount=2_000_000,
                mode=CreditMode.SUBSCRIPTION if monthly else CreditMode.ONE_TIME_CREDITS,
                source_type="bench",
                source_id=f"bench-grant-{n}",
                expires_at=now + (n + 1) * 7 * MS_PER_DAY if monthly else None,
                now=now - (n * 7 + 1) * MS_PER_DAY,
            )
        )
    Price.objects.create(
        provider_price_id="price_bench_pro",
        product_id="prod_bench",
        product_name="Pro",
        currency="usd",
        unit_amount=4900,
        type=PriceType.RECURRING,
        interval="month",
        interval_count=1,
        metadata={"plan_id": "pro", "credits": "100000", "kind": "subscription"},
    )
    Subscription.objects.create(
        user=owner,
        tenant=tenant,
        plan_id="pro",
        status=SubscriptionStatus.ACTIVE,
        amount=4900,
        provider_subscription_id="sub_bench",
        provider_customer_id="cus_bench",
        provider_price_id="price_bench_pro",
        current_period_start=now - 10 * MS_PER_DAY,
        current_period_end=now + 20 * MS_PER_DAY,
    )
    api_key_create(tenant=tenant, user=owner, name="bench")

    others = []
    for n in range(OTHER_ORGS):
        user = UserFactory(username=f"other-owner-{n:02d}")
        other = tenant_create(owner=user, name=f"Other {n}", slug=f"other-{n}")
        grant = credits_grant(
            tenant=other, user=user, amount=100_000, mode=CreditMode.GRANT, source_type="bench", source_id=f"o{n}"
        )
        others.append((other.pk, user.pk, grant.pk))

    window = HISTORY_DAYS * MS_PER_DAY
    with connection.cursor() as cursor:
        # The organization's ledger: consumptions by every member (some more than others), and
        # the grants, repayments and expiries a ledger holds beside them, over HISTORY_DAYS days.
        cursor.execute(
            """
            INSERT INTO credit_transactions (id, user_id, tenant_id, credit_id, credits, type, description, created_at)
            SELECT gen_random_uuid(), (%(users)s::uuid[])[1 + floor(power(random(), 2) * %(members)s)::int], %(tenant)s,
                   (%(grants)s::uuid[])[1 + n %% 8],
                   CASE WHEN n %% 100 < 96 THEN -(1 + n %% 20) WHEN n %% 100 < 98 THEN 100 ELSE -5 END,
                   CASE WHEN n %% 100 < 95 THEN 'deduct' WHEN n %% 100 < 96 THEN 'deduct:overdraft'
                        WHEN n %% 100 < 98 THEN 'add:subscription' WHEN n %% 100 < 99 THEN 'deduct:repay'
                        ELSE 'expire' END,
                   'bench job ' || n, %(now)s - (random() * %(window)s)::bigint
            FROM generate_series(1, %(rows)s) AS n
            """,
            {
                "users": [str(u.pk) for u in members],
                "members": MEMBERS,
                "tenant": str(tenant.pk),
                "grants": [str(g.pk) for g in grants],
                "now": now,
                "window": window,
                "rows": transactions,
            },
        )
        cursor.execute(
            """
            INSERT INTO credit_transactions (id, user_id, tenant_id, credit_id, credits, type, description, created_at)
            SELECT gen_random_uuid(), o.user_id, o.tenant_id, o.grant_id, -1, 'deduct', 'other',
                   %s - (random() * %s)::bigint
            FROM unnest(%s::uuid[], %s::uuid[], %s::uuid[]) AS o(tenant_id, user_id, grant_id),
                 generate_series(1, %s)
            """,
            [
                now,
                window,
                [str(t) for t, _, _ in others],
                [str(u) for _, u, _ in others],
                [str(g) for _, _, g in others],
                OTHER_ROWS,
            ],
        )
    connection.close()
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return {"tenant": tenant, "owner": owner}


# --- measuring ----------------------------------------------------------------------------------


def timed(client, url: str, requests: int) -> list[float]:
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
    return times


def queries_of(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return len(queries)


def sql_time(client, url: str, requests: int) -> dict:
    """Median time per request spent in the database (all queries, and the chart's alone)."""
    from django.db import connection

    spent: dict[str, float] = {}

    def wrapper(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            key = "chart" if 'AS "day"' in sql else "other"
            spent[key] = spent.get(key, 0.0) + time.perf_counter() - started

    per_request = {"all": [], "chart": []}
    with connection.execute_wrapper(wrapper):
        for _ in range(requests):
            spent.clear()
            client.get(url)
            per_request["all"].append(sum(spent.values()))
            per_request["chart"].append(spent.get("chart", 0.0))
    return {key: statistics.median(values) * 1000 for key, values in per_request.items()}


def chart_plan(tenant) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the chart's query, as the dashboard runs it for an owner."""
    from django.db import connection

    from credits import selectors
    from credits.dashboard import CHART_DAYS

    window = selectors.usage_window(days=CHART_DAYS)
    sql, params = selectors.credits_used_per_day(tenant=tenant, window=window).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def chart_query_steps(tenant, requests: int) -> list[tuple[str, float]]:
    """The chart's query as it was first written and as it is, alternating run by run (medians):
    what the index and the query's shape were each worth."""
    from django.db import connection, transaction
    from django.db.models import Sum

    from credits import selectors
    from credits.dashboard import CHART_DAYS
    from credits.models import CONSUMPTION_TYPES, CreditTransaction, utc_day

    window = selectors.usage_window(days=CHART_DAYS)
    first = (
        CreditTransaction.objects.filter(
            tenant=tenant, type__in=CONSUMPTION_TYPES, created_at__gte=window.start_ms, created_at__lt=window.end_ms
        )
        .annotate(day=utc_day())
        .values_list("day", "user_id")
        .annotate(used=-Sum("credits"))
        .order_by()
    )
    now = selectors.credits_used_per_day(tenant=tenant, window=window)
    steps = [
        ("first version: `created_at` range, no ORDER BY; the ledger's two indexes only", first, True),
        ("the same query with `credit_tx_usage_idx`", first, False),
        ("as it is: the window by day (the index's expression), ordered as the index", now, False),
    ]
    times: dict[str, list[float]] = {name: [] for name, _, _ in steps}
    with connection.cursor() as cursor:
        for _ in range(requests):
            for name, rows, without_index in steps:
                sql, params = rows.query.sql_with_params()
                with transaction.atomic():
                    if without_index:
                        cursor.execute("DROP INDEX credit_tx_usage_idx")  # undone by the rollback
                    started = time.perf_counter()
                    cursor.execute(sql, params)
                    cursor.fetchall()
                    times[name].append(time.perf_counter() - started)
                    transaction.set_rollback(True)
    return [(name, statistics.median(values) * 1000) for name, values in times.items()]


def summary(times: list[float]) -> dict:
    ordered = sorted(times)
    return {
        "median": statistics.median(ordered) * 1000,
        "p95": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="per page per round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--transactions", type=int, default=100_000, help="the organization's ledger rows")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="measure the database the last run loaded")
    args = parser.parse_args()

    ensure_postgres()
    django.setup()
    from django.conf import settings
    from django.test import Client

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # the test client's host
    if args.reuse:
        use_database(DB)
        from accounts.models import User
        from organizations.models import Tenant

        data = {"tenant": Tenant.objects.get(slug=SLUG), "owner": User.objects.get(username="bench-owner")}
    else:
        create_from(DB, migrated_template(DB))
        use_database(DB)
        started = time.monotonic()
        data = load(args.transactions)
        print(f"loaded {args.transactions:,} transactions in {time.monotonic() - started:.0f} s", flush=True)

    pages = {"dashboard": f"/o/{SLUG}/", "sign-in": "/accounts/login/"}
    clients = {"dashboard": Client(), "sign-in": Client()}
    clients["dashboard"].force_login(data["owner"])
    for side, url in pages.items():
        timed(clients[side], url, 50)  # warm-up: templates compiled, connection and caches warm
    queries = {side: queries_of(clients[side], url) for side, url in pages.items()}
    times: dict[str, list[float]] = {side: [] for side in pages}
    for round_number in range(args.rounds):
        # Request by request, the two pages alternate (and which goes first swaps every round):
        # on a shared machine both meet the same load from one moment to the next.
        order = list(pages) if round_number % 2 == 0 else list(reversed(pages))
        for _ in range(args.requests):
            for side in order:
                times[side].extend(timed(clients[side], pages[side], 1))
        done = {side: statistics.median(run[-args.requests :]) * 1000 for side, run in times.items()}
        print(f"round {round_number + 1}: " + ", ".join(f"{s} {m:.2f} ms" for s, m in done.items()), flush=True)
    sql = sql_time(clients["dashboard"], pages["dashboard"], args.requests)
    figures = {side: summary(run) for side, run in times.items()}
    ratio = figures["dashboard"]["median"] / figures["sign-in"]["median"]
    plan = chart_plan(data["tenant"])
    steps = chart_query_steps(data["tenant"], max(20, args.requests // 5))

    run_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Run: {run_at}, {os.cpu_count()} cores, PostgreSQL on 127.0.0.1; {args.transactions:,} transactions "
        f"in the organization over {HISTORY_DAYS} days across {MEMBERS} members "
        f"(+{OTHER_ORGS * OTHER_ROWS:,} in {OTHER_ORGS} other organizations); "
        f"{args.rounds} rounds of {args.requests} requests per page, the pages alternating request by request:",
        "",
        "| page | median | p95 | queries |",
        "|---|---|---|---|",
        *(
            f"| {side} (`GET {pages[side]}`) | {f['median']:.2f} ms | {f['p95']:.2f} ms | {queries[side]} |"
            for side, f in figures.items()
        ),
        "",
        f"Dashboard / sign-in, medians: **{ratio:.2f}x** (goal: at most 2x); "
        f"p95: {figures['dashboard']['p95'] / figures['sign-in']['p95']:.2f}x. "
        f"Of the dashboard's median, about {sql['all']:.2f} ms is spent waiting for its queries, "
        f"{sql['chart']:.2f} ms of it for the chart's (medians of a separate pass).",
        "",
        "The chart's query alone, step by step (the three alternating, medians):",
        "",
        "| chart query | median |",
        "|---|---|",
        *(f"| {name} | {ms:.2f} ms |" for name, ms in steps),
        "",
        "The chart's query (the owner's view: every member), `EXPLAIN (ANALYZE, BUFFERS)`:",
        "",
        "```",
        plan,
        "```",
    ]
    print("\n".join(lines))
    if args.write_docs:
        text = DOCS.read_text()
        block = START + "\n" + "\n".join(lines) + "\n" + END
        if START in text:
            text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
        else:
            text = text.rstrip() + "\n\n## Organization dashboard\n\n`make bench-dashboard` (bench/dashboard.py).\n\n"
            text += block + "\n"
        DOCS.write_text(text)


if __name__ == "__main__":
    main()
