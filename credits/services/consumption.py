"""Consumption: spend credits of an organization for one of its members, all or nothing.

One transaction, six statements whatever the history size: wallet lock,
member-limit conditional update (which also reads the debt), one indexed read
of the usable grants (`credits_consumption_idx`), one conditional update of
the grants touched, one multi-row insert of ledger rows, the idempotency key
with its result. The hot statements are raw, portable SQL (PostgreSQL and
SQLite alike): the ORM's query building was most of a consumption's cost.
"""

import uuid
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction

from core.errors import Conflict, ValidationFailed
from core.time import now_ms
from credits.errors import IdempotencyConflict, InsufficientCredits, InvalidAmount, MemberCreditLimitExceeded
from credits.models import CreditTransaction, TransactionType
from credits.services._ledger import ledger_insert, ledger_row, overdraft_set
from credits.services._tx import (
    MAX_CREDITS,
    GrantChanged,
    db_uuid,
    lock_wallet_settings,
    py_uuid,
    run_atomic,
    wallet_debt,
)
from credits.services.idempotency import MAX_KEY_LENGTH, idempotency_find, idempotency_store, request_fingerprint
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


def _charge_member(*, tenant_id, user_id, amount: int, at_ms: int) -> int:
    """Count `amount` against the member's limit in one conditional update, or refuse; returns what is owed.

    The same statement reads the organization's debt (`RETURNING` a subquery):
    it starts after `lock_wallet_settings` returned, so its snapshot already
    holds whatever the previous holder of the wallet lock committed (unlike a
    read joined to the locking statement itself; see `wallet_debt`).
    """
    tenant_param, user_param = db_uuid(tenant_id), db_uuid(user_id)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tenant_member_credit_limits SET used_credits = used_credits + %s, updated_at = %s"
            " WHERE tenant_id = %s AND user_id = %s AND (credit_limit = %s OR used_credits <= credit_limit - %s)"
            " RETURNING (SELECT credits FROM credit_overdrafts WHERE tenant_id = %s)",
            [amount, at_ms, tenant_param, user_param, UNLIMITED, amount, tenant_param],
        )
        charged = cursor.fetchall()
    if charged:
        return charged[0][0] or 0
    limits = TenantMemberCreditLimit.objects.filter(tenant_id=tenant_id, user_id=user_id)
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
        return wallet_debt(tenant_id)
    left = max(row["credit_limit"] - row["used_credits"], 0)
    raise MemberCreditLimitExceeded(
        f"This would exceed your credit limit in this organization: {amount} requested, {left} left "
        f"of {row['credit_limit']}."
    )


def _usable_grants(*, tenant_id, at_ms: int) -> list[list]:
    """[id, remaining] of the usable grants in consumption order (`credits_consumption_idx`).

    Raw SQL for the hot path; the same filter and order as
    `Credit.objects.usable(at_ms=...).in_consumption_order()` (DESIGN.md's
    order: priority DESC, soonest expiry first and never-expiring last,
    effective_at, created_at, id). A test compares the two.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, remaining_credits FROM credits"
            " WHERE tenant_id = %s AND remaining_credits > 0 AND effective_at <= %s"
            " AND (expires_at IS NULL OR expires_at > %s)"
            " ORDER BY priority DESC, expires_at ASC NULLS LAST, effective_at ASC, created_at ASC, id ASC",
            [db_uuid(tenant_id), at_ms, at_ms],
        )
        return [[py_uuid(credit_id), remaining] for credit_id, remaining in cursor.fetchall()]


def _take(totals: dict) -> None:
    """Subtract from each grant in one statement; a grant holding less than planned restarts the transaction."""
    if not totals:
        return
    # UPDATE credits SET remaining_credits = remaining_credits - CASE id WHEN g1 THEN n1 ... END
    # WHERE (id = g1 AND remaining_credits >= n1) OR ...
    cases, conditions, case_params, condition_params = [], [], [], []
    for credit_id, n in totals.items():
        cases.append("WHEN %s THEN %s")
        case_params += [db_uuid(credit_id), n]
        conditions.append("(id = %s AND remaining_credits >= %s)")
        condition_params += [db_uuid(credit_id), n]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE credits SET remaining_credits = remaining_credits - CASE id {' '.join(cases)} END"
            f" WHERE {' OR '.join(conditions)}",
            case_params + condition_params,
        )
        updated = cursor.rowcount
    if updated != len(totals):
        raise GrantChanged


def _consume(*, tenant: Tenant, user, amount: int, description: str, at_ms: int) -> ConsumeResult:
    # Lock order (_tx.py): wallet, member limit, grants, overdraft and ledger.
    overdraft_enabled, overdraft_limit = lock_wallet_settings(tenant.pk)
    owed_before = _charge_member(tenant_id=tenant.pk, user_id=user.pk, amount=amount, at_ms=at_ms)

    grants = _usable_grants(tenant_id=tenant.pk, at_ms=at_ms)
    usable = sum(remaining for _, remaining in grants)
    # Credits that became usable while something is owed pay it back first.
    repaid = draw(grants, owed_before) if owed_before else []
    owed = owed_before - sum(n for _, n in repaid)
    drawn = draw(grants, amount)
    uncovered = amount - sum(n for _, n in drawn)
    if uncovered:
        room = overdraft_limit - owed if overdraft_enabled else 0
        if uncovered > room:
            available = max(usable - owed_before, 0)
            detail = f"Not enough credits: {amount} requested, {available} available"
            if overdraft_enabled:
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
    ledger_insert(rows)
    owed += uncovered
    overdraft_set(tenant=tenant, owed_before=owed_before, owed_after=owed, user_id=user.pk, at_ms=at_ms)
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
        result = _consume(tenant=tenant, user=user, amount=amount, description=description, at_ms=at_ms)
        # The key is written last, with the result, still under the wallet lock: taken means
        # a committed request owns it, and this attempt rolls back everything it did.
        if idempotency_key and not idempotency_store(
            tenant_id=tenant.pk,
            user_id=user.pk,
            key=idempotency_key,
            fingerprint=fingerprint,
            result=result.as_record(),
            at_ms=at_ms,
        ):
            raise _KeyTaken
        return result

    try:
        return run_atomic(write)
    except _KeyTaken:
        return _replay(tenant=tenant, key=idempotency_key, fingerprint=fingerprint)
    except (InsufficientCredits, MemberCreditLimitExceeded):
        # A repeat of a request that went through must replay it even when the same
        # consumption would be refused now (its own credits are spent): the key decides.
        if idempotency_key and idempotency_find(tenant_id=tenant.pk, key=idempotency_key) is not None:
            return _replay(tenant=tenant, key=idempotency_key, fingerprint=fingerprint)
        raise
