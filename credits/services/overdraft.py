"""Overdraft: an organization may owe credits, up to a maximum, when it allows it.

What it owes is one `credit_overdrafts` row. Every later grant first pays it
back; credits that become usable while something is owed (a grant effective
later) pay it back at the next consumption. A repayment writes two ledger
rows that sum to zero: `deduct:repay` on the grant that pays, `add:repay`
(without a grant) on the overdraft.
"""

from audit.services import audit_record
from core.db import run_atomic
from core.errors import ValidationFailed
from core.locks import lock_row
from core.time import now_ms
from credits.models import MAX_CREDITS, CreditTransaction, TransactionType
from credits.services._ledger import ledger_row
from organizations.models import Tenant

# The descriptions of a repayment's two ledger rows (grants and consumptions write them).
REPAID_DESCRIPTION = "Overdraft repaid"
SETTLED_DESCRIPTION = "Overdraft settled"


def repayment_rows(*, tenant_id, user_id, draws: list[tuple[object, int]], at_ms: int) -> list[CreditTransaction]:
    if not draws:
        return []
    rows = [
        ledger_row(
            tenant_id=tenant_id,
            user_id=user_id,
            credit_id=credit_id,
            credits=-n,
            type=TransactionType.DEDUCT_REPAY,
            at_ms=at_ms,
            description=REPAID_DESCRIPTION,
        )
        for credit_id, n in draws
    ]
    rows.append(
        ledger_row(
            tenant_id=tenant_id,
            user_id=user_id,
            credits=sum(n for _, n in draws),
            type=TransactionType.ADD_REPAY,
            at_ms=at_ms,
            description=SETTLED_DESCRIPTION,
        )
    )
    return rows


def tenant_overdraft_configure(*, tenant: Tenant, enabled: bool, limit: int) -> Tenant:
    """Allow (or stop) an organization owing up to `limit` credits.

    Lowering the limit below what is owed is allowed: nothing more can be
    overdrawn until it is repaid, and nothing already owed is forgiven.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_CREDITS:
        raise ValidationFailed("The overdraft limit must be a whole number of credits, 0 or more.", field="limit")

    def write() -> Tenant:
        # The lock reads what it replaces, for the audit row: no query of its own.
        locked = lock_row(Tenant, tenant.pk, fields=["id", "overdraft_enabled", "overdraft_limit"])
        Tenant.objects.filter(pk=tenant.pk).update(
            overdraft_enabled=enabled, overdraft_limit=limit, updated_at=now_ms()
        )
        before = {"overdraft_enabled": locked.overdraft_enabled, "overdraft_limit": locked.overdraft_limit}
        after = {"overdraft_enabled": enabled, "overdraft_limit": limit}
        if before != after:
            audit_record(
                action="tenant.overdraft_changed",
                tenant_id=tenant.pk,
                target=tenant,
                target_label=tenant.name,
                before=before,
                after=after,
            )
        tenant.overdraft_enabled, tenant.overdraft_limit = enabled, limit
        return tenant

    return run_atomic(write)
