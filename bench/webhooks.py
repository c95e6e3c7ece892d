"""Benchmark: Stripe webhooks through dj-stripe's view, with Keel's receivers and without.

    .venv/bin/python bench/webhooks.py [--events 1000] [--rounds 2] [--write-docs]

The Stripe sandbox runs in this process. Billing flows (a subscription bought through
Checkout and renewed, a credit pack, a partial refund) are played for new organizations
until at least `--events` events exist, with webhooks off, and the events are recorded.
The database as it stood before the first event is kept as a PostgreSQL template
(`keel_bench_webhooks*` on 127.0.0.1). Then, alternating, each side gets a fresh copy and
the whole stream, delivered in order, signed, through Django's test client (URL routing
and the whole middleware stack) one event at a time:

* dj-stripe alone: Keel's receivers disconnected; dj-stripe verifies, stores the event,
  re-fetches the object from the sandbox and syncs its own rows;
* Keel: the same, then Keel's receivers, which read the object again under the
  organization's lock and write subscriptions, invoices, grants and reversals.

Both sides call the sandbox over loopback HTTP, as they would call Stripe. Reported: events
per second over the stream and p50/p99 per event (medians over the rounds; each round swaps
which side goes first), and the ratio.
With --write-docs the figures replace the webhooks block in docs/performance.md.
"""

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = os.environ.get("BENCH_WEBHOOKS_DB", "keel_bench_webhooks")
os.environ["DATABASE_URL"] = f"postgres://root@127.0.0.1:5432/{DB}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 40)

import django  # noqa: E402

from bench.databases import create_from, migrated_template, use_database  # noqa: E402

DOCS = ROOT / "docs" / "performance.md"
START, END = "<!-- bench:webhooks:start -->", "<!-- bench:webhooks:end -->"


def record(events_wanted: int, sandbox):
    """Play flows until `events_wanted` events exist; returns (payloads, the recording shop)."""
    import stripe

    from billing.services.checkout import checkout_start
    from organizations.models import TenantMember
    from organizations.services import tenant_create
    from tests.billing.recording import recording_shop
    from tests.factories import UserFactory

    shop = recording_shop()
    prices = shop.prices
    while True:
        user = UserFactory()
        member = TenantMember.objects.get(tenant=tenant_create(owner=user, name=f"Bench {user.username}"), user=user)
        for key in ("keel_starter_monthly", "keel_credits_1000"):
            result = checkout_start(
                member=member, provider_price_id=prices[key], success_url="https://k/s", cancel_url="https://k/c"
            )
            sandbox.complete_checkout(result.id)
        customer = stripe.Customer.list(limit=1).data[0]
        sandbox.advance_subscription(stripe.Subscription.list(customer=customer.id).data[0].id)
        pack = stripe.checkout.Session.list(customer=customer.id, limit=1).data[0]
        stripe.Refund.create(payment_intent=pack.payment_intent, amount=300)
        events = list(stripe.Event.list(limit=100).auto_paging_iter())
        if len(events) >= events_wanted:
            break
    payloads = [json.dumps(json.loads(str(event))) for event in reversed(events)]
    return payloads, shop


def deliver_all(payloads: list[str], shop) -> list[float]:
    times = []
    for payload in payloads:
        started = time.perf_counter()
        status = shop.deliver(payload)
        times.append(time.perf_counter() - started)
        if status != 200:
            raise SystemExit(f"a delivery failed: {status}")
    return times


def keel_receivers(connected: bool) -> None:
    from djstripe.models import Event
    from djstripe.signals import WEBHOOK_SIGNALS

    from billing.webhooks import HANDLED, apply_event

    for event_type in HANDLED:
        signal = WEBHOOK_SIGNALS[event_type]
        if connected:
            signal.connect(apply_event, sender=Event)
        else:
            signal.disconnect(apply_event, sender=Event)


def summary(times: list[float]) -> dict:
    ordered = sorted(times)
    return {
        "rate": len(times) / sum(times),
        "p50": statistics.median(ordered) * 1000,
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()

    django.setup()
    from django.conf import settings

    from stripe_sandbox import StripeSandbox
    from stripe_sandbox.testing import TEST_API_KEY, stripe_pointed_at

    template = migrated_template(DB)
    work, recorded = f"{DB}_work", f"{DB}_recorded"
    create_from(work, template)
    use_database(work)
    settings.STRIPE_TEST_SECRET_KEY = TEST_API_KEY
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # the test client's host
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # receipts stay in memory
    with StripeSandbox(log_requests=False) as sandbox, stripe_pointed_at(sandbox):
        payloads, shop = record(args.events, sandbox)
        print(f"recorded {len(payloads)} events", flush=True)
        use_database(template)
        create_from(recorded, work)
        results = {"dj-stripe alone": [], "Keel": []}
        for round_number in range(args.rounds):
            # Each round swaps which side goes first, so neither always meets a colder database.
            sides = ("dj-stripe alone", "Keel") if round_number % 2 == 0 else ("Keel", "dj-stripe alone")
            for side in sides:
                create_from(work, recorded)
                use_database(work)
                keel_receivers(side == "Keel")
                results[side].append(summary(deliver_all(payloads, shop)))
                figures = results[side][-1]
                print(
                    f"round {round_number + 1} {side}: {figures['rate']:.0f} events/s, "
                    f"p50 {figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms",
                    flush=True,
                )
        keel_receivers(True)
        use_database(template)
    medians = {
        side: {key: statistics.median(run[key] for run in runs) for key in ("rate", "p50", "p99")}
        for side, runs in results.items()
    }
    ratio = medians["Keel"]["rate"] / medians["dj-stripe alone"]["rate"]
    lines = [
        f"{len(payloads)} recorded events, in order, one at a time, {args.rounds} alternating rounds (medians):",
        "",
        "| | events/s | p50 per event | p99 per event |",
        "|---|---|---|---|",
        *(f"| {side} | {m['rate']:.0f} | {m['p50']:.1f} ms | {m['p99']:.1f} ms |" for side, m in medians.items()),
        "",
        f"Keel's rate is {ratio:.0%} of dj-stripe's alone. Keel's receivers add, per event it handles, "
        "one more read of the object from the API (under the organization's lock) and its writes; "
        "both sides also pay dj-stripe's own re-fetch and sync.",
    ]
    print("\n".join(lines))
    if args.write_docs:
        text = DOCS.read_text()
        block = START + "\n" + "\n".join(lines) + "\n" + END
        if START in text:
            text = re.sub(re.escape(START) + ".*?" + re.escape(END), block, text, flags=re.S)
        else:
            text = text.rstrip() + "\n\n## Webhooks\n\n`make bench-webhooks` (bench/webhooks.py).\n\n" + block + "\n"
        DOCS.write_text(text)


if __name__ == "__main__":
    main()
