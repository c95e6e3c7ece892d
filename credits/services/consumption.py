"""Consumption: spend credits of an organization for one of its members, all or nothing.

One transaction, a handful of statements whatever the history size:
wallet lock, member-limit conditional update, one indexed read of the usable
grants (`credits_consumption_idx`), one conditional update of the grants
touched, one bulk insert of ledger rows.
"""

import uuid
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When

from core.errors import Conflict, ValidationFailed
from core.time import now_ms
from credits.errors import IdempotencyConflict, InsufficientCredits, InvalidAmount, MemberCreditLimitExceeded
from credits.models import Credit, CreditTransaction, TransactionType
from credits.services._ledger import ledger_row, overdraft_set
from credits.services._tx import MAX_CREDITS, GrantChanged, lock_wallet, run_atomic, wallet_debt
from credits.services.idempotency import (
    MAX_KEY_LENGTH,
    idempotency_claim,
    idempotency_find,
    idempotency_record,
    request_fingerprint,
)
from credits.services.overdraft import draw, repayment_rows
from organizations.models import UNLIMITED, Tenant, TenantMemberCreditLimit

MAX_DESCRIPTION_LENGTH = 1000


@dataclass
class ConsumeResult:
    consumed: int
    balance: int
    overdraft: int
    transactions: list[CreditTransaction] = field(default_factory=list)
    replayed: bool = False

    def as_record(self) -> dict:
        return {
            "consumed": self.consumed,
            "balance": self.balance,
            "overdraft": self.overdraft,
            "transaction_ids": [str(tx.pk) for tx in self.transactions],
        }


class _KeyTaken(Exception):
    """The idempotency key belongs to a committed request: replay it (outside the rolled-back transaction)."""


def _validate(*, amount, description: str, idempotency_key: str | None) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_CREDITS:
        raise InvalidAmount(f"The amount must be a whole number of credits from 1 to {MAX_CREDITS}.", field="amount")
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise ValidationFailed(f"The description is at most {MAX_DESCRIPTION_LENGTH} characters.", field="description")
    if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_KEY_LENGTH:
        raise ValidationFailed(
            f"An idempotency key is 1 to {MAX_KEY_LENGTH} characters.", code="invalid_idempotency_key"
        )


def _charge_member(*, tenant_id, user_id, amount: int, at_ms: int) -> None:
    """Count `amount` against the member's limit in one conditional update, or refuse."""
    limits = TenantMemberCreditLimit.objects.filter(tenant_id=tenant_id, user_id=user_id)
    charged = limits.filter(Q(credit_limit=UNLIMITED) | Q(used_credits__lte=F("credit_limit") - amount)).update(
        used_credits=F("used_credits") + amount, updated_at=at_ms
    )
    if charged:
        return
    row = limits.values("credit_limit", "used_credits").first()
    if row is None:
        # Every membership should have its row; a missing one means unlimited,
        # and is created so that `used_credits` keeps counting.
        try:
            with transaction.atomic():
                TenantMemberCreditLimit.objects.create(
                    tenant_id=tenant_id, user_id=user_id, used_credits=amount, created_at=at_ms, updated_at=at_ms
                )
        except IntegrityError as exc:
            raise GrantChanged from exc  # created concurrently: start over
        return
    left = max(row["credit_limit"] - row["used_credits"], 0)
    raise MemberCreditLimitExceeded(
        f"This would exceed your credit limit in this organization: {amount} requested, {left} left "
        f"of {row['credit_limit']}."
    )


def _take(totals: dict) -> None:
    """Subtract from each grant in one statement; a grant holding less than planned restarts the transaction."""
    if not totals:
        return
    holds_enough = Q()
    for credit_id, n in totals.items():
        holds_enough |= Q(pk=credit_id, remaining_credits__gte=n)
    if len(totals) == 1:
        ((credit_id, n),) = totals.items()
        new_remaining = F("remaining_credits") - n
    else:
        new_remaining = F("remaining_credits") - Case(*(When(pk=c, then=Value(n)) for c, n in totals.items()))
    updated = Credit.objects.filter(holds_enough).update(remaining_credits=new_remaining)
    if updated != len(totals):
        raise GrantChanged


def _consume(*, tenant: Tenant, user, amount: int, description: str, at_ms: int) -> ConsumeResult:
    wallet = lock_wallet(tenant.pk)
    owed_before = wallet_debt(tenant.pk)
    _charge_member(tenant_id=tenant.pk, user_id=user.pk, amount=amount, at_ms=at_ms)

    grants = [
        [credit_id, remaining]
        for credit_id, remaining in Credit.objects.filter(tenant_id=tenant.pk)
        .usable(at_ms=at_ms)
        .in_consumption_order()
        .values_list("id", "remaining_credits")
    ]
    usable = sum(remaining for _, remaining in grants)
    # Credits that became usable while something is owed pay it back first.
    repaid = draw(grants, owed_before) if owed_before else []
    owed = owed_before - sum(n for _, n in repaid)
    drawn = draw(grants, amount)
    uncovered = amount - sum(n for _, n in drawn)
    if uncovered:
        room = wallet.overdraft_limit - owed if wallet.overdraft_enabled else 0
        if uncovered > room:
            available = max(usable - owed_before, 0)
            detail = f"Not enough credits: {amount} requested, {available} available"
            if wallet.overdraft_enabled:
                detail += f" (and {max(room, 0)} more on overdraft)"
            raise InsufficientCredits(detail + ".")

    totals: dict = {}
    for credit_id, n in [*repaid, *drawn]:
        totals[credit_id] = totals.get(credit_id, 0) + n
    _take(totals)

    rows = repayment_rows(tenant_id=tenant.pk, user_id=user.pk, draws=repaid, at_ms=at_ms)
    common = {"tenant_id": tenant.pk, "user_id": user.pk, "at_ms": at_ms, "description": description}
    rows += [ledger_row(credit_id=c, credits=-n, type=TransactionType.DEDUCT, **common) for c, n in drawn]
    if uncovered:
        rows.append(ledger_row(credits=-uncovered, type=TransactionType.DEDUCT_OVERDRAFT, **common))
    for row in rows:
        row.user = user  # the response renders who consumed without a query
    CreditTransaction.objects.bulk_create(rows)
    owed += uncovered
    overdraft_set(tenant=wallet, owed_before=owed_before, owed_after=owed, user_id=user.pk, at_ms=at_ms)
    return ConsumeResult(
        consumed=amount,
        balance=sum(remaining for _, remaining in grants) - owed,
        overdraft=owed,
        transactions=rows,
    )


def _replay(*, tenant: Tenant, key: str, fingerprint: str) -> ConsumeResult:
    record = idempotency_find(tenant_id=tenant.pk, key=key)
    if record is None or record.result is None:
        # Only possible if the key was purged in between: ask the client to retry.
        raise Conflict("This Idempotency-Key is being processed; retry shortly.", code="idempotency_in_progress")
    if record.fingerprint != fingerprint:
        raise IdempotencyConflict()
    ids = [uuid.UUID(i) for i in record.result["transaction_ids"]]
    by_id = CreditTransaction.objects.select_related("user").in_bulk(ids)
    return ConsumeResult(
        consumed=record.result["consumed"],
        balance=record.result["balance"],
        overdraft=record.result["overdraft"],
        transactions=[by_id[i] for i in ids if i in by_id],
        replayed=True,
    )


def credits_consume(
    *,
    tenant: Tenant,
    user,
    amount: int,
    description: str = "",
    idempotency_key: str | None = None,
    now: int | None = None,
) -> ConsumeResult:
    """Spend `amount` of `tenant`'s credits for member `user`: all of it, or nothing.

    Grants are taken in consumption order (DESIGN.md), one ledger row per grant
    touched; the uncovered rest goes on overdraft if the organization allows it,
    else `InsufficientCredits`. Over the member's limit: `MemberCreditLimitExceeded`.
    With `idempotency_key`, a repeat of the same request returns the first
    result (`replayed=True`) and writes nothing; another request under the same
    key raises `IdempotencyConflict`.
    """
    _validate(amount=amount, description=description, idempotency_key=idempotency_key)
    at_ms = now if now is not None else now_ms()
    fingerprint = (
        request_fingerprint(user_id=user.pk, amount=amount, description=description) if idempotency_key else ""
    )

    def write() -> ConsumeResult:
        claim_id = None
        if idempotency_key:
            claim_id = idempotency_claim(
                tenant_id=tenant.pk, user_id=user.pk, key=idempotency_key, fingerprint=fingerprint, at_ms=at_ms
            )
            if claim_id is None:
                raise _KeyTaken
        result = _consume(tenant=tenant, user=user, amount=amount, description=description, at_ms=at_ms)
        if claim_id is not None:
            idempotency_record(claim_id=claim_id, result=result.as_record())
        return result

    try:
        return run_atomic(write)
    except _KeyTaken:
        return _replay(tenant=tenant, key=idempotency_key, fingerprint=fingerprint)
