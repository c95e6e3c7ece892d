"""Benchmark: POST /api/v1/orgs/{slug}/credits/consume/ against the raw-SQL ceiling.

    .venv/bin/python bench/credits_consume.py [--requests 20000] [--orgs 32] [--write-docs]

Runs Keel under gunicorn on PostgreSQL (database `keel_bench`, created and
migrated if needed), drives it with wrk from 16 concurrent connections for a
fixed number of requests, and reports:

1. raw-SQL ceiling (bench/views.py), one organization and many;
2. Keel's consume endpoint with API-key auth, one organization and many;
3. consume latency with an empty ledger vs. 100,000 past transactions and 50 live grants.

After each Keel run the ledger invariants are checked in SQL. With
--write-docs the figures replace the results block in docs/performance.md.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = os.environ.get("BENCH_DB", "keel_bench")
DATABASE_URL = f"postgres://root@127.0.0.1:5432/{DB_NAME}"
CONNECTIONS = 16
THREADS_PER_WORKER = 4  # default; --threads 1 runs sync workers
WRK_THREADS = 2
HUGE = 2_000_000_000  # a grant is at most 2**31 - 1 credits (the ledger column is INTEGER)


def sh(*args, **kwargs):
    return subprocess.run(args, check=True, text=True, capture_output=True, **kwargs)


def ensure_tools():
    if shutil.which("wrk") is None:
        print("installing wrk (Debian package) ...")
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    ready = subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode == 0
    if not ready:
        cluster = os.listdir("/etc/postgresql")[0]
        sh("pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main", "start")


def ensure_database(fresh: bool):
    exists = sh(
        "psql",
        "-h",
        "127.0.0.1",
        "-U",
        "root",
        "-d",
        "postgres",
        "-tAc",
        f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'",
    ).stdout.strip()
    if fresh and exists:
        sh("psql", "-h", "127.0.0.1", "-U", "root", "-d", "postgres", "-c", f"DROP DATABASE {DB_NAME}")
        exists = ""
    if not exists:
        sh("psql", "-h", "127.0.0.1", "-U", "root", "-d", "postgres", "-c", f"CREATE DATABASE {DB_NAME}")
    print(f"migrating {DB_NAME} (~40 s the first time) ...")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True, env=django_env())


def django_env():
    return {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "CONN_MAX_AGE": "600",
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    def __init__(self, workers: int, threads: int = THREADS_PER_WORKER):
        self.port = free_port()
        self.workers = workers
        self.threads = threads

    def __enter__(self):
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.proc = subprocess.Popen(
            [
                gunicorn,
                "bench.wsgi",
                # The same server for the ceiling and for Keel: the comparison stays fair.
                "--worker-class",
                "gthread" if self.threads > 1 else "sync",
                "--workers",
                str(self.workers),
                "--threads",
                str(self.threads),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
                "--backlog",
                "256",
            ],
            cwd=ROOT,
            env=django_env(),
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *exc):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"


def wrk(url: str, *, mode: str, targets: list[str], paths: list[str], requests: int) -> dict:
    per_thread = max(requests // WRK_THREADS, 1)
    done_dir = tempfile.mkdtemp(prefix="bench-wrk-")
    env = {
        "BENCH_DONE_DIR": done_dir,
        **os.environ,
        "BENCH_MODE": mode,
        "BENCH_TARGETS": ",".join(targets),
        "BENCH_PATHS": ",".join(paths),
        "BENCH_REQUESTS_PER_THREAD": str(per_thread),
    }
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", "-d600s", "--timeout", "10s"]
    command += ["-s", str(ROOT / "bench" / "consume.lua"), url]
    proc = subprocess.Popen(command, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    # wrk runs for its duration; once every thread has done its share, SIGINT
    # makes it stop and print the summary (repeated: the first may land on a
    # thread that is still winding down).
    while proc.poll() is None:
        if len(os.listdir(done_dir)) >= WRK_THREADS:
            time.sleep(0.2)
            proc.send_signal(signal.SIGINT)
        time.sleep(0.1)
    out, err = proc.communicate()
    shutil.rmtree(done_dir, ignore_errors=True)
    match = re.search(r"BENCH requests=(\d+) errors=(\d+) rps=([\d.]+) p50_ms=([\d.]+) p99_ms=([\d.]+)", out)
    if not match:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    keys = ("requests", "errors", "rps", "p50_ms", "p99_ms")
    return {k: float(v) if "." in v else int(v) for k, v in zip(keys, match.groups(), strict=True)}


# --- data ---------------------------------------------------------------------------------------


def setup_django():
    os.environ.update(django_env())
    import django

    django.setup()


def make_org(slug: str, *, grants: int = 1, credits_each: int = HUGE):
    """An organization with an owner, `grants` live grants and an API key."""
    from accounts.services import user_create
    from credits.models import CreditMode
    from credits.services import credits_grant
    from credits.services.api_keys import api_key_create
    from organizations.services import tenant_create

    user = user_create(username=f"{slug}-owner", email=f"{slug}@bench.localhost", password=None, email_verified=True)
    tenant = tenant_create(owner=user, name=slug, slug=slug)
    created = [
        credits_grant(
            tenant=tenant,
            user=user,
            amount=credits_each,
            mode=CreditMode.GRANT,
            source_type="bench",
            source_id=f"{slug}-grant-{i}",
            priority=50 + i % 5,
        )
        for i in range(grants)
    ]
    _, raw_key = api_key_create(tenant=tenant, user=user, name="bench")
    return tenant, user, created, raw_key


def add_history(tenant, user, grants, rows: int):
    """`rows` past deductions spread over the grants, balanced so the invariants hold."""
    from django.db import connection

    from core.time import now_ms

    ids = [str(g.id) for g in grants]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO credit_transactions (id, user_id, tenant_id, credit_id, credits, type, description, created_at)
            SELECT gen_random_uuid(), %s, %s, (%s::uuid[])[1 + n %% %s], -1, 'deduct', 'history', %s - n
            FROM generate_series(1, %s) AS n
            """,
            [user.id, tenant.id, ids, len(ids), now_ms() - 1000, rows],
        )
        cursor.execute(
            """
            UPDATE credits c SET remaining_credits = c.remaining_credits + t.total
            FROM (SELECT credit_id, SUM(credits) AS total FROM credit_transactions
                  WHERE tenant_id = %s AND description = 'history' GROUP BY credit_id) t
            WHERE c.id = t.credit_id
            """,
            [tenant.id],
        )
        cursor.execute(
            "UPDATE tenant_member_credit_limits SET used_credits = used_credits + %s"
            " WHERE tenant_id = %s AND user_id = %s",
            [rows, tenant.id, user.id],
        )
        cursor.execute("ANALYZE credit_transactions; ANALYZE credits;")


def reset_bench_data():
    """Start from empty Keel tables (the schema stays)."""
    from django.apps import apps
    from django.db import connection

    tables = [
        model._meta.db_table
        for label in ("accounts", "organizations", "credits", "billing")
        for model in apps.get_app_config(label).get_models()
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")


def check_invariants(tenant_ids, expected_deductions: int) -> list[str]:
    """The ledger invariants, in SQL, after a run. Returns the problems found."""
    from django.db import connection

    problems = []
    with connection.cursor() as cursor:
        for tenant_id in tenant_ids:
            cursor.execute(
                "SELECT COALESCE(SUM(credits), 0) FROM credit_transactions WHERE tenant_id = %s", [tenant_id]
            )
            ledger = cursor.fetchone()[0]
            cursor.execute(
                "SELECT COALESCE(SUM(remaining_credits), 0),"
                " COUNT(*) FILTER (WHERE remaining_credits < 0 OR remaining_credits > total_credits)"
                " FROM credits WHERE tenant_id = %s",
                [tenant_id],
            )
            remaining, out_of_bounds = cursor.fetchone()
            cursor.execute("SELECT COALESCE(SUM(credits), 0) FROM credit_overdrafts WHERE tenant_id = %s", [tenant_id])
            owed = cursor.fetchone()[0]
            if ledger != remaining - owed:
                problems.append(f"tenant {tenant_id}: ledger {ledger} != remaining {remaining} - owed {owed}")
            if out_of_bounds:
                problems.append(f"tenant {tenant_id}: {out_of_bounds} grants out of bounds")
            cursor.execute(
                "SELECT COALESCE(SUM(-t.credits), 0), MAX(l.used_credits) FROM tenant_member_credit_limits l "
                "LEFT JOIN credit_transactions t ON t.tenant_id = l.tenant_id AND t.user_id = l.user_id "
                "AND t.type IN ('deduct', 'deduct:overdraft') WHERE l.tenant_id = %s GROUP BY l.user_id",
                [tenant_id],
            )
            for deducted, used in cursor.fetchall():
                if deducted != used:
                    problems.append(f"tenant {tenant_id}: used_credits {used} != deductions {deducted}")
        # Exactly one consumption per idempotency key: every bench request spends
        # 1 credit from one grant, so each key must own exactly one ledger row.
        cursor.execute(
            "SELECT COUNT(*) FROM credit_idempotency_keys WHERE tenant_id = ANY(%s)",
            [list(tenant_ids)],
        )
        keys = cursor.fetchone()[0]
        cursor.execute(
            "SELECT COUNT(*), COALESCE(SUM(credits), 0) FROM credit_transactions"
            " WHERE tenant_id = ANY(%s) AND description = 'bench'",
            [list(tenant_ids)],
        )
        rows, spent = cursor.fetchone()
        if not rows == keys == -spent:
            problems.append(f"{keys} idempotency keys, {rows} ledger rows, {-spent} credits spent")
        if keys < expected_deductions:
            problems.append(f"{keys} consumptions recorded for {expected_deductions} successful responses")
    return problems


# --- runs ---------------------------------------------------------------------------------------


def consume_path(slug: str) -> str:
    return f"/api/v1/orgs/{slug}/credits/consume/"


def run(args) -> dict:
    ensure_tools()
    ensure_database(fresh=args.fresh)
    setup_django()
    reset_bench_data()

    one = make_org("bench-one")
    many = [make_org(f"bench-many-{i}") for i in range(args.orgs)]
    raw_one = make_org("bench-raw-one")
    raw_many = [make_org(f"bench-raw-many-{i}") for i in range(args.orgs)]
    empty = make_org("bench-empty", grants=50, credits_each=10**9)
    history = make_org("bench-history", grants=50, credits_each=10**9)
    print(f"adding {args.history:,} past transactions ...")
    add_history(history[0], history[1], history[2], args.history)

    results = {}
    with Gunicorn(workers=args.workers, threads=args.threads) as server:
        # Warm every worker's connection and code paths before measuring.
        wrk(server.url, mode="raw", targets=[str(raw_one[2][0].id)], paths=["/bench/raw-consume/"], requests=500)
        wrk(server.url, mode="api", targets=[many[0][3]], paths=[consume_path(many[0][0].slug)], requests=500)

        results["raw_one"] = wrk(
            server.url,
            mode="raw",
            targets=[str(raw_one[2][0].id)],
            paths=["/bench/raw-consume/"],
            requests=args.requests,
        )
        results["raw_many"] = wrk(
            server.url,
            mode="raw",
            targets=[str(o[2][0].id) for o in raw_many],
            paths=["/bench/raw-consume/"],
            requests=args.requests,
        )
        results["api_one"] = wrk(
            server.url, mode="api", targets=[one[3]], paths=[consume_path(one[0].slug)], requests=args.requests
        )
        results["api_many"] = wrk(
            server.url,
            mode="api",
            targets=[o[3] for o in many],
            paths=[consume_path(o[0].slug) for o in many],
            requests=args.requests,
        )
        results["api_empty"] = wrk(
            server.url,
            mode="api",
            targets=[empty[3]],
            paths=[consume_path(empty[0].slug)],
            requests=args.latency_requests,
        )
        results["api_history"] = wrk(
            server.url,
            mode="api",
            targets=[history[3]],
            paths=[consume_path(history[0].slug)],
            requests=args.latency_requests,
        )

    bench_tenants = [one[0].id, *(o[0].id for o in many), empty[0].id, history[0].id]
    succeeded = sum(
        results[k]["requests"] - results[k]["errors"] for k in ("api_one", "api_many", "api_empty", "api_history")
    )
    succeeded += 500  # the warm-up run against many[0]
    results["problems"] = check_invariants(bench_tenants, succeeded)
    return results


def server_description(args) -> str:
    if args.threads > 1:
        return f"{args.workers} gthread workers x {args.threads} threads"
    return f"{args.workers} sync workers"


def report(results: dict, args) -> str:
    r = results
    lines = [
        f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores,"
        f" gunicorn {server_description(args)},"
        f" wrk {WRK_THREADS} threads / {CONNECTIONS} connections on the same machine, PostgreSQL 127.0.0.1,"
        f" {args.requests:,} requests per throughput run, {args.latency_requests:,} per latency run.",
        "",
        "| run | requests | errors | req/s | p50 ms | p99 ms |",
        "|---|---|---|---|---|---|",
    ]
    names = {
        "raw_one": "raw SQL ceiling, one organization",
        "raw_many": f"raw SQL ceiling, {args.orgs} organizations",
        "api_one": "Keel consume API, one organization",
        "api_many": f"Keel consume API, {args.orgs} organizations",
        "api_empty": "Keel consume API, empty ledger, 50 live grants",
        "api_history": f"Keel consume API, {args.history:,} past transactions, 50 live grants",
    }
    for key, name in names.items():
        x = r[key]
        lines.append(
            f"| {name} | {x['requests']:,} | {x['errors']} | {x['rps']:,.0f} | {x['p50_ms']:.2f} | {x['p99_ms']:.2f} |"
        )
    one_ratio = r["api_one"]["rps"] / r["raw_one"]["rps"]
    many_ratio = r["api_many"]["rps"] / r["raw_many"]["rps"]
    history_ratio = r["api_history"]["p50_ms"] / r["api_empty"]["p50_ms"]
    lines += [
        "",
        f"- Consume / raw-SQL ceiling, one organization: **{one_ratio:.0%}** (target ≥ 60%)",
        f"- Consume / raw-SQL ceiling, {args.orgs} organizations: **{many_ratio:.0%}** (target ≥ 60%)",
        f"- Median latency with history / empty ledger: **{history_ratio:.2f}x** (target ≤ 1.3x)",
        f"- Errors: {sum(r[k]['errors'] for k in names)}; invariants after the run: "
        + ("**hold**" if not r["problems"] else "**VIOLATED**: " + "; ".join(r["problems"])),
    ]
    return "\n".join(lines)


def write_docs(text: str):
    path = ROOT / "docs" / "performance.md"
    content = path.read_text()
    start, end = "<!-- bench:credits_consume:start -->", "<!-- bench:credits_consume:end -->"
    before, _, rest = content.partition(start)
    _, _, after = rest.partition(end)
    path.write_text(f"{before}{start}\n{text}\n{end}{after}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--latency-requests", type=int, default=5_000)
    parser.add_argument("--orgs", type=int, default=32)
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=THREADS_PER_WORKER, help="per worker; 1 = sync workers")
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the bench database")
    parser.add_argument("--write-docs", action="store_true", help="write the figures into docs/performance.md")
    args = parser.parse_args()

    results = run(args)
    text = report(results, args)
    print(text)
    if args.write_docs:
        write_docs(text)
    failed = results["problems"] or any(results[k]["errors"] for k in results if k != "problems")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
