"""Mixed traffic through the balancer, the invariants after it, and the sign-in throttle across
servers (docs/performance.md, "Many servers"). bench/cluster.py starts the servers, seeds the
data, writes the plan (a JSON file) and runs this:

    .venv/bin/python bench/load.py --plan PLAN.json [--duration 60] [--connections 32] [--out RESULTS.json]

The client is this process: one thread per connection, each with its own keep-alive
`http.client` connection to nginx. A request is a few hundred microseconds of the client's
CPU against milliseconds of the servers', and the report gives the client's own CPU use, so
it shows whether the client was the bottleneck. (wrk would cost less, but its Lua would have
to sign in with CSRF tokens and cookies and sign Stripe events; Python does both in a line.)

Each connection has one role for the whole run, in these shares of 32: 12 consume credits
(API key, a fresh Idempotency-Key each, every 20th a replay of the one before), 8 read the
balance (API key), 8 view pages signed in (the dashboard and the credits page, in turn; the
session was made through the balancer, so both servers must read it), 2 deliver the webhook
stream (the recorded Stripe events in order, signed now, every 5th sent twice at once, then
the whole stream again: duplicates), 2 sign in (the form, then the right password; a new
session each time). Every answer but the expected status counts as unexpected and is
reported. After the run: the invariants, read from PostgreSQL, then the throttle check.
"""

import argparse
import http.client
import itertools
import json
import re
import statistics
import sys
import threading
import time
import urllib.parse
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stripe_sandbox.webhooks import sign  # noqa: E402  (stdlib only: the Stripe-Signature header)

SHARES = [("consume", 12), ("balance", 8), ("page", 8), ("webhook", 2), ("signin", 2)]
REPLAY_EVERY = 20
DUPLICATE_EVERY = 5
CSRF_RE = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


class Connection:
    """One keep-alive connection with its cookies; reconnects when the server closed it."""

    def __init__(self, base: str, forwarded_proto: bool = False):
        parsed = urllib.parse.urlsplit(base)
        self.host, self.port = parsed.hostname, parsed.port
        self.origin = f"https://{parsed.hostname}:{parsed.port}"
        self.forwarded_proto = forwarded_proto  # straight to an app server: say what nginx says
        self.http: http.client.HTTPConnection | None = None
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.forwarded_proto:
            headers.setdefault("X-Forwarded-Proto", "https")
            headers.setdefault("X-Forwarded-For", "127.0.0.1")
        for attempt in (1, 2):
            if self.http is None:
                self.http = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.http.request(method, path, body=body, headers=headers)
                response = self.http.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.http.close()
                self.http = None
                if attempt == 2:
                    raise
                continue
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    self.cookies[name] = morsel.value
            if (response.getheader("Connection") or "").lower() == "close":
                self.http.close()
                self.http = None
            return response.status, response, data
        raise AssertionError("unreachable")

    def form_token(self, path: str = "/accounts/login/"):
        status, response, body = self.request("GET", path)
        match = CSRF_RE.search(body)
        return status, response, (match.group(1).decode() if match else "")

    def post_form(self, path: str, fields: dict):
        body = urllib.parse.urlencode(fields).encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": self.origin,
            "Referer": self.origin + path,
        }
        return self.request("POST", path, body, headers)


class Recorder:
    """A thread's requests: (route, seconds, ok, server)."""

    def __init__(self):
        self.rows: list[tuple[str, float, bool, str]] = []
        self.unexpected: list[str] = []

    def timed(self, route: str, expected: int, call, *args):
        started = time.perf_counter()
        status, response, body = call(*args)
        elapsed = time.perf_counter() - started
        ok = status == expected
        self.rows.append((route, elapsed, ok, response.getheader("X-Upstream") or ""))
        if not ok and len(self.unexpected) < 5:
            self.unexpected.append(f"{route}: {status} {body[:160]!r}")
        return status, response, body


def roles_for(connections: int) -> list[str]:
    counts = {role: max(1, round(connections * share / 32)) for role, share in SHARES}
    counts["consume"] += connections - sum(counts.values())
    if counts["consume"] < 1:
        raise SystemExit(f"{connections} connections are too few for the mix: at least {len(SHARES)}")
    return [role for role, _ in SHARES for _ in range(counts[role])]


class Webhooks:
    """The recorded stream, shared by the webhook connections: in order, every 5th event twice,
    then all of it again (all duplicates)."""

    def __init__(self, plan: dict):
        self.path, self.secret = plan["path"], plan["secret"]
        self.lock = threading.Lock()
        order = []
        for n, payload in enumerate(plan["events"]):
            order.append(payload)
            if n % DUPLICATE_EVERY == 0:
                order.append(payload)
        self.stream = itertools.cycle(order)
        self.delivered: dict[str, int] = {}  # event id -> 200s
        self.grant_events: dict[str, str] = {}  # event id -> "checkout_session:<id>" or "invoice:<id>"
        for payload in plan["events"]:
            event = json.loads(payload)
            obj = event["data"]["object"]
            if event["type"] == "checkout.session.completed":
                self.grant_events[event["id"]] = f"checkout_session:{obj['id']}"
            elif event["type"] == "invoice.paid":
                self.grant_events[event["id"]] = f"invoice:{obj['id']}"

    def next(self) -> str:
        with self.lock:
            return next(self.stream)

    def record(self, payload: str) -> None:
        event_id = json.loads(payload)["id"]
        with self.lock:
            self.delivered[event_id] = self.delivered.get(event_id, 0) + 1


def run_traffic(plan: dict, duration: float, connections: int) -> dict:
    roles = roles_for(connections)
    orgs = plan["orgs"]
    webhooks = Webhooks(plan["webhooks"])
    accepted: dict[str, int] = {}  # tenant id -> new consumptions (201, not replayed)
    replays = [0]
    counter_lock = threading.Lock()
    window = {}

    def open_window():  # run once, when every connection is set up, before any is released
        window["start"] = time.monotonic()
        window["end"] = window["start"] + duration

    barrier = threading.Barrier(len(roles) + 1, action=open_window)
    recorders = [Recorder() for _ in roles]
    errors: list[str] = []

    def worker(index: int, role: str, rec: Recorder):
        org = orgs[index % len(orgs)]
        conn = Connection(plan["balancer"])
        api = {"Authorization": f"Bearer {org['key']}"}
        try:
            if role == "page":
                status, _, _ = sign_in(conn, org["username"], plan["password"])
                if status != 302:
                    raise RuntimeError(f"the page connection's sign-in answered {status}")
            barrier.wait()
            deadline = window["end"]
            n = 0
            last_key = None
            while time.monotonic() < deadline:
                n += 1
                if role == "consume":
                    replay = last_key is not None and n % REPLAY_EVERY == 0
                    key = last_key if replay else f"load-{index}-{n}"
                    body = json.dumps({"amount": 1, "description": "load"}).encode()
                    headers = {**api, "Idempotency-Key": key, "Content-Type": "application/json"}
                    status, response, _ = rec.timed(
                        "API: consume",
                        201,
                        conn.request,
                        "POST",
                        f"/api/v1/orgs/{org['slug']}/credits/consume/",
                        body,
                        headers,
                    )
                    if status == 201:
                        was_replay = response.getheader("Idempotent-Replayed") == "true"
                        if was_replay != replay:
                            rec.unexpected.append(f"consume {key}: replayed={was_replay}, sent as replay={replay}")
                            rec.rows[-1] = (*rec.rows[-1][:2], False, rec.rows[-1][3])
                        with counter_lock:
                            if was_replay:
                                replays[0] += 1
                            else:
                                accepted[org["tenant_id"]] = accepted.get(org["tenant_id"], 0) + 1
                    last_key = key
                elif role == "balance":
                    rec.timed(
                        "API: balance",
                        200,
                        lambda: conn.request("GET", f"/api/v1/orgs/{org['slug']}/credits/", None, api),
                    )
                elif role == "page":
                    if n % 2:
                        rec.timed("page: dashboard", 200, lambda: conn.request("GET", f"/o/{org['slug']}/"))
                    else:
                        rec.timed("page: credits", 200, lambda: conn.request("GET", f"/o/{org['slug']}/credits/"))
                elif role == "webhook":
                    payload = webhooks.next()
                    headers = {
                        "Content-Type": "application/json",
                        "Stripe-Signature": sign(payload, webhooks.secret, int(time.time())),
                    }
                    status, _, _ = rec.timed(
                        "webhook (Stripe event)",
                        200,
                        conn.request,
                        "POST",
                        webhooks.path,
                        payload.encode(),
                        headers,
                    )
                    if status == 200:
                        webhooks.record(payload)
                elif role == "signin":
                    user = orgs[(index * 7 + n) % len(orgs)]
                    conn.cookies.clear()
                    rec.timed("sign-in: form", 200, conn.form_token)
                    token = conn.cookies.get("csrftoken", "")
                    rec.timed(
                        "sign-in: password",
                        302,
                        conn.post_form,
                        "/accounts/login/",
                        {"username": user["username"], "password": plan["password"], "csrfmiddlewaretoken": token},
                    )
        except Exception as error:  # noqa: BLE001  (reported: a connection that broke is a failure)
            errors.append(f"{role} connection {index}: {type(error).__name__}: {error}")
            if not barrier.broken:
                barrier.abort()

    threads = [
        threading.Thread(target=worker, args=(i, role, recorders[i]), daemon=True) for i, role in enumerate(roles)
    ]
    for thread in threads:
        thread.start()
    cpu_before = time.process_time()
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        raise SystemExit("a connection failed while setting up:\n" + "\n".join(errors)) from None
    started = window["start"]
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    cpu = time.process_time() - cpu_before
    rows = [row for rec in recorders for row in rec.rows]
    return {
        "rows": rows,
        "wall": wall,
        "cpu": cpu,
        "errors": errors,
        "unexpected_samples": [u for rec in recorders for u in rec.unexpected][:8],
        "accepted": accepted,
        "replays": replays[0],
        "webhooks": webhooks,
        "roles": roles,
    }


def sign_in(conn: Connection, username: str, password: str):
    conn.form_token()
    token = conn.cookies.get("csrftoken", "")
    status, response, body = conn.post_form(
        "/accounts/login/", {"username": username, "password": password, "csrfmiddlewaretoken": token}
    )
    return status, response, body


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


def summarise(traffic: dict) -> dict:
    routes: dict[str, list] = {}
    for route, seconds, ok, _ in traffic["rows"]:
        routes.setdefault(route, []).append((seconds, ok))
    wall = traffic["wall"]

    def figures(samples):
        times = sorted(s for s, _ in samples)
        return {
            "requests": len(samples),
            "rps": len(samples) / wall,
            "p50_ms": statistics.median(times) * 1000 if times else 0.0,
            "p99_ms": percentile(times, 0.99) * 1000,
            "unexpected": sum(1 for _, ok in samples if not ok),
        }

    order = [
        "page: dashboard",
        "page: credits",
        "API: balance",
        "API: consume",
        "webhook (Stripe event)",
        "sign-in: form",
        "sign-in: password",
    ]
    table = {route: figures(routes[route]) for route in order if route in routes}
    served: dict[str, int] = {}
    for *_, server in traffic["rows"]:
        served[server or "?"] = served.get(server or "?", 0) + 1
    counts = {role: traffic["roles"].count(role) for role, _ in SHARES}
    return {
        "routes": table,
        "total": figures([(s, ok) for _, s, ok, _ in traffic["rows"]]),
        "served_by": served,
        "mix_text": ", ".join(f"{counts[r]} {r}" for r, _ in SHARES),
        "client": f"{len(traffic['roles'])} threads in one Python process, http.client keep-alive; "
        f"its CPU {traffic['cpu'] / traffic['wall']:.0%} of one core over the run",
        "unexpected_samples": traffic["unexpected_samples"] + traffic["errors"],
    }


# --- invariants ---------------------------------------------------------------------------------


def ledger_checks(q) -> list[tuple[bool, str]]:
    """Every organization's balance from its ledger, grants in bounds, overdraft within its limit,
    members' use = their deductions; `q(sql, params)` returns rows."""
    checks: list[tuple[bool, str]] = []
    rows = q(
        """
        SELECT t.id, t.overdraft_enabled, t.overdraft_limit,
               (SELECT COALESCE(SUM(credits), 0) FROM credit_transactions x WHERE x.tenant_id = t.id),
               (SELECT COALESCE(SUM(remaining_credits), 0) FROM credits c WHERE c.tenant_id = t.id),
               (SELECT COUNT(*) FROM credits c WHERE c.tenant_id = t.id
                 AND (c.remaining_credits < 0 OR c.remaining_credits > c.total_credits)),
               (SELECT COALESCE(SUM(credits), 0) FROM credit_overdrafts o WHERE o.tenant_id = t.id)
        FROM tenants t
        """
    )
    bad = [r for r in rows if r[3] != r[4] - r[6] or r[5]]
    checks.append(
        (
            not bad,
            f"{len(rows)} organizations: ledger sum = remaining credits - overdraft owed, "
            f"every grant within 0..total ({len(bad)} disagree)",
        )
    )
    over = [r for r in rows if r[6] < 0 or r[6] > (r[2] if r[1] else 0)]
    overdrawn = sum(1 for r in rows if r[6] > 0)
    checks.append(
        (
            not over,
            f"no balance below the overdraft allowed ({overdrawn} organizations in overdraft, "
            f"{len(over)} beyond their limit)",
        )
    )
    members = q(
        """
        SELECT l.tenant_id, l.user_id, l.used_credits,
               COALESCE((SELECT -SUM(x.credits) FROM credit_transactions x WHERE x.tenant_id = l.tenant_id
                         AND x.user_id = l.user_id AND x.type IN ('deduct', 'deduct:overdraft')), 0)
        FROM tenant_member_credit_limits l
        """
    )
    bad = [m for m in members if m[2] != m[3]]
    checks.append(
        (not bad, f"{len(members)} members: used_credits = their deductions in the ledger ({len(bad)} differ)")
    )
    return checks


def invariants(plan: dict, traffic: dict) -> list[tuple[bool, str]]:
    import psycopg

    checks: list[tuple[bool, str]] = []
    now_ms = int(time.time() * 1000)
    with psycopg.connect(plan["database_url"]) as db:
        q = lambda sql, params=(): db.execute(sql, params).fetchall()  # noqa: E731

        checks += ledger_checks(q)

        # 2. The API's balance (what a client reads) against the ledger.
        conn = Connection(plan["balancer"])
        differ = []
        for org in plan["orgs"]:
            _, _, body = conn.request(
                "GET", f"/api/v1/orgs/{org['slug']}/credits/", None, {"Authorization": f"Bearer {org['key']}"}
            )
            api = json.loads(body)
            usable, owed = q(
                "SELECT (SELECT COALESCE(SUM(remaining_credits), 0) FROM credits WHERE tenant_id = %s"
                " AND remaining_credits > 0 AND effective_at <= %s AND (expires_at IS NULL OR expires_at > %s)),"
                " (SELECT COALESCE(SUM(credits), 0) FROM credit_overdrafts WHERE tenant_id = %s)",
                [org["tenant_id"], now_ms, now_ms, org["tenant_id"]],
            )[0]
            if api.get("balance") != usable - owed or api.get("overdraft") != owed:
                differ.append(
                    f"{org['slug']}: API {api.get('balance')}/{api.get('overdraft')}, ledger {usable - owed}/{owed}"
                )
        checks.append(
            (
                not differ,
                f"{len(plan['orgs'])} balances read through the API after the run = "
                f"recomputed from the ledger{': ' + '; '.join(differ[:3]) if differ else ''}",
            )
        )

        # 3. Consumptions: every accepted one is in the ledger once, replays add nothing.
        accepted = traffic["accepted"]
        ids = [org["tenant_id"] for org in plan["orgs"]]
        ledger = dict(
            q(
                "SELECT tenant_id::text, -SUM(credits) FROM credit_transactions WHERE tenant_id = ANY(%s::uuid[])"
                " AND description = 'load' AND type IN ('deduct', 'deduct:overdraft') GROUP BY tenant_id",
                [ids],
            )
        )
        keys = dict(
            q(
                "SELECT tenant_id::text, COUNT(*) FROM credit_idempotency_keys WHERE tenant_id = ANY(%s::uuid[])"
                " GROUP BY tenant_id",
                [ids],
            )
        )
        bad = [t for t in ids if not accepted.get(t, 0) == ledger.get(t, 0) == keys.get(t, 0)]
        total = sum(accepted.values())
        checks.append(
            (
                not bad,
                f"{total:,} consumptions accepted (201) = {sum(ledger.values()):,} credits consumed in the "
                f"ledger = {sum(keys.values()):,} idempotency keys; {traffic['replays']:,} replays "
                f"answered from their key, nothing written ({len(bad)} organizations differ)",
            )
        )

        # 4. Webhooks: each paid session and invoice granted once, with the credits it bought.
        webhooks = traffic["webhooks"]
        expected = plan["webhooks"]["expected_grants"]
        grants = q(
            "SELECT source_type || ':' || source_id, COUNT(*), SUM(total_credits) FROM credits"
            " WHERE source_type IN ('checkout_session', 'invoice') GROUP BY 1"
        )
        twice = [g for g in grants if g[1] != 1]
        wrong = [g for g in grants if expected.get(g[0]) != g[2]]
        delivered = {obj for event, obj in webhooks.grant_events.items() if webhooks.delivered.get(event)}
        owed_grants = {obj for obj in delivered if obj in expected}
        missing = owed_grants - {g[0] for g in grants}
        sent = sum(webhooks.delivered.values())
        grant_deliveries = sum(n for e, n in webhooks.delivered.items() if e in webhooks.grant_events)
        checks.append(
            (
                not (twice or wrong or missing),
                f"{sent:,} webhook deliveries ({len(webhooks.delivered):,} distinct events, the rest duplicates); "
                f"{grant_deliveries:,} of them paid-session or paid-invoice events for {len(owed_grants)} objects -> "
                f"{len(grants)} grants, {sum(g[2] for g in grants):,} credits, each object once "
                f"(twice: {len(twice)}, wrong amount or unknown: {len(wrong)}, missing: {len(missing)})",
            )
        )
    return checks


def after_cron(database_url: str, expected: dict) -> list[tuple[bool, str]]:
    """After the cron commands (bench/cluster.py runs each twice): the ledger still balances, and
    billing_reconcile granted every paid session and invoice the stream had not delivered, each
    exactly once, with the credits it bought."""
    import psycopg

    with psycopg.connect(database_url) as db:
        q = lambda sql, params=(): db.execute(sql, params).fetchall()  # noqa: E731
        checks = ledger_checks(q)
        grants = {
            key: (count, credits)
            for key, count, credits in q(
                "SELECT source_type || ':' || source_id, COUNT(*), SUM(total_credits) FROM credits"
                " WHERE source_type IN ('checkout_session', 'invoice') GROUP BY 1"
            )
        }
    once = grants == {key: (1, credits) for key, credits in expected.items()}
    checks.append(
        (
            once,
            f"{len(expected)} paid sessions and invoices at Stripe, {len(grants)} granted after billing_reconcile, "
            f"each once with its credits ({sum(c for _, c in grants.values()):,} = "
            f"{sum(expected.values()):,} expected)",
        )
    )
    return checks


# --- the throttle across servers ----------------------------------------------------------------


def throttle(plan: dict) -> dict:
    """Wrong passwords for one account through nginx, alternating servers; then the right one,
    straight to each server with the same forwarded client address."""
    limit = plan["axes_failure_limit"]
    user = plan["throttle_user"]
    conn = Connection(plan["balancer"])
    conn.form_token()
    token = conn.cookies.get("csrftoken", "")
    names = {urllib.parse.urlsplit(s).netloc: f"server {i + 1}" for i, s in enumerate(plan["servers"])}
    attempts = []
    for n in range(1, limit + 1):
        status, response, _ = conn.post_form(
            "/accounts/login/", {"username": user, "password": "not the password", "csrfmiddlewaretoken": token}
        )
        server = names.get(response.getheader("X-Upstream") or "", response.getheader("X-Upstream") or "?")
        meaning = "refused, form shown again" if status == 200 else ("locked out" if status == 429 else "unexpected")
        attempts.append(
            {"n": n, "password": "wrong", "server": f"{server} (via nginx)", "status": status, "meaning": meaning}
        )
    for i, base in enumerate(plan["servers"]):
        direct = Connection(base, forwarded_proto=True)
        direct.form_token()
        status, _, _ = direct.post_form(
            "/accounts/login/",
            {
                "username": user,
                "password": plan["password"],
                "csrfmiddlewaretoken": direct.cookies.get("csrftoken", ""),
            },
        )
        attempts.append(
            {
                "n": limit + 1 + i,
                "password": "right",
                "server": f"server {i + 1} (direct)",
                "status": status,
                "meaning": "locked out" if status == 429 else ("signed in" if status == 302 else "unexpected"),
            }
        )
    wrong = attempts[:limit]
    servers_before = {a["server"] for a in wrong[:-1]}
    ok = (
        all(a["status"] == 200 for a in wrong[:-1])
        and wrong[-1]["status"] == 429
        and len(servers_before) >= 2
        and all(a["status"] == 429 for a in attempts[limit:])
    )
    verdict = (
        f"**The lockout holds across both servers**: {limit - 1} failures spread over "
        f"{', '.join(sorted(servers_before))}, the {limit}th (AXES_FAILURE_LIMIT={limit}) locks the account "
        "out, and the right password is then refused by each server."
        if ok
        else "**The lockout did not hold across both servers** (see the table)."
    )
    return {"attempts": attempts, "ok": ok, "verdict": verdict}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plan", required=True, help="the JSON file bench/cluster.py writes")
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--out", help="write the results here as JSON")
    args = parser.parse_args()
    plan = json.loads(Path(args.plan).read_text())

    print(
        f"{args.duration:g} s of mixed traffic from {args.connections} connections through {plan['balancer']} ...",
        flush=True,
    )
    traffic = run_traffic(plan, args.duration, args.connections)
    results = summarise(traffic)
    results["invariants"] = invariants(plan, traffic)
    results["throttle"] = throttle(plan)
    for route, row in results["routes"].items():
        print(
            f"  {route}: {row['requests']} requests, {row['rps']:.1f}/s, p50 {row['p50_ms']:.1f} ms, "
            f"p99 {row['p99_ms']:.1f} ms, unexpected {row['unexpected']}"
        )
    for ok, text in results["invariants"]:
        print(f"  {'ok' if ok else 'VIOLATED'}: {text}")
    print("  " + results["throttle"]["verdict"])
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
    failed = (
        results["total"]["unexpected"]
        or traffic["errors"]
        or not all(ok for ok, _ in results["invariants"])
        or not results["throttle"]["ok"]
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
