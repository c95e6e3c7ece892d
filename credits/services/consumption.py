"""Consumption: spend credits of an organization for one of its members, all or nothing.

The engine is one PostgreSQL function, `keel_credits_consume_v2`
(`credits/sql/engine_v2.sql`, installed by a migration): the wallet lock, the
member's limit, the usable grants in consumption order, the overdraft, the
ledger rows and the idempotency key, in one statement (one round trip, every
plan cached; docs/credits.md, "The engine"). This module validates the input,
passes the constants the function shares with Python, maps its refusals to
domain errors and its rows to ledger objects, and replays idempotent repeats.

`tests/credits/reference.py` states the same rules in plain Python; the
Hypothesis state machine and the differential tests hold the function to it:
balances, ledger rows, refusal codes and refusal details.
"""

import json
import uuid
from dataclasses import dataclass, field

from django.db import DatabaseError

from core.db import INT_MAX, hot_cursor, run_atomic
from core.errors import Conflict, ValidationFailed
from core.time import now_ms
from credits.errors import (
    IdempotencyConflict,
    InsufficientCredits,
    InvalidAmount,
    MemberCreditLimitExceeded,
    NotAMember,
)
from credits.models import MAX_CREDITS, CreditTransaction, TransactionType
from credits.services._ledger import mark_saved
from credits.services.idempotency import MAX_KEY_LENGTH, idempotency_find, request_fingerprint
from credits.services.overdraft import REPAID_DESCRIPTION, SETTLED_DESCRIPTION
from organizations.models import UNLIMITED, Tenant

MAX_DESCRIPTION_LENGTH = 1000
# The engine's version: its functions end in `_v2` (see credits/sql/engine_v2.sql).
CONSUME_FUNCTION = "keel_credits_consume_v2"


@dataclass
class ConsumeResult:
    consumed: int
    balance: int
    overdraft: int
    transactions: list[CreditTransaction] = field(default_factory=list)
    replayed: bool = False


class _KeyTaken(Exception):
    """The idempotency key belongs to a committed request: replay it (outside the rolled-back statement)."""


def _validate(*, amount, description: str, idempotency_key: str | None) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_CREDITS:
        raise InvalidAmount(f"The amount must be a whole number of credits from 1 to {MAX_CREDITS}.", field="amount")
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise ValidationFailed(f"The description is at most {MAX_DESCRIPTION_LENGTH} characters.", field="description")
    if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_KEY_LENGTH:
        raise ValidationFailed(
            f"An idempotency key is 1 to {MAX_KEY_LENGTH} characters.", code="invalid_idempotency_key"
        )


# Named arguments: the constants travel with every call, from their one definition here,
# so the function's text holds none of them (and a prepared statement binds them once per call).
_CONSUME_SQL = (
    "SELECT tx_id, tx_type, tx_credits, tx_credit, tx_description, balance, overdraft"
    f" FROM {CONSUME_FUNCTION}(p_tenant => %s, p_user => %s, p_amount => %s, p_description => %s,"
    " p_at => %s, p_key => %s, p_fingerprint => %s, p_unlimited => %s, p_int_max => %s,"
    " p_type_deduct => %s, p_type_overdraft => %s, p_type_repay => %s, p_type_settled => %s,"
    " p_repaid_description => %s, p_settled_description => %s)"
)
_CONSTANTS = [
    UNLIMITED,
    INT_MAX,
    TransactionType.DEDUCT.value,
    TransactionType.DEDUCT_OVERDRAFT.value,
    TransactionType.DEDUCT_REPAY.value,
    TransactionType.ADD_REPAY.value,
    REPAID_DESCRIPTION,
    SETTLED_DESCRIPTION,
]


def insufficient_credits(*, amount: int, available: int, room: int, overdraft_enabled: bool) -> InsufficientCredits:
    detail = f"Not enough credits: {amount} requested, {available} available"
    if overdraft_enabled:
        detail += f" (and {room} more on overdraft)"
    return InsufficientCredits(detail + ".")


def over_limit(*, amount: int, credit_limit: int, used_credits: int) -> MemberCreditLimitExceeded:
    left = max(credit_limit - used_credits, 0)
    return MemberCreditLimitExceeded(
        f"This would exceed your credit limit in this organization: {amount} requested, {left} left of {credit_limit}."
    )


def _refusal(exc: DatabaseError, *, amount: int) -> Exception | None:
    """The Python exception for a refusal the function raised (`keel:...`), or None."""
    diag = getattr(exc.__cause__, "diag", None)
    if diag is None or diag.sqlstate != "P0001" or not (diag.message_primary or "").startswith("keel:"):
        return None
    message = diag.message_primary
    detail = json.loads(diag.message_detail) if diag.message_detail else {}
    if message == "keel:insufficient_credits":
        return insufficient_credits(amount=amount, **detail)
    if message == "keel:member_credit_limit_exceeded":
        return over_limit(amount=amount, **detail)
    if message == "keel:idempotency_key_taken":
        return _KeyTaken()
    if message == "keel:not_a_member":
        return NotAMember()
    if message == "keel:no_such_tenant":
        return Tenant.DoesNotExist()
    return None


def _consume(cursor, *, tenant: Tenant, user, amount: int, description: str, at_ms: int, key, fingerprint: str):
    params = [tenant.pk, user.pk, amount, description, at_ms, key, fingerprint, *_CONSTANTS]
    try:
        cursor.execute(_CONSUME_SQL, params)
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

    Grants are taken in consumption order (docs/credits.md), one ledger row per
    grant touched; the uncovered rest goes on overdraft if the organization
    allows it, else `InsufficientCredits`. Over the member's limit:
    `MemberCreditLimitExceeded`; not (or no longer) a member: `NotAMember`.
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
        with hot_cursor() as cursor:
            return _consume(
                cursor,
                tenant=tenant,
                user=user,
                amount=amount,
                description=description,
                at_ms=at_ms,
                key=idempotency_key,
                fingerprint=fingerprint,
            )

    try:
        # One statement: outside a transaction it is its own.
        return run_atomic(write, single_statement=True)
    except _KeyTaken:
        return _replay(tenant=tenant, key=idempotency_key, fingerprint=fingerprint)
    except (InsufficientCredits, MemberCreditLimitExceeded):
        # A repeat of a request that went through must replay it even when the same
        # consumption would be refused now (its own credits are spent): the key decides.
        if idempotency_key and idempotency_find(tenant_id=tenant.pk, key=idempotency_key) is not None:
            return _replay(tenant=tenant, key=idempotency_key, fingerprint=fingerprint)
        raise
