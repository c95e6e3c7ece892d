"""Many simultaneous consumers of one organization: no credit lost or made up.

Real threads, each with its own database connection, start together at a
barrier; the invariants are checked from the database afterwards.
"""

import random
import threading
import uuid

import pytest
from django.db import connections
from django.test import Client

from core.time import now_ms
from credits.errors import InsufficientCredits, MemberCreditLimitExceeded
from credits.models import CreditTransaction, IdempotencyKey
from credits.services import api_key_create, credits_consume, credits_expire
from organizations.models import TenantMemberCreditLimit
from tests.credits.helpers import add_member, assert_invariants, give, ledger_sum, make_org, owed

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 16


def run_threads(target, count: int = THREADS) -> list:
    barrier = threading.Barrier(count)
    errors: list = []

    def wrapped(index):
        try:
            barrier.wait()
            target(index)
        except Exception as exc:  # surfaced in the main thread below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a consumer hung (deadlock?)"
    return errors


def test_sixteen_concurrent_consumers_keep_every_invariant():
    tenant = make_org(overdraft_limit=60)
    limits = random.Random(5)
    members = [add_member(tenant, credit_limit=limits.choice([-1, 40, 80])) for _ in range(THREADS)]
    start = now_ms()
    for priority in (90, 50, 50, 10):
        give(tenant, 150, priority=priority)
    give(tenant, 100, expires_at=start + 300, now=start - 10)  # expires mid-run
    spent = [0] * THREADS
    refusals = [0] * THREADS

    def consumer(index):
        rng = random.Random(index)
        for step in range(25):
            if index == 0 and step % 5 == 0:
                credits_expire()
            if index == 1 and step % 8 == 0:
                give(tenant, 40)  # pays overdraft back first, while others consume
            amount = rng.randint(1, 6)
            try:
                credits_consume(tenant=tenant, user=members[index], amount=amount, description=f"t{index}")
            except (InsufficientCredits, MemberCreditLimitExceeded):
                refusals[index] += 1
            else:
                spent[index] += amount

    errors = run_threads(consumer)

    assert errors == []
    credits_expire()
    assert_invariants(tenant)
    consumed = -ledger_sum(tenant, type__in=["deduct", "deduct:overdraft"])
    assert consumed == sum(spent) > 0
    assert sum(refusals) > 0, "the run should have exhausted credits or limits at least once"
    for index, member in enumerate(members):
        assert TenantMemberCreditLimit.objects.get(tenant=tenant, user=member).used_credits == spent[index]
    assert 0 <= owed(tenant) <= 60


def test_concurrent_duplicates_of_one_idempotency_key_spend_once():
    tenant = make_org()
    give(tenant, 1_000)
    _key, raw_key = api_key_create(tenant=tenant, user=tenant.owner, name="load")
    responses: list = [None] * THREADS

    def post(index):
        responses[index] = Client().post(
            f"/api/v1/orgs/{tenant.slug}/credits/consume/",
            {"amount": 7, "description": "once"},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw_key}",
            HTTP_IDEMPOTENCY_KEY="the-same-key",
        )

    assert run_threads(post) == []

    assert [r.status_code for r in responses] == [201] * THREADS
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == THREADS - 1
    assert len({r.content for r in responses}) == 1
    assert CreditTransaction.objects.filter(tenant=tenant, type="deduct").count() == 1
    assert IdempotencyKey.objects.count() == 1
    assert_invariants(tenant)


def test_concurrent_consumers_of_many_organizations_do_not_block_each_other_into_errors():
    tenants = [make_org() for _ in range(4)]
    for tenant in tenants:
        give(tenant, 100)

    def consumer(index):
        tenant = tenants[index % len(tenants)]
        for _ in range(10):
            credits_consume(tenant=tenant, user=tenant.owner, amount=2, idempotency_key=str(uuid.uuid4()))

    assert run_threads(consumer) == []
    for tenant in tenants:
        assert_invariants(tenant)
        assert ledger_sum(tenant) == 100 - 4 * 10 * 2
