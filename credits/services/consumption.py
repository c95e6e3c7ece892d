"""Consumption: spend credits of an organization for one of its members, all or nothing.

Two engines, one behaviour:

* the Python engine (`_consume`), the reference, which SQLite runs: one
  transaction of six statements whatever the history size (wallet lock,
  member-limit conditional update that also reads the debt, one indexed read
  of the usable grants, one conditional update of the grants touched, one
  multi-row insert of ledger rows, the idempotency key with its result), in
  raw portable SQL;
* on PostgreSQL, the same steps in one statement: the database function
  `keel_credits_consume_v1` (credits/sql/consume.sql), one round trip with
  every plan cached, for throughput (docs/performance.md).

Tests run both engines on PostgreSQL against the same histories and compare
their ledgers, results and refusals.
"""

import json
import uuid
from dataclasses import dataclass, field

from django.db import DatabaseError, IntegrityError, connection, transaction

from core.errors import Conflict, ValidationFailed
from core.time import now_ms
from credits.errors import IdempotencyConflict, InsufficientCredits, InvalidAmount, MemberCreditLimitExceeded
from credits.models import CreditTransaction, TransactionType
from credits.services._ledger import ledger_insert_statement, ledger_row, mark_saved, overdraft_set
from credits.services._tx import (
    MAX_CREDITS,
    GrantChanged,
    db_uuid,
    hot_cursor,
    lock_wallet_settings,
    py_uuid,
    run_atomic,
    wallet_debt,
)
from credits.services.idempotency import (
    MAX_KEY_LENGTH,
    idempotency_find,
    idempotency_store_statement,
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


# The member-limit charge: one conditional update that also reads the organization's debt
# (`RETURNING` a subquery). It runs after `lock_wallet_settings` returned, so its snapshot
# holds whatever the previous holder of the wallet lock committed (unlike a read joined to
# the locking statement itself; see `wallet_debt`).
# `used_credits` is an INTEGER (the spec's): an unlimited member's count stops at its
# maximum instead of failing every later consumption (a limited one never gets there).
_CHARGE_SQL = (
    "UPDATE tenant_member_credit_limits"
    f" SET used_credits = CASE WHEN used_credits > {MAX_CREDITS} - %s THEN {MAX_CREDITS} ELSE used_credits + %s END,"
    " updated_at = %s"
    " WHERE tenant_id = %s AND user_id = %s AND (credit_limit = %s OR used_credits <= credit_limit - %s)"
    " RETURNING (SELECT credits FROM credit_overdrafts WHERE tenant_id = %s) AS owed"
)
# Usable grants in consumption order (`credits_consumption_idx`): the same filter and order
# as `Credit.objects.usable(at_ms=...).in_consumption_order()` (DESIGN.md: priority DESC,
# soonest expiry first and never-expiring last, effective_at, created_at, id); a test
# compares the two.
_USABLE = "tenant_id = %s AND remaining_credits > 0 AND effective_at <= %s AND (expires_at IS NULL OR expires_at > %s)"
_CONSUMPTION_ORDER = "priority DESC, expires_at ASC NULLS LAST, effective_at ASC, created_at ASC, id ASC"
_GRANTS_SQL = f"SELECT id, remaining_credits FROM credits WHERE {_USABLE} ORDER BY {_CONSUMPTION_ORDER}"
# PostgreSQL: the whole consumption in one statement (credits/sql/consume.sql).
_CONSUME_IN_DATABASE_SQL = (
    "SELECT tx_id, tx_type, tx_credits, tx_credit, tx_description, balance, overdraft"
    " FROM keel_credits_consume_v1(%s, %s, %s, %s, %s, %s, %s)"
)


def _in_database() -> bool:
    """Whether the database runs the consumption itself (PostgreSQL); tests switch it to compare engines."""
    return connection.vendor == "postgresql"


def _charge_params(*, tenant_id, user_id, amount: int, at_ms: int) -> list:
    tenant_param = db_uuid(tenant_id)
    return [amount, amount, at_ms, tenant_param, db_uuid(user_id), UNLIMITED, amount, tenant_param]


def _charge_and_read_grants(cursor, *, tenant_id, user_id, amount: int, at_ms: int) -> tuple[int, list[list]]:
    """Count `amount` against the member's limit, or refuse; returns (what is owed, the usable grants).

    The grants are [id, remaining] in consumption order.
    """
    cursor.execute(_CHARGE_SQL, _charge_params(tenant_id=tenant_id, user_id=user_id, amount=amount, at_ms=at_ms))
    charged = cursor.fetchall()
    if charged:
        owed = charged[0][0] or 0
    else:
        owed = _charge_refused(tenant_id=tenant_id, user_id=user_id, amount=amount, at_ms=at_ms)
    cursor.execute(_GRANTS_SQL, [db_uuid(tenant_id), at_ms, at_ms])
    return owed, [[py_uuid(credit_id), left] for credit_id, left in cursor.fetchall()]


def _charge_refused(*, tenant_id, user_id, amount: int, at_ms: int) -> int:
    """The conditional update matched no row: a membership without its limit row, or over the limit."""
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
    raise _over_limit(amount=amount, credit_limit=row["credit_limit"], used_credits=row["used_credits"])


def _over_limit(*, amount: int, credit_limit: int, used_credits: int) -> MemberCreditLimitExceeded:
    left = max(credit_limit - used_credits, 0)
    return MemberCreditLimitExceeded(
        f"This would exceed your credit limit in this organization: {amount} requested, {left} left of {credit_limit}."
    )


def _insufficient(*, amount: int, available: int, room: int, overdraft_enabled: bool) -> InsufficientCredits:
    detail = f"Not enough credits: {amount} requested, {available} available"
    if overdraft_enabled:
        detail += f" (and {max(room, 0)} more on overdraft)"
    return InsufficientCredits(detail + ".")


def _take_statement(totals: dict) -> tuple[str, list]:
    """Subtract from each grant in one conditional update; it must match every grant.

    UPDATE credits SET remaining_credits = remaining_credits - CASE id WHEN g1 THEN n1 ... END
    WHERE (id = g1 AND remaining_credits >= n1) OR ...
    """
    cases, conditions, case_params, condition_params = [], [], [], []
    for credit_id, n in totals.items():
        cases.append("WHEN %s THEN %s")
        case_params += [db_uuid(credit_id), n]
        conditions.append("(id = %s AND remaining_credits >= %s)")
        condition_params += [db_uuid(credit_id), n]
    sql = (
        f"UPDATE credits SET remaining_credits = remaining_credits - CASE id {' '.join(cases)} END"
        f" WHERE {' OR '.join(conditions)}"
    )
    return sql, case_params + condition_params


def _write(cursor, *, totals: dict, rows: list[CreditTransaction], key: tuple[str, list] | None) -> None:
    """The grants update, the ledger rows and the idempotency key (if any), in that order.

    A grant holding less than planned restarts the transaction (`GrantChanged`);
    a key already taken means a committed request owns it (`_KeyTaken`): either
    way the transaction rolls back everything it wrote.
    """
    if totals:
        cursor.execute(*_take_statement(totals))
        if cursor.rowcount != len(totals):
            raise GrantChanged
    cursor.execute(*ledger_insert_statement(rows))
    mark_saved(rows, cursor.db.alias)
    if key is not None:
        cursor.execute(*key)
        if not cursor.fetchall():
            raise _KeyTaken


def _consume(
    cursor, *, tenant: Tenant, user, amount: int, description: str, at_ms: int, key: tuple[str, str] | None
) -> ConsumeResult:
    # Lock order (_tx.py): wallet, member limit, grants, overdraft and ledger.
    overdraft_enabled, overdraft_limit = lock_wallet_settings(cursor, tenant.pk)
    owed_before, grants = _charge_and_read_grants(
        cursor, tenant_id=tenant.pk, user_id=user.pk, amount=amount, at_ms=at_ms
    )
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
            raise _insufficient(amount=amount, available=available, room=room, overdraft_enabled=overdraft_enabled)

    totals: dict = {}
    for credit_id, n in [*repaid, *drawn]:
        totals[credit_id] = totals.get(credit_id, 0) + n

    rows = repayment_rows(tenant_id=tenant.pk, user_id=user.pk, draws=repaid, at_ms=at_ms)
    common = {"tenant_id": tenant.pk, "user_id": user.pk, "at_ms": at_ms, "description": description}
    rows += [ledger_row(credit_id=c, credits=-n, type=TransactionType.DEDUCT, **common) for c, n in drawn]
    if uncovered:
        rows.append(ledger_row(credits=-uncovered, type=TransactionType.DEDUCT_OVERDRAFT, **common))
    for row in rows:
        row.user = user  # the response renders who consumed without a query
    owed += uncovered
    result = ConsumeResult(
        consumed=amount,
        balance=sum(remaining for _, remaining in grants) - owed,
        overdraft=owed,
        transactions=rows,
    )
    # The idempotency key is written last, with the result, still under the wallet lock:
    # taken means a committed request owns it, and this attempt rolls back all it did.
    store = None
    if key is not None:
        idempotency_key, fingerprint = key
        store = idempotency_store_statement(
            tenant_id=tenant.pk,
            user_id=user.pk,
            key=idempotency_key,
            fingerprint=fingerprint,
            result=result.as_record(),
            at_ms=at_ms,
            ops=cursor.db.ops,
        )
    _write(cursor, totals=totals, rows=rows, key=store)
    overdraft_set(tenant=tenant, owed_before=owed_before, owed_after=owed, user_id=user.pk, at_ms=at_ms)
    return result


def _consume_in_database(
    cursor, *, tenant: Tenant, user, amount: int, description: str, at_ms: int, key: tuple[str, str] | None
) -> ConsumeResult:
    """`_consume`, run by PostgreSQL in one statement (credits/sql/consume.sql)."""
    idempotency_key, fingerprint = key if key is not None else (None, "")
    params = [db_uuid(tenant.pk), db_uuid(user.pk), amount, description, at_ms, idempotency_key, fingerprint]
    try:
        cursor.execute(_CONSUME_IN_DATABASE_SQL, params)
    except IntegrityError as exc:
        if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) == "tenant_member_credit_limits_uniq":
            raise GrantChanged from exc  # the member's limit row was created concurrently: start over
        raise
    except DatabaseError as exc:
        refusal = _refusal(exc, amount=amount)
        if refusal is None:
            raise
        raise refusal from exc
    rows = cursor.fetchall()  # one per ledger row written, each with the balance and overdraft after
    _, _, _, _, _, balance, overdraft = rows[0]
    transactions = []
    for tx_id, tx_type, credits, credit_id, tx_description, _balance, _overdraft in rows:
        tx = CreditTransaction(
            id=tx_id,
            created_at=at_ms,
            tenant_id=tenant.pk,
            user_id=user.pk,
            credit_id=credit_id,
            credits=credits,
            type=tx_type,
            description=tx_description,
        )
        tx.user = user  # the response renders who consumed without a query
        transactions.append(tx)
    mark_saved(transactions, cursor.db.alias)
    return ConsumeResult(consumed=amount, balance=balance, overdraft=overdraft, transactions=transactions)


def _refusal(exc: DatabaseError, *, amount: int) -> Exception | None:
    """The Python exception for a refusal the database function raised (`keel:...`), or None."""
    diag = getattr(exc.__cause__, "diag", None)
    if diag is None or diag.sqlstate != "P0001" or not (diag.message_primary or "").startswith("keel:"):
        return None
    message = diag.message_primary
    detail = json.loads(diag.message_detail) if diag.message_detail else {}
    if message == "keel:insufficient_credits":
        return _insufficient(amount=amount, **detail)
    if message == "keel:member_credit_limit_exceeded":
        return _over_limit(amount=amount, **detail)
    if message == "keel:idempotency_key_taken":
        return _KeyTaken()
    if message == "keel:no_such_tenant":
        return Tenant.DoesNotExist()
    return None


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

    key = (idempotency_key, fingerprint) if idempotency_key else None

    in_database = _in_database()
    engine = _consume_in_database if in_database else _consume

    def write() -> ConsumeResult:
        with hot_cursor() as cursor:
            return engine(
                cursor, tenant=tenant, user=user, amount=amount, description=description, at_ms=at_ms, key=key
            )

    try:
        # The database function is one statement: outside a transaction it is its own.
        return run_atomic(write, single_statement=in_database)
    except _KeyTaken:
        return _replay(tenant=tenant, key=idempotency_key, fingerprint=fingerprint)
    except (InsufficientCredits, MemberCreditLimitExceeded):
        # A repeat of a request that went through must replay it even when the same
        # consumption would be refused now (its own credits are spent): the key decides.
        if idempotency_key and idempotency_find(tenant_id=tenant.pk, key=idempotency_key) is not None:
            return _replay(tenant=tenant, key=idempotency_key, fingerprint=fingerprint)
        raise
