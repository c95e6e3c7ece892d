"""Reversal: take back what is left of a grant (a refund), never below zero."""

from django.db.models import F

from audit.services import audit_record
from core.db import RetryTransaction, run_atomic
from core.errors import ValidationFailed
from core.locks import lock_row
from core.time import now_ms
from credits.models import Credit, TransactionType
from credits.services._ledger import ledger_row
from organizations.models import Tenant


def credits_reverse(*, credit: Credit, description: str, amount: int | None = None, now: int | None = None) -> int:
    """Take back `amount` (default: all that is left) of `credit`; returns what was taken back.

    Credits already spent stay spent: a refund after use takes back only the
    rest, and a second reversal of the same grant takes back nothing and writes
    nothing.
    """
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0):
        raise ValidationFailed("The amount to take back must be a positive whole number.", field="amount")
    at_ms = now if now is not None else now_ms()

    def write() -> tuple[int, int]:
        lock_row(Tenant, credit.tenant_id, fields=["id"])
        remaining = Credit.objects.filter(pk=credit.pk).values_list("remaining_credits", flat=True).get()
        taken = remaining if amount is None else min(amount, remaining)
        if taken <= 0:
            return 0, remaining
        if not Credit.objects.filter(pk=credit.pk, remaining_credits__gte=taken).update(
            remaining_credits=F("remaining_credits") - taken
        ):
            raise RetryTransaction
        ledger_row(
            tenant_id=credit.tenant_id,
            user_id=credit.user_id,
            credit_id=credit.pk,
            credits=-taken,
            type=TransactionType.REVERSE,
            at_ms=at_ms,
            description=description,
        ).save(force_insert=True)
        audit_record(
            action="credits.reversed",
            tenant_id=credit.tenant_id,
            target_type="credit",
            target_id=str(credit.pk),
            target_label=description,
            before={"remaining_credits": remaining},
            after={"remaining_credits": remaining - taken, "taken": taken},
        )
        return taken, remaining - taken

    taken, credit.remaining_credits = run_atomic(write)
    return taken
