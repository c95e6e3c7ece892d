"""Ledger rows and the two bookkeeping identities every write keeps.

Amounts are signed: additions positive, deductions negative. Two exact
identities hold for every organization at every commit (docs/credits.md):

* per grant: the sum of the ledger rows pointing at a grant equals its
  `remaining_credits` (`add:*` +total, `deduct`/`deduct:repay`/`expire`/
  `reverse` negative);
* the overdraft: the sum of the rows without a grant (`deduct:overdraft`
  negative, `add:repay` positive) equals minus what the organization owes.

So the sum of all an organization's rows equals the remaining credits of all
its grants minus its overdraft.
"""

from credits.models import CreditMode, CreditOverdraft, CreditTransaction, TransactionType

ADD_TYPE_FOR_MODE = {
    CreditMode.FREE: TransactionType.ADD_FREE,
    CreditMode.SUBSCRIPTION: TransactionType.ADD_SUBSCRIPTION,
    CreditMode.ONE_TIME_CREDITS: TransactionType.ADD_PURCHASE,
    CreditMode.ONE_TIME_LIFETIME: TransactionType.ADD_PURCHASE,
    CreditMode.GRANT: TransactionType.ADD_GRANT,
}


def ledger_row(
    *, tenant_id, user_id, credits: int, type: str, at_ms: int, credit_id=None, description: str = ""
) -> CreditTransaction:
    return CreditTransaction(
        tenant_id=tenant_id,
        user_id=user_id,
        credit_id=credit_id,
        credits=credits,
        type=type,
        description=description,
        created_at=at_ms,
    )


def mark_saved(rows: list[CreditTransaction], alias: str) -> None:
    """Rows the database wrote itself (the consumption function), marked as `bulk_create` would."""
    for row in rows:
        row._state.adding = False  # saved, as bulk_create would mark them
        row._state.db = alias


def overdraft_set(*, tenant, owed_before: int, owed_after: int, user_id, at_ms: int) -> None:
    """Write the organization's overdraft row (caller holds the wallet lock, core/locks.py).

    `user_id` is who last ran the overdraft up; repayments keep it.
    """
    if owed_after == owed_before:
        return
    fields = {"credits": owed_after, "updated_at": at_ms}
    if owed_after > owed_before:
        fields["user_id"] = user_id
    updated = CreditOverdraft.objects.filter(tenant_id=tenant.pk).update(**fields)
    if not updated:
        CreditOverdraft.objects.create(
            tenant_id=tenant.pk, user_id=user_id, credits=owed_after, created_at=at_ms, updated_at=at_ms
        )
