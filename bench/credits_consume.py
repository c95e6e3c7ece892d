"""Benchmark: POST /api/v1/orgs/{slug}/credits/consume/ against the raw-SQL ceiling.

    .venv/bin/python bench/credits_consume.py [--requests 10000] [--rounds 3] [--orgs 32] [--write-docs]

Two servers, each in its own gunicorn process tree, on the same PostgreSQL
database (`keel_bench` on 127.0.0.1, created and migrated if needed):

* the ceiling (bench/ceiling_wsgi.py): a Django view with no installed apps and
  no middleware that locks one grant row, decrements it and inserts one ledger
  row in raw SQL: the least a consumption can cost;
* Keel (config/wsgi.py with bench/settings.py: Keel's settings, quiet logs),
  its real consume endpoint with API-key authentication, validation,
  idempotency and the whole middleware stack.

Each side first gets its best gunicorn configuration: every candidate (worker
class, workers, threads; for the ceiling also prepared statements on or off)
gets three short runs on each workload, and the highest sum of its medians wins.
Then the measured runs alternate, ceiling and Keel, one organization (every
request contends for one wallet) and many, for `--rounds` rounds, so that both
sides see the same machine; the figures are the medians. wrk drives both from
16 connections for a fixed number of requests. Then Keel's consume latency
with an empty ledger vs 100,000 past transactions and 50 live grants,
alternating too. The ledger invariants are checked in SQL afterwards. With
--write-docs the figures replace the results block in docs/performance.md.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
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
WRK_THREADS = 2
# Candidate gunicorn configurations: (worker class, workers, threads). Sync workers close the
# connection after every response (no keep-alive); gthread workers keep it.
CANDIDATES = [("sync", 4, 1), ("gthread", 4, 2), ("gthread", 4, 4), ("gthread", 8, 2)]
# Short runs per candidate and workload; their median counts. (Their best would favour the
# configurations whose throughput swings most: sync workers, which close every connection,
# won a sweep that way and then ran at half speed with a 2.5 s p99 in the measured rounds.)
SWEEP_TRIES = 3
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


def django_env(**extra):
    return {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "CONN_MAX_AGE": "600",
        **extra,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """One side's server: `app` is the WSGI module, `config` (worker class, workers, threads)."""

    def __init__(self, app: str, config: tuple[str, int, int], **env):
        self.app, self.config, self.env = app, config, env
        self.port = free_port()

    def __enter__(self):
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        worker_class, workers, threads = self.config
        self.proc = subprocess.Popen(
            [
                gunicorn,
                self.app,
                "--worker-class",
                worker_class,
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
                "--backlog",
                "256",
            ],
            cwd=ROOT,
            env=django_env(**self.env),
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn {self.app} did not start")

    def __exit__(self, *exc):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"


def describe(config: tuple[str, int, int], prepared: bool | None = None) -> str:
    worker_class, workers, threads = config
    text = f"{workers} sync workers" if worker_class == "sync" else f"{workers} gthread workers x {threads} threads"
    if prepared is not None:
        text += ", prepared statements" if prepared else ", no prepared statements"
    return text


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

    keel_successes = 0

    def keel(server, orgs, requests):
        nonlocal keel_successes
        result = wrk(
            server.url,
            mode="api",
            targets=[o[3] for o in orgs],
            paths=[consume_path(o[0].slug) for o in orgs],
            requests=requests,
        )
        keel_successes += result["requests"] - result["errors"]
        return result

    def ceiling(server, orgs, requests):
        targets = [str(o[2][0].id) for o in orgs]
        return wrk(server.url, mode="raw", targets=targets, paths=["/bench/raw-consume/"], requests=requests)

    results = {"sweep": {"ceiling": [], "keel": []}, "rounds": []}

    def best_of(drive, one_target, many_targets) -> dict:
        one_rps = statistics.median(drive([one_target], args.sweep_requests)["rps"] for _ in range(SWEEP_TRIES))
        many_rps = statistics.median(drive(many_targets, args.sweep_requests)["rps"] for _ in range(SWEEP_TRIES))
        return {"one": one_rps, "many": many_rps, "score": one_rps + many_rps}

    # 1. Each side's best configuration: the highest sum of its median one-organization and
    #    many-organization throughput (both workloads are measured below).
    for config in CANDIDATES:
        for prepared in (False, True):
            with Gunicorn("bench.ceiling_wsgi", config, BENCH_PREPARED="1" if prepared else "0") as server:
                ceiling(server, raw_many, 400)  # warm every worker's connection
                score = best_of(lambda orgs, n, server=server: ceiling(server, orgs, n), raw_one, raw_many)
            print(f"  ceiling, {describe(config, prepared)}: {score['one']:.0f} / {score['many']:.0f} req/s")
            results["sweep"]["ceiling"].append(((config, prepared), score))
        with Gunicorn("config.wsgi", config) as server:
            keel(server, many, 400)
            score = best_of(lambda orgs, n, server=server: keel(server, orgs, n), one, many)
        print(f"  Keel, {describe(config)}: {score['one']:.0f} / {score['many']:.0f} req/s")
        results["sweep"]["keel"].append(((config, None), score))
    best_ceiling = max(results["sweep"]["ceiling"], key=lambda entry: entry[1]["score"])[0]
    best_keel = max(results["sweep"]["keel"], key=lambda entry: entry[1]["score"])[0]
    results["best"] = {"ceiling": best_ceiling, "keel": best_keel}

    # 2. Alternating runs, both servers up, each in its best configuration.
    ceiling_env = {"BENCH_PREPARED": "1" if best_ceiling[1] else "0"}
    with (
        Gunicorn("bench.ceiling_wsgi", best_ceiling[0], **ceiling_env) as ceiling_server,
        Gunicorn("config.wsgi", best_keel[0]) as keel_server,
    ):
        ceiling(ceiling_server, raw_many, 500)
        keel(keel_server, many, 500)
        for number in range(1, args.rounds + 1):
            measured = {
                "raw_one": ceiling(ceiling_server, [raw_one], args.requests),
                "api_one": keel(keel_server, [one], args.requests),
                "raw_many": ceiling(ceiling_server, raw_many, args.requests),
                "api_many": keel(keel_server, many, args.requests),
            }
            print(
                f"  round {number}: one organization {measured['api_one']['rps']:.0f} / "
                f"{measured['raw_one']['rps']:.0f} req/s, {args.orgs} organizations "
                f"{measured['api_many']['rps']:.0f} / {measured['raw_many']['rps']:.0f} req/s"
            )
            results["rounds"].append(measured)
        # Latency with and without history, alternating too: the medians of the p50s compare.
        latency = {"api_empty": [], "api_history": []}
        for _ in range(args.rounds):
            latency["api_empty"].append(keel(keel_server, [empty], args.latency_requests))
            latency["api_history"].append(keel(keel_server, [history], args.latency_requests))
        for key, runs in latency.items():
            results[key] = {
                "requests": sum(r["requests"] for r in runs),
                "errors": sum(r["errors"] for r in runs),
                **{m: statistics.median(r[m] for r in runs) for m in ("rps", "p50_ms", "p99_ms")},
            }

    bench_tenants = [one[0].id, *(o[0].id for o in many), empty[0].id, history[0].id]
    results["problems"] = check_invariants(bench_tenants, keel_successes)
    return results


def _median(values):
    return statistics.median(values)


def report(results: dict, args) -> str:
    rounds = results["rounds"]
    best_ceiling, best_keel = results["best"]["ceiling"], results["best"]["keel"]
    lines = [
        f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores,"
        f" wrk {WRK_THREADS} threads / {CONNECTIONS} connections and PostgreSQL 127.0.0.1 on the same machine;"
        f" {args.requests:,} requests per measured run, {args.rounds} alternating rounds (medians below),"
        f" {args.sweep_requests:,} per short run of a configuration tried ({SWEEP_TRIES} per workload).",
        "",
        f"Best configuration, ceiling: {describe(*best_ceiling)}. Keel: {describe(best_keel[0])}.",
        "",
        "| configuration tried (median of its short runs) | ceiling, one / many organizations | Keel, one / many |",
        "|---|---|---|",
    ]
    keel_by_config = {config: score for (config, _), score in results["sweep"]["keel"]}
    for config in CANDIDATES:
        ceiling_by_prepared = {p: score for (c, p), score in results["sweep"]["ceiling"] if c == config}
        plain, prepared, keel_score = ceiling_by_prepared[False], ceiling_by_prepared[True], keel_by_config[config]
        lines.append(
            f"| {describe(config)} | {plain['one']:,.0f} / {plain['many']:,.0f}"
            f" (prepared: {prepared['one']:,.0f} / {prepared['many']:,.0f}) |"
            f" {keel_score['one']:,.0f} / {keel_score['many']:,.0f} |"
        )
    lines += ["", "| run | req/s (median) | rounds | errors | p50 ms | p99 ms |", "|---|---|---|---|---|---|"]
    names = {
        "raw_one": "ceiling, one organization",
        "api_one": "Keel consume API, one organization",
        "raw_many": f"ceiling, {args.orgs} organizations",
        "api_many": f"Keel consume API, {args.orgs} organizations",
    }
    for key, name in names.items():
        runs = [r[key] for r in rounds]
        each = ", ".join(f"{x['rps']:.0f}" for x in runs)
        lines.append(
            f"| {name} | {_median([x['rps'] for x in runs]):,.0f} | {each} |"
            f" {sum(x['errors'] for x in runs)} | {_median([x['p50_ms'] for x in runs]):.2f} |"
            f" {_median([x['p99_ms'] for x in runs]):.2f} |"
        )
    for key, name in {
        "api_empty": "Keel consume API, empty ledger, 50 live grants",
        "api_history": f"Keel consume API, {args.history:,} past transactions, 50 live grants",
    }.items():
        x = results[key]
        lines.append(
            f"| {name} | {x['rps']:,.0f} | {args.rounds} | {x['errors']} | {x['p50_ms']:.2f} | {x['p99_ms']:.2f} |"
        )
    one = [r["api_one"]["rps"] / r["raw_one"]["rps"] for r in rounds]
    many = [r["api_many"]["rps"] / r["raw_many"]["rps"] for r in rounds]
    history_ratio = results["api_history"]["p50_ms"] / results["api_empty"]["p50_ms"]
    errors = sum(x["errors"] for r in rounds for x in r.values()) + sum(
        results[k]["errors"] for k in ("api_empty", "api_history")
    )
    lines += [
        "",
        f"- Keel / ceiling, one organization: **{_median(one):.0%}** (rounds: {', '.join(f'{x:.0%}' for x in one)};"
        " target ≥ 75%)",
        f"- Keel / ceiling, {args.orgs} organizations: **{_median(many):.0%}**"
        f" (rounds: {', '.join(f'{x:.0%}' for x in many)})",
        f"- Median latency with history / empty ledger: **{history_ratio:.2f}x** (target ≤ 1.3x)",
        f"- Errors: {errors}; invariants after the run: "
        + ("**hold**" if not results["problems"] else "**VIOLATED**: " + "; ".join(results["problems"])),
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
    parser.add_argument("--requests", type=int, default=8_000, help="per measured run")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds of measured runs")
    parser.add_argument("--sweep-requests", type=int, default=2_000, help="per short run of a configuration tried")
    parser.add_argument("--latency-requests", type=int, default=2_500, help="per latency run")
    parser.add_argument("--orgs", type=int, default=32)
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the bench database")
    parser.add_argument("--write-docs", action="store_true", help="write the figures into docs/performance.md")
    args = parser.parse_args()

    results = run(args)
    text = report(results, args)
    print(text)
    if args.write_docs:
        write_docs(text)
    measured = [x for r in results["rounds"] for x in r.values()] + [results["api_empty"], results["api_history"]]
    failed = results["problems"] or any(x["errors"] for x in measured)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
