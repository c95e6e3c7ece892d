"""The consume hot path's shortcuts give what the slower, general code gives.

Raw SQL for the grants read, a dict for the response, the key's membership
loaded with the key, the idempotency key written last: each is checked here
against the ORM/serializer/general path it stands in for.
"""

import pytest

from credits.api import consume_output
from credits.errors import IdempotencyConflict, InsufficientCredits, MemberCreditLimitExceeded
from credits.models import Credit, CreditTransaction, IdempotencyKey
from credits.serializers import ConsumeOutputSerializer
from credits.services import credits_consume
from credits.services.consumption import _usable_grants
from organizations.models import TenantMemberCreditLimit, TenantSlug
from tests.credits.conftest import consume, url
from tests.credits.helpers import add_member, assert_invariants, give, make_org

pytestmark = pytest.mark.django_db

NOW = 1_800_000_000_000


def test_raw_grants_read_matches_the_orm_order_and_filter():
    tenant = make_org()
    give(tenant, 10, priority=10, now=NOW - 50)
    give(tenant, 10, priority=50, now=NOW - 40)
    give(tenant, 10, priority=50, expires_at=NOW + 9_000, now=NOW - 30)
    give(tenant, 10, priority=50, expires_at=NOW + 1_000, now=NOW - 20)
    give(tenant, 10, priority=90, now=NOW - 10)
    give(tenant, 10, priority=50, expires_at=NOW + 9_000, effective_at=NOW - 100, now=NOW - 5)
    give(tenant, 10, priority=50, expires_at=NOW + 9_000, effective_at=NOW - 100, now=NOW - 5)  # same keys: id decides
    give(tenant, 10, priority=99, expires_at=NOW, effective_at=NOW - 100, now=NOW - 200)  # expired now
    give(tenant, 10, priority=99, effective_at=NOW + 1, now=NOW - 3)  # not effective yet
    used = give(tenant, 10, priority=99, now=NOW - 2)
    Credit.objects.filter(pk=used.pk).update(remaining_credits=0)
    give(make_org(), 10, priority=99, now=NOW - 1)  # another organization

    expected = [
        [credit_id, left]
        for credit_id, left in Credit.objects.filter(tenant=tenant)
        .usable(at_ms=NOW)
        .in_consumption_order()
        .values_list("id", "remaining_credits")
    ]

    assert len(expected) == 7
    assert _usable_grants(tenant_id=tenant.pk, at_ms=NOW) == expected


@pytest.mark.parametrize("replay", [False, True])
def test_the_response_body_is_what_the_output_serializer_renders(replay):
    tenant = make_org(overdraft_limit=100)
    give(tenant, 3, now=NOW - 50)
    give(tenant, 4, priority=90, now=NOW - 40)
    first = credits_consume(
        tenant=tenant, user=tenant.owner, amount=20, description="mixed", idempotency_key="k", now=NOW
    )
    result = (
        credits_consume(tenant=tenant, user=tenant.owner, amount=20, description="mixed", idempotency_key="k", now=NOW)
        if replay
        else first
    )

    assert result.replayed == replay
    assert {tx.type for tx in result.transactions} >= {"deduct", "deduct:overdraft"}
    assert consume_output(result) == ConsumeOutputSerializer(result).data
    assert_invariants(tenant)


def test_a_repeat_that_would_now_be_refused_still_replays():
    tenant = make_org()
    give(tenant, 10)
    first = credits_consume(tenant=tenant, user=tenant.owner, amount=10, idempotency_key="all")

    again = credits_consume(tenant=tenant, user=tenant.owner, amount=10, idempotency_key="all")

    assert again.replayed and [tx.pk for tx in again.transactions] == [tx.pk for tx in first.transactions]
    with pytest.raises(IdempotencyConflict):
        credits_consume(tenant=tenant, user=tenant.owner, amount=9, idempotency_key="all")
    with pytest.raises(InsufficientCredits):
        credits_consume(tenant=tenant, user=tenant.owner, amount=9, idempotency_key="fresh")
    assert IdempotencyKey.objects.count() == 1
    assert CreditTransaction.objects.filter(type="deduct").count() == 1
    assert_invariants(tenant)


def test_a_repeat_over_the_member_limit_now_still_replays():
    tenant = make_org()
    member = add_member(tenant, credit_limit=4)
    give(tenant, 10)
    credits_consume(tenant=tenant, user=member, amount=4, idempotency_key="m")

    assert credits_consume(tenant=tenant, user=member, amount=4, idempotency_key="m").replayed
    with pytest.raises(MemberCreditLimitExceeded):
        credits_consume(tenant=tenant, user=member, amount=4, idempotency_key="other")
    assert TenantMemberCreditLimit.objects.get(tenant=tenant, user=member).used_credits == 4


def test_a_membership_without_its_limit_row_reads_the_debt_too():
    tenant = make_org(overdraft_limit=50)
    credits_consume(tenant=tenant, user=tenant.owner, amount=5)  # owed 5
    member = add_member(tenant)
    TenantMemberCreditLimit.objects.filter(tenant=tenant, user=member).delete()
    give(tenant, 8)  # repays the 5 first: 3 left

    with pytest.raises(InsufficientCredits):
        credits_consume(tenant=tenant, user=member, amount=54)
    result = credits_consume(tenant=tenant, user=member, amount=53)

    assert (result.balance, result.overdraft) == (-50, 50)
    assert TenantMemberCreditLimit.objects.get(tenant=tenant, user=member).used_credits == 53
    assert_invariants(tenant)


def test_a_key_consumes_with_one_query_for_key_and_membership(org, api, django_assert_max_num_queries):
    give(org, 10)
    consume(api, org, {"amount": 1}, key="first")  # last_used_at written on the first use
    # the key with its membership; BEGIN, wallet lock, member limit (and debt), grants, update grants,
    # ledger, idempotency key, COMMIT
    with django_assert_max_num_queries(9):
        assert consume(api, org, {"amount": 1}, key="second").status_code == 201


def test_a_key_whose_user_left_gets_404_and_an_old_slug_still_resolves(org, api):
    give(org, 10)
    old_slug = org.slug
    org.slug = f"{old_slug}-renamed"
    org.save()
    TenantSlug.objects.create(tenant=org, slug=old_slug)

    assert api.get(url(org)).status_code == 200
    org.slug = old_slug  # ask by the former slug
    assert api.get(url(org)).status_code == 200
    org.members.all().delete()
    assert api.get(url(org)).status_code == 404
