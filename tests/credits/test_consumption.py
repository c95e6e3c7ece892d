import pytest

from core.errors import ValidationFailed
from credits.errors import IdempotencyConflict, InsufficientCredits, InvalidAmount, MemberCreditLimitExceeded
from credits.models import CreditTransaction, IdempotencyKey
from credits.services import credits_consume
from organizations.models import TenantMemberCreditLimit
from tests.credits.helpers import add_member, assert_invariants, give, make_org, owed, remaining

pytestmark = pytest.mark.django_db

NOW = 1_800_000_000_000


def snapshot(tenant):
    return (
        list(CreditTransaction.objects.filter(tenant=tenant).values_list("id", flat=True)),
        list(TenantMemberCreditLimit.objects.filter(tenant=tenant).values_list("used_credits", flat=True)),
        sorted(tenant.credits.values_list("remaining_credits", flat=True)),
        owed(tenant),
    )


def test_consumption_takes_grants_in_design_order():
    """priority DESC, soonest expiry first (never last), then effective_at, created_at."""
    tenant = make_org()
    never_low = give(tenant, 10, priority=10, now=NOW - 50)
    never = give(tenant, 10, priority=50, now=NOW - 40)
    late = give(tenant, 10, priority=50, expires_at=NOW + 9_000, now=NOW - 30)
    soon = give(tenant, 10, priority=50, expires_at=NOW + 1_000, now=NOW - 20)
    top = give(tenant, 10, priority=90, now=NOW - 10)
    older_effective = give(tenant, 10, priority=50, expires_at=NOW + 9_000, effective_at=NOW - 100, now=NOW - 5)

    result = credits_consume(tenant=tenant, user=tenant.owner, amount=55, now=NOW)

    touched = [tx.credit_id for tx in result.transactions]
    assert touched == [top.pk, soon.pk, older_effective.pk, late.pk, never.pk, never_low.pk]
    assert [tx.credits for tx in result.transactions] == [-10, -10, -10, -10, -10, -5]
    assert remaining(never_low) == 5
    assert (result.consumed, result.balance, result.overdraft) == (55, 5, 0)
    assert_invariants(tenant)


def test_one_ledger_row_per_grant_touched_and_used_credits_counted():
    tenant = make_org()
    member = add_member(tenant, credit_limit=100)
    first, second = give(tenant, 30, priority=60), give(tenant, 30)

    result = credits_consume(tenant=tenant, user=member, amount=40, description="render #7")

    rows = CreditTransaction.objects.filter(tenant=tenant, type="deduct").order_by("credits")
    assert [(r.credit_id, r.credits, r.user_id, r.description) for r in rows] == [
        (first.pk, -30, member.pk, "render #7"),
        (second.pk, -10, member.pk, "render #7"),
    ]
    assert TenantMemberCreditLimit.objects.get(tenant=tenant, user=member).used_credits == 40
    assert result.balance == 20
    assert_invariants(tenant)


def test_not_enough_credits_is_refused_and_writes_nothing():
    tenant = make_org()
    give(tenant, 30)
    give(tenant, 10)
    before = snapshot(tenant)

    with pytest.raises(InsufficientCredits) as refused:
        credits_consume(tenant=tenant, user=tenant.owner, amount=41)

    assert refused.value.status == 402 and refused.value.code == "insufficient_credits"
    assert "41 requested, 40 available" in refused.value.detail
    assert snapshot(tenant) == before


def test_expired_and_future_grants_do_not_count_even_before_the_expiry_job():
    tenant = make_org()
    expired = give(tenant, 50, expires_at=NOW, now=NOW - 1_000)
    future = give(tenant, 50, effective_at=NOW + 1, now=NOW - 1_000)
    usable = give(tenant, 5, now=NOW - 1_000)

    with pytest.raises(InsufficientCredits):
        credits_consume(tenant=tenant, user=tenant.owner, amount=6, now=NOW)
    credits_consume(tenant=tenant, user=tenant.owner, amount=5, now=NOW)

    assert (remaining(expired), remaining(future), remaining(usable)) == (50, 50, 0)
    assert_invariants(tenant)


def test_member_limit_is_checked_and_refusal_writes_nothing():
    tenant = make_org()
    member = add_member(tenant, credit_limit=10)
    give(tenant, 100)
    credits_consume(tenant=tenant, user=member, amount=7)
    before = snapshot(tenant)

    with pytest.raises(MemberCreditLimitExceeded) as refused:
        credits_consume(tenant=tenant, user=member, amount=4)

    assert refused.value.status == 403 and "3 left of 10" in refused.value.detail
    assert snapshot(tenant) == before
    credits_consume(tenant=tenant, user=member, amount=3)  # exactly up to the limit is fine
    assert TenantMemberCreditLimit.objects.get(tenant=tenant, user=member).used_credits == 10
    assert_invariants(tenant)


def test_limit_of_zero_refuses_everything_and_unlimited_refuses_nothing():
    tenant = make_org()
    blocked = add_member(tenant, credit_limit=0)
    free = add_member(tenant, credit_limit=-1)
    give(tenant, 1_000)
    with pytest.raises(MemberCreditLimitExceeded):
        credits_consume(tenant=tenant, user=blocked, amount=1)
    credits_consume(tenant=tenant, user=free, amount=1_000)
    assert_invariants(tenant)


def test_an_unlimited_members_count_stops_at_the_integer_maximum_instead_of_failing():
    tenant = make_org()
    give(tenant, 100)
    TenantMemberCreditLimit.objects.filter(tenant=tenant, user=tenant.owner).update(used_credits=2_147_483_640)

    result = credits_consume(tenant=tenant, user=tenant.owner, amount=30)
    credits_consume(tenant=tenant, user=tenant.owner, amount=5)

    assert result.balance == 70
    assert TenantMemberCreditLimit.objects.get(tenant=tenant, user=tenant.owner).used_credits == 2_147_483_647
    assert CreditTransaction.objects.filter(tenant=tenant, type="deduct").count() == 2


@pytest.mark.parametrize("amount", [0, -1, 1.0, "5", True, None, 2**31])
def test_amount_must_be_a_positive_whole_number(amount):
    tenant = make_org()
    give(tenant, 10)
    with pytest.raises(InvalidAmount):
        credits_consume(tenant=tenant, user=tenant.owner, amount=amount)
    assert not CreditTransaction.objects.filter(type="deduct").exists()


def test_overlong_description_is_refused():
    tenant = make_org()
    give(tenant, 10)
    with pytest.raises(ValidationFailed):
        credits_consume(tenant=tenant, user=tenant.owner, amount=1, description="x" * 1001)


def test_same_idempotency_key_replays_and_spends_once():
    tenant = make_org()
    give(tenant, 10)

    first = credits_consume(tenant=tenant, user=tenant.owner, amount=4, description="a", idempotency_key="k1")
    again = credits_consume(tenant=tenant, user=tenant.owner, amount=4, description="a", idempotency_key="k1")

    assert not first.replayed and again.replayed
    assert (again.consumed, again.balance) == (4, 6)
    assert [tx.pk for tx in again.transactions] == [tx.pk for tx in first.transactions]
    assert CreditTransaction.objects.filter(type="deduct").count() == 1
    assert TenantMemberCreditLimit.objects.get(tenant=tenant, user=tenant.owner).used_credits == 4
    assert_invariants(tenant)


@pytest.mark.parametrize("change", [{"amount": 5}, {"description": "b"}, {"user": "other"}])
def test_same_key_with_a_different_request_is_a_conflict(change):
    tenant = make_org()
    other = add_member(tenant)
    give(tenant, 10)
    credits_consume(tenant=tenant, user=tenant.owner, amount=4, description="a", idempotency_key="k1")
    before = snapshot(tenant)
    request = {"user": tenant.owner, "amount": 4, "description": "a", **change}
    if request["user"] == "other":
        request["user"] = other

    with pytest.raises(IdempotencyConflict) as conflict:
        credits_consume(tenant=tenant, idempotency_key="k1", **request)

    assert conflict.value.status == 409 and conflict.value.code == "idempotency_conflict"
    assert snapshot(tenant) == before


def test_keys_are_per_organization():
    one, two = make_org(), make_org()
    give(one, 10)
    give(two, 10)
    credits_consume(tenant=one, user=one.owner, amount=1, idempotency_key="same")
    result = credits_consume(tenant=two, user=two.owner, amount=1, idempotency_key="same")
    assert not result.replayed
    assert IdempotencyKey.objects.count() == 2


def test_a_refused_consumption_leaves_its_key_free_for_a_retry():
    tenant = make_org()
    with pytest.raises(InsufficientCredits):
        credits_consume(tenant=tenant, user=tenant.owner, amount=5, idempotency_key="retry-me")
    assert not IdempotencyKey.objects.exists()

    give(tenant, 5)
    result = credits_consume(tenant=tenant, user=tenant.owner, amount=5, idempotency_key="retry-me")

    assert not result.replayed and result.balance == 0
    assert_invariants(tenant)


def test_consumption_cost_does_not_grow_with_history(django_assert_max_num_queries):
    tenant = make_org()
    for _ in range(50):
        give(tenant, 10)
    CreditTransaction.objects.bulk_create(
        CreditTransaction(tenant=tenant, user=tenant.owner, credits=0, type="deduct") for _ in range(2_000)
    )
    # savepoint, the consumption (one statement), release: the same with 1 grant and no history
    with django_assert_max_num_queries(3):
        credits_consume(tenant=tenant, user=tenant.owner, amount=25, idempotency_key="q")
