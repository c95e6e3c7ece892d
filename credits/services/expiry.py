"""Expiry: grants stop counting the moment they expire; `expire_credits` writes it down.

Reads never count an expired grant (`CreditQuerySet.usable`), so nothing waits
for this job. The job zeroes expired grants that still hold credits and writes
one `expire` ledger row each, in batches of one short transaction. Each batch
takes the wallet locks of the organizations it touches (in id order) and
re-reads the grants under them, so it is safe beside running consumptions and
beside another run of itself: a grant is expired once.
"""

from audit.services import audit_event, audit_records
from core.db import run_atomic
from core.locks import lock_rows
from core.time import now_ms
from credits.models import Credit, CreditTransaction, TransactionType
from credits.services._ledger import ledger_row
from organizations.models import Tenant


def _expire_batch(*, at_ms: int, batch_size: int) -> tuple[int, int]:
    """Returns (candidates seen, grants expired)."""
    candidates = list(
        Credit.objects.filter(remaining_credits__gt=0, expires_at__lte=at_ms)
        .order_by("expires_at", "id")
        .values_list("id", "tenant_id")[:batch_size]
    )
    if not candidates:
        return 0, 0
    lock_rows(Tenant, [tenant_id for _, tenant_id in candidates], fields=["id"])
    grants = list(
        Credit.objects.filter(pk__in=[pk for pk, _ in candidates], remaining_credits__gt=0, expires_at__lte=at_ms)
        .order_by("id")
        .values_list("id", "tenant_id", "user_id", "remaining_credits")
    )
    if grants:
        Credit.objects.filter(pk__in=[g[0] for g in grants]).update(remaining_credits=0)
        CreditTransaction.objects.bulk_create(
            ledger_row(
                tenant_id=tenant_id,
                user_id=user_id,
                credit_id=credit_id,
                credits=-remaining,
                type=TransactionType.EXPIRE,
                at_ms=at_ms,
                description="Expired",
            )
            for credit_id, tenant_id, user_id, remaining in grants
        )
        # The batch's audit rows in one INSERT (docs/audit.md, `credits.expired`).
        audit_records(
            [
                audit_event(
                    action="credits.expired",
                    tenant_id=tenant_id,
                    target_type="credit",
                    target_id=str(credit_id),
                    target_label="Expired",
                    before={"remaining_credits": remaining},
                    after={"remaining_credits": 0},
                )
                for credit_id, tenant_id, _user_id, remaining in grants
            ]
        )
    return len(candidates), len(grants)


def credits_expire(*, now: int | None = None, batch_size: int = 500) -> int:
    """Zero every grant expired at `now`, with its ledger row; returns how many grants it expired."""
    at_ms = now if now is not None else now_ms()
    expired = 0
    while True:
        seen, done = run_atomic(lambda: _expire_batch(at_ms=at_ms, batch_size=batch_size))
        expired += done
        if seen == 0:
            return expired
