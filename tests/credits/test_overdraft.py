import pytest

from core.errors import ValidationFailed
from credits.errors import InsufficientCredits
from credits.models import CreditOverdraft, CreditTransaction
from credits.selectors import credits_summary
from credits.services import credits_consume, tenant_overdraft_configure
from organizations.models import Tenant
from tests.credits.helpers import add_member, assert_invariants, give, make_org, owed, remaining

pytestmark = pytest.mark.django_db

NOW = 1_800_000_000_000


def test_overdraft_is_off_by_default():
    tenant = make_org()
    assert (tenant.overdraft_enabled, tenant.overdraft_limit) == (False, 0)
    give(tenant, 5)
    with pytest.raises(InsufficientCredits):
        credits_consume(tenant=tenant, user=tenant.owner, amount=6)
    assert not CreditOverdraft.objects.exists()


def test_allowed_overdraft_records_the_uncovered_part():
    tenant = make_org(overdraft_limit=50)
    member = add_member(tenant)
    grant = give(tenant, 30)

    result = credits_consume(tenant=tenant, user=member, amount=45, description="big job")

    assert remaining(grant) == 0
    assert [(tx.type, tx.credits, tx.credit_id) for tx in result.transactions] == [
        ("deduct", -30, grant.pk),
        ("deduct:overdraft", -15, None),
    ]
    overdraft = CreditOverdraft.objects.get(tenant=tenant)
    assert (overdraft.credits, overdraft.user_id) == (15, member.pk)
    assert (result.balance, result.overdraft) == (-15, 15)
    assert credits_summary(tenant=tenant, user=member).balance == -15
    assert_invariants(tenant)


def test_overdraft_up_to_the_maximum_and_not_beyond():
    tenant = make_org(overdraft_limit=20)
    credits_consume(tenant=tenant, user=tenant.owner, amount=15)
    before = CreditTransaction.objects.count()

    with pytest.raises(InsufficientCredits) as refused:
        credits_consume(tenant=tenant, user=tenant.owner, amount=6)

    assert "5 more on overdraft" in refused.value.detail
    assert CreditTransaction.objects.count() == before and owed(tenant) == 15
    credits_consume(tenant=tenant, user=tenant.owner, amount=5)
    assert owed(tenant) == 20
    assert_invariants(tenant)


def test_settings_are_read_at_consumption_time():
    tenant = make_org()
    stale_copy = Tenant.objects.get(pk=tenant.pk)
    tenant_overdraft_configure(tenant=tenant, enabled=True, limit=10)

    credits_consume(tenant=stale_copy, user=tenant.owner, amount=10)

    assert owed(tenant) == 10


def test_turning_overdraft_off_keeps_the_debt_and_refuses_more():
    tenant = make_org(overdraft_limit=10)
    credits_consume(tenant=tenant, user=tenant.owner, amount=10)
    tenant_overdraft_configure(tenant=tenant, enabled=False, limit=10)
    with pytest.raises(InsufficientCredits):
        credits_consume(tenant=tenant, user=tenant.owner, amount=1)
    assert owed(tenant) == 10


@pytest.mark.parametrize("limit", [-1, 1.5, True, 2**31])
def test_bad_overdraft_limits_are_refused(limit):
    tenant = make_org()
    with pytest.raises(ValidationFailed):
        tenant_overdraft_configure(tenant=tenant, enabled=True, limit=limit)
    tenant.refresh_from_db()
    assert (tenant.overdraft_enabled, tenant.overdraft_limit) == (False, 0)


def test_credits_that_become_usable_while_owing_repay_first():
    """A grant made before the overdraft, effective only later, pays it back at the next consumption."""
    tenant = make_org(overdraft_limit=100)
    later = give(tenant, 50, effective_at=NOW + 1_000, now=NOW)
    credits_consume(tenant=tenant, user=tenant.owner, amount=20, now=NOW)  # all on overdraft
    assert owed(tenant) == 20
    assert credits_summary(tenant=tenant, user=tenant.owner, at_ms=NOW + 1_000).balance == 30

    with pytest.raises(InsufficientCredits):  # 30 after repaying, plus 100 on overdraft
        credits_consume(tenant=tenant, user=tenant.owner, amount=131, now=NOW + 1_000)
    result = credits_consume(tenant=tenant, user=tenant.owner, amount=30, now=NOW + 1_000)

    assert [tx.type for tx in result.transactions] == ["deduct:repay", "add:repay", "deduct"]
    assert (owed(tenant), remaining(later), result.balance) == (0, 0, 0)
    assert_invariants(tenant)


def test_balance_without_overdraft_is_what_can_be_spent_without_it():
    tenant = make_org()
    give(tenant, 50, effective_at=NOW + 1_000, now=NOW)
    tenant_overdraft_configure(tenant=tenant, enabled=True, limit=20)
    credits_consume(tenant=tenant, user=tenant.owner, amount=20, now=NOW)
    tenant_overdraft_configure(tenant=tenant, enabled=False, limit=20)

    # balance 30: 31 is refused, 30 goes through
    with pytest.raises(InsufficientCredits):
        credits_consume(tenant=tenant, user=tenant.owner, amount=31, now=NOW + 1_000)
    credits_consume(tenant=tenant, user=tenant.owner, amount=30, now=NOW + 1_000)
    assert_invariants(tenant)
