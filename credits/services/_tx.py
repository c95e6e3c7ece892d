"""Transactions, retries and the wallet lock shared by every credits write.

Lock order, the same for every writer so that no two can deadlock:

1. the organization's `tenants` row (`FOR NO KEY UPDATE`), the wallet lock;
   several organizations (expiry) in ascending id order;
2. the member's `tenant_member_credit_limits` row (a conditional update);
3. `credits` rows (conditional updates, in consumption order);
4. the `credit_overdrafts` row and new ledger rows.

Every grant, consumption, repayment, expiry and reversal of one organization
takes (1) first, so they are serialized per organization; different
organizations never wait for each other. `FOR NO KEY UPDATE` does not block
the `FOR KEY SHARE` locks that inserting rows referencing the tenant takes.
"""

import functools
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, OperationalError, connection, connections, transaction

from credits.selectors import credits_overdraft_owed
from organizations.models import Tenant

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_ATTEMPTS = 6
# SQLSTATEs PostgreSQL asks the client to retry: serialization failure, deadlock.
RETRYABLE_SQLSTATES = {"40001", "40P01"}
# The ledger's `credits` column is INTEGER: no single row may exceed it.
MAX_CREDITS = 2_147_483_647


class GrantChanged(Exception):
    """A grant did not hold what was read a moment ago: rerun the transaction."""


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, GrantChanged):
        return True
    cause = exc.__cause__
    return isinstance(exc, OperationalError) and getattr(cause, "sqlstate", None) in RETRYABLE_SQLSTATES


def run_atomic(fn: Callable[[], T], *, single_statement: bool = False) -> T:
    """Run `fn` in a transaction, retrying deadlocks and serialization failures.

    Inside a caller's transaction there is nothing to retry (the caller's work
    would be lost), so `fn` runs in a savepoint and errors propagate. With
    `single_statement` (`fn` runs one statement), outside a transaction that
    statement is its own transaction: no BEGIN and COMMIT round trips.
    """
    if connection.in_atomic_block:
        with transaction.atomic():
            return fn()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            if single_statement:
                return fn()
            with transaction.atomic():
                return fn()
        except (OperationalError, GrantChanged) as exc:
            if attempt == MAX_ATTEMPTS or not _retryable(exc):
                raise
            logger.info("credits transaction retried: attempt=%s reason=%s", attempt, type(exc).__name__)
            time.sleep(random.uniform(0, 0.005 * attempt))
    raise AssertionError("unreachable")


def lock_wallet(tenant_id) -> Tenant:
    """Lock one organization's wallet; returns the tenant with its overdraft settings.

    The settings are read under the lock, not from the request's copy of the
    tenant: a change made a moment ago counts.
    """
    return (
        Tenant.objects.select_for_update(no_key=True)
        .only("id", "owner_id", "overdraft_enabled", "overdraft_limit")
        .get(pk=tenant_id)
    )


@functools.cache
def _native_uuids() -> bool:
    # The default database's engine is fixed for the life of the process.
    return connection.features.has_native_uuid_field


def db_uuid(value):
    """A UUID as a raw-SQL parameter: native on PostgreSQL, 32 hex characters on SQLite (as the ORM stores it)."""
    return value if _native_uuids() else value.hex


@functools.cache
def _prepared_cursor_class():
    """On PostgreSQL with DB_PREPARED_STATEMENTS: a server-side binding psycopg cursor, whose
    statements psycopg prepares once a connection has run them `prepare_threshold` times
    (settings.py), and the wrapper that logs its statements when queries are logged (DEBUG, tests)."""
    if connection.vendor != "postgresql" or not settings.DB_PREPARED_STATEMENTS:
        return None
    from django.db.backends.postgresql.base import CursorDebugWrapper, ServerBindingCursor

    class PreparedDebugWrapper(CursorDebugWrapper):
        def execute(self, sql, params=None):
            # Logs the statement as written, with its params: Django would ask the
            # cursor for the last query it sent, which psycopg does not keep for
            # prepared statements.
            with self.debug_sql(sql, params):
                return self._execute_with_wrappers(sql, params, many=False, executor=self._execute)

    return ServerBindingCursor, PreparedDebugWrapper


@contextmanager
def hot_cursor() -> Iterator:
    """A cursor for the hot paths (consumption, API-key authentication), used for all their statements.

    On PostgreSQL its statements are prepared: parsed and planned once per
    connection and statement text, then only bound and run. Planning was
    about 40% of the database's CPU per consumption. psycopg prepares a
    statement once the connection has run it a few times (`prepare_threshold`),
    so persistent connections (CONN_MAX_AGE) gain, and a connection that lives
    for one request never pays the extra round trip of preparing.
    Elsewhere (SQLite, or DB_PREPARED_STATEMENTS=False for a pooler that
    cannot keep prepared statements) it is the ordinary cursor. Either way
    it is Django's cursor wrapper, so query logging and execute wrappers see
    every statement.
    """
    classes = _prepared_cursor_class()
    if classes is None:
        with connection.cursor() as cursor:
            yield cursor
        return
    db = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: `connection` looks it up on every access
    db.close_if_health_check_failed()
    db.ensure_connection()
    with db.wrap_database_errors:
        db.validate_thread_sharing()
        cursor_class, debug_wrapper = classes
        raw = cursor_class(db.connection)
        cursor = debug_wrapper(raw, db) if db.queries_logged else db.make_cursor(raw)
    with cursor:
        yield cursor


def py_uuid(value) -> uuid.UUID:
    """A UUID column read by raw SQL (SQLite returns the hex string)."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


@functools.cache
def _lock_settings_sql() -> str:
    features = connection.features
    lock = ""
    if features.has_select_for_update:
        lock = " FOR NO KEY UPDATE" if features.has_select_for_no_key_update else " FOR UPDATE"
    return f"SELECT overdraft_enabled, overdraft_limit FROM tenants WHERE id = %s{lock}"


def lock_wallet_settings(cursor, tenant_id) -> tuple[bool, int]:
    """`lock_wallet` in raw SQL for the consume hot path: (overdraft_enabled, overdraft_limit), read under the lock.

    `FOR NO KEY UPDATE` where the database has it (PostgreSQL), as the ORM's
    `select_for_update(no_key=True)` does; SQLite serializes writers itself.
    """
    cursor.execute(_lock_settings_sql(), [db_uuid(tenant_id)])
    row = cursor.fetchone()
    if row is None:
        raise Tenant.DoesNotExist
    return bool(row[0]), row[1]


def wallet_debt(tenant_id) -> int:
    """What the organization owes; call it after `lock_wallet`, as its own statement.

    Not joined to the locking query on purpose: under READ COMMITTED, a row
    joined to a `FOR UPDATE` row keeps the version of the statement's snapshot,
    taken before waiting for the lock, and would miss what the previous holder
    of the lock just committed (a concurrency test caught exactly that).
    """
    return credits_overdraft_owed(tenant_id=tenant_id)


def lock_wallets(tenant_ids: Iterable) -> None:
    """Lock several organizations' wallets in the one global order (ascending id)."""
    ids = sorted(set(tenant_ids))
    if ids:
        list(Tenant.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk").values_list("pk"))
