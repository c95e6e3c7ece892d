"""The webhook effects do not depend on arrival: the recorded event stream of a run of
billing flows, delivered to copies of the database as it stood before the first event
(PostgreSQL templates), in order, shuffled with every event twice, and with two
deliveries of each event at the same moment, leaves the same billing tables and the same
credits ledger each time."""

import json
import random
import threading
import uuid
from contextlib import contextmanager

import psycopg
import pytest
import stripe
from django.db import connection, connections

from billing.services.checkout import checkout_start
from organizations.models import TenantMember
from organizations.services import tenant_create
from tests.billing.recording import recording_shop
from tests.factories import UserFactory
from tests.pgbouncer import release_server_connections

pytestmark = pytest.mark.django_db(transaction=True)

SUCCESS, CANCEL = "https://keel.test/ok?session={CHECKOUT_SESSION_ID}", "https://keel.test/cancel"

# What must come out the same, without ids or times that are the delivery's own.
SNAPSHOT = {
    "subscriptions": "SELECT provider_subscription_id, status, plan_id, amount, provider_price_id, "
    "current_period_start, current_period_end, canceled_at FROM subscriptions",
    "invoices": "SELECT provider_invoice_id, plan_id, amount, billing_reason, provider_price_id, paid_at FROM invoices",
    "lifetime": "SELECT provider_checkout_session_id, plan_id, amount, refunded_at IS NULL FROM lifetime",
    "credits": "SELECT source_type, source_id, mode, plan_id, total_credits, remaining_credits, priority, expires_at "
    "FROM credits WHERE provider = 'stripe'",
    "ledger": "SELECT c.source_id, t.type, t.credits, t.description FROM credit_transactions t "
    "JOIN credits c ON c.id = t.credit_id WHERE c.provider = 'stripe'",
    "refunds": "SELECT r.provider_refund_id, r.credits, r.amount, c.source_id FROM billing_refund_reversals r "
    "JOIN credits c ON c.id = r.credit_id",
    "problems": "SELECT event_id, problem FROM billing_event_problems",
}


def play_flows(stripe_sandbox, member, prices):
    def buy(lookup_key):
        result = checkout_start(
            member=member, provider_price_id=prices[lookup_key], success_url=SUCCESS, cancel_url=CANCEL
        )
        stripe_sandbox.complete_checkout(result.id)
        return result

    buy("keel_starter_monthly")
    [subscription] = stripe.Subscription.list(limit=1).data
    stripe_sandbox.advance_subscription(subscription.id)  # a renewal
    stripe.Subscription.modify(
        subscription.id,
        items=[{"id": subscription["items"].data[0].id, "price": prices["keel_pro_monthly"]}],
        proration_behavior="always_invoice",
    )  # an upgrade
    pack = buy("keel_credits_1000")
    stripe.Refund.create(payment_intent=stripe.checkout.Session.retrieve(pack.id).payment_intent, amount=300)
    lifetime = buy("keel_lifetime")
    stripe.Refund.create(payment_intent=stripe.checkout.Session.retrieve(lifetime.id).payment_intent)
    stripe_sandbox.set_card_declines(subscription.customer)
    stripe_sandbox.advance_subscription(subscription.id)  # a failed renewal
    stripe_sandbox.set_card_declines(subscription.customer, declines=False)
    stripe.Invoice.pay(stripe.Invoice.list(subscription=subscription.id, status="open").data[0].id)


@contextmanager
def database_copy(template: str, name: str):
    """Django pointed at a fresh copy of `template` for the block."""
    admin = _admin_connection()
    admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    saved = connections.settings["default"]["NAME"]
    connections.close_all()
    connections.settings["default"]["NAME"] = name
    connection.settings_dict["NAME"] = name
    try:
        yield
    finally:
        connections.close_all()
        connections.settings["default"]["NAME"] = saved
        connection.settings_dict["NAME"] = saved
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


def _admin_connection() -> psycopg.Connection:
    params = connection.get_connection_params()
    params["dbname"] = "postgres"
    params.pop("prepare_threshold", None)
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)


def snapshot() -> dict:
    with connection.cursor() as cursor:
        result = {}
        for table, sql in SNAPSHOT.items():
            cursor.execute(sql)
            result[table] = sorted(tuple(str(value) for value in row) for row in cursor.fetchall())
    return result


def test_any_order_any_duplicates_the_same_state(settings, stripe_sandbox):
    settings.STRIPE_TEST_SECRET_KEY = stripe.api_key
    shop = recording_shop()  # nothing is delivered while the flows run
    prices = shop.prices
    user = UserFactory()
    member = TenantMember.objects.get(tenant=tenant_create(owner=user, name="Replay"), user=user)

    play_flows(stripe_sandbox, member, prices)
    events = [json.loads(str(event)) for event in stripe.Event.list(limit=100).auto_paging_iter()][::-1]
    payloads = [json.dumps(event) for event in events]
    template = f"keel_replay_{uuid.uuid4().hex[:8]}"
    test_db = connection.settings_dict["NAME"]
    connections.close_all()
    release_server_connections(test_db)
    admin = _admin_connection()
    admin.execute(f'CREATE DATABASE "{template}" TEMPLATE "{test_db}"')
    try:
        with database_copy(template, f"{template}_in_order"):
            statuses = [shop.deliver(payload) for payload in payloads]
            in_order = snapshot()
        with database_copy(template, f"{template}_shuffled"):
            twice = payloads * 2
            random.Random(7).shuffle(twice)
            shuffled_statuses = [shop.deliver(payload) for payload in twice]
            shuffled = snapshot()
        with database_copy(template, f"{template}_together"):
            together_statuses = []
            for payload in payloads:
                answers = []
                pair = [
                    threading.Thread(target=lambda p=payload, a=answers: a.append(shop.deliver(p))) for _ in range(2)
                ]
                for thread in pair:
                    thread.start()
                for thread in pair:
                    thread.join()
                if 200 not in answers:  # both refused (500): Stripe delivers again later
                    answers.append(shop.deliver(payload))
                together_statuses += answers
            connections.close_all()
            together = snapshot()
    finally:
        admin.execute(f'DROP DATABASE "{template}" WITH (FORCE)')
        admin.close()

    assert set(statuses) == {200} and set(shuffled_statuses) == {200}
    assert len(events) > 40
    assert in_order["credits"] and in_order["refunds"] and in_order["lifetime"] and in_order["invoices"]
    assert in_order["problems"] == []
    assert shuffled == in_order
    assert together == in_order
    # Two deliveries at the same moment: each is accepted, or refused with a 500 that Stripe retries.
    assert set(together_statuses) <= {200, 500}


def _fill(count: int, prices: dict) -> None:
    """`count` more organizations, each with a subscription, a paid invoice and a grant."""
    from accounts.models import User
    from billing.models import Invoice, Subscription
    from credits.models import Credit
    from organizations.models import Tenant

    tag = uuid.uuid4().hex[:6]
    users = User.objects.bulk_create([User(username=f"fill-{tag}-{n}") for n in range(count)])
    tenants = Tenant.objects.bulk_create(
        [Tenant(name=f"Fill {n}", slug=f"fill-{tag}-{n}", owner=user) for n, user in enumerate(users)]
    )
    Subscription.objects.bulk_create(
        [
            Subscription(
                user=user,
                tenant=tenant,
                status="active",
                plan_id="starter",
                provider_subscription_id=f"sub_fill_{tag}_{n}",
                provider_price_id=prices["keel_starter_monthly"],
            )
            for n, (user, tenant) in enumerate(zip(users, tenants, strict=True))
        ]
    )
    Invoice.objects.bulk_create(
        [
            Invoice(user=user, tenant=tenant, provider_invoice_id=f"in_fill_{tag}_{n}", amount=900)
            for n, (user, tenant) in enumerate(zip(users, tenants, strict=True))
        ]
    )
    Credit.objects.bulk_create(
        [
            Credit(
                user=user,
                tenant=tenant,
                mode="subscription",
                total_credits=1000,
                remaining_credits=1000,
                source_type="invoice",
                source_id=f"in_fill_{tag}_{n}",
                effective_at=0,
            )
            for n, (user, tenant) in enumerate(zip(users, tenants, strict=True))
        ]
    )


def test_queries_per_event_stay_the_same_with_100_times_the_organizations(settings, stripe_sandbox):
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    settings.STRIPE_TEST_SECRET_KEY = stripe.api_key
    shop = recording_shop()
    prices = shop.prices

    def one_customer_flow() -> dict[str, int]:
        last = stripe.Event.list(limit=1).data[0].id
        user = UserFactory()
        member = TenantMember.objects.get(tenant=tenant_create(owner=user, name=f"Org {user.username}"), user=user)
        for key in ("keel_starter_monthly", "keel_credits_1000"):
            result = checkout_start(
                member=member, provider_price_id=prices[key], success_url=SUCCESS, cancel_url=CANCEL
            )
            stripe_sandbox.complete_checkout(result.id)
        stripe_sandbox.advance_subscription(
            stripe.Subscription.list(customer=stripe.Customer.list(limit=1).data[0].id).data[0].id
        )
        events = [json.loads(str(e)) for e in stripe.Event.list(limit=100, ending_before=last).data][::-1]
        counts: dict[str, int] = {}
        for event in events:
            with CaptureQueriesContext(db) as queries:
                assert shop.deliver(json.dumps(event)) == 200
            counts[event["type"]] = max(counts.get(event["type"], 0), len(queries))
        return counts

    one_customer_flow()  # dj-stripe stores each product and price the first time it sees them
    _fill(10, prices)
    at_10 = one_customer_flow()
    _fill(990, prices)
    at_1000 = one_customer_flow()

    assert "invoice.paid" in at_10 and "checkout.session.completed" in at_10
    assert at_1000 == at_10
