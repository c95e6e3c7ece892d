"""Building blocks for credits tests: organizations with members, grants, and the invariants."""

import itertools

from django.db.models import Sum

from credits.models import Credit, CreditOverdraft, CreditTransaction, TransactionType
from credits.services import credits_grant
from credits.services._ledger import ADD_TYPE_FOR_MODE
from organizations.models import TenantMemberCreditLimit
from tests import factories
from tests.credits.reference import Grant

_sources = itertools.count()


def make_org(*, overdraft_limit: int | None = None, **tenant_fields):
    """An organization with its owner (member, unlimited credit-limit row); overdraft allowed if a limit is given."""
    if overdraft_limit is not None:
        tenant_fields.update(overdraft_enabled=True, overdraft_limit=overdraft_limit)
    tenant = factories.TenantFactory(**tenant_fields)
    factories.TenantMemberFactory(tenant=tenant, user=tenant.owner, role="owner")
    factories.TenantMemberCreditLimitFactory(tenant=tenant, user=tenant.owner)
    return tenant


def add_member(tenant, *, role: str = "member", credit_limit: int = -1, permissions=(), **user_fields):
    user = factories.UserFactory(**user_fields)
    factories.TenantMemberFactory(tenant=tenant, user=user, role=role, permissions=list(permissions))
    factories.TenantMemberCreditLimitFactory(tenant=tenant, user=user, credit_limit=credit_limit)
    return user


def give(tenant, amount: int, **kwargs) -> Credit:
    """A grant through the real service (a credit pack unless told otherwise)."""
    kwargs.setdefault("mode", "one_time:credits")
    kwargs.setdefault("source_type", "test")
    kwargs.setdefault("source_id", f"test_{next(_sources)}")
    return credits_grant(tenant=tenant, user=kwargs.pop("user", tenant.owner), amount=amount, **kwargs)


def remaining(grant: Credit) -> int:
    return Credit.objects.values_list("remaining_credits", flat=True).get(pk=grant.pk)


def owed(tenant) -> int:
    return CreditOverdraft.objects.filter(tenant=tenant).values_list("credits", flat=True).first() or 0


def ledger_sum(tenant, **filters) -> int:
    return CreditTransaction.objects.filter(tenant=tenant, **filters).aggregate(s=Sum("credits"))["s"] or 0


def assert_invariants(tenant) -> None:
    """Every bookkeeping identity of docs/credits.md, checked from the database (a few queries)."""
    grants = dict(Credit.objects.filter(tenant=tenant).values_list("pk", "remaining_credits"))
    totals = dict(Credit.objects.filter(tenant=tenant).values_list("pk", "total_credits"))
    for pk, left in grants.items():
        assert 0 <= left <= totals[pk], f"grant {pk}: {left} of {totals[pk]}"
    rows = CreditTransaction.objects.filter(tenant=tenant)
    per_grant = dict(rows.filter(credit__isnull=False).values_list("credit_id").annotate(s=Sum("credits")))
    assert {pk: per_grant.get(pk, 0) for pk in grants} == grants, "a grant disagrees with its ledger rows"
    debt = owed(tenant)
    assert debt >= 0
    assert -ledger_sum(tenant, credit__isnull=True) == debt, "overdraft disagrees with ledger"
    assert ledger_sum(tenant) == sum(grants.values()) - debt
    deductions = (TransactionType.DEDUCT, TransactionType.DEDUCT_OVERDRAFT)
    spent = dict(rows.filter(type__in=deductions).values_list("user_id").annotate(s=Sum("credits")))
    for user_id, limit, used in TenantMemberCreditLimit.objects.filter(tenant=tenant).values_list(
        "user_id", "credit_limit", "used_credits"
    ):
        assert used == -spent.get(user_id, 0), (
            f"used_credits of {user_id} is {used}, ledger says {-spent.get(user_id, 0)}"
        )
        if limit != -1:
            assert used <= limit


def give_both(
    tenant, wallet, amount: int, *, source_id: str, now: int, priority: int = 50, effective_at=None, expires_at=None
):
    """A credit pack granted through the service and to the reference's wallet (reference.py) alike."""
    credit = credits_grant(
        tenant=tenant,
        user=tenant.owner,
        amount=amount,
        mode="one_time:credits",
        source_type="test",
        source_id=source_id,
        priority=priority,
        effective_at=effective_at,
        expires_at=expires_at,
        now=now,
    )
    effective = now if effective_at is None else effective_at
    wallet.grant(
        Grant(credit.pk, amount, amount, priority, effective, expires_at, now),
        add_type=ADD_TYPE_FOR_MODE["one_time:credits"].value,
        description="Credit pack",
    )
    return credit
