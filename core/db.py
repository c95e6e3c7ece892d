"""Database plumbing shared by the services: retried transactions, the hot-path cursor, column bounds."""

import functools
import hashlib
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, OperationalError, connection, connections, transaction

logger = logging.getLogger(__name__)

T = TypeVar("T")

# The largest value of an INTEGER column (the ledger's `credits`, member limits and usage).
INT_MAX = 2_147_483_647

MAX_ATTEMPTS = 6
# SQLSTATEs PostgreSQL asks the client to retry: serialization failure, deadlock.
RETRYABLE_SQLSTATES = {"40001", "40P01"}


class RetryTransaction(Exception):
    """What a transaction read changed before it could write: run it again from the start."""


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, RetryTransaction):
        return True
    cause = exc.__cause__
    return isinstance(exc, OperationalError) and getattr(cause, "sqlstate", None) in RETRYABLE_SQLSTATES


def run_atomic(fn: Callable[[], T], *, single_statement: bool = False) -> T:
    """Run `fn` in a transaction, retrying deadlocks, serialization failures and `RetryTransaction`.

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
        except (OperationalError, RetryTransaction) as exc:
            if attempt == MAX_ATTEMPTS or not _retryable(exc):
                raise
            logger.info("transaction retried: attempt=%s reason=%s", attempt, type(exc).__name__)
            time.sleep(random.uniform(0, 0.005 * attempt))
    raise AssertionError("unreachable")


@functools.cache
def _prepared_cursor_classes():
    """With DB_PREPARED_STATEMENTS: a server-side binding psycopg cursor, whose statements
    psycopg prepares once a connection has run them `prepare_threshold` times (settings.py),
    and the wrapper that logs its statements when queries are logged (DEBUG, tests)."""
    if not settings.DB_PREPARED_STATEMENTS:
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

    Its statements are prepared: parsed and planned once per connection and
    statement text, then only bound and run (planning was about 40% of the
    database's CPU per consumption; docs/performance.md). psycopg prepares a
    statement once the connection has run it a few times (`prepare_threshold`),
    so persistent connections (CONN_MAX_AGE) gain, and a connection that lives
    for one request never pays the extra round trip of preparing. With
    DB_PREPARED_STATEMENTS=False (a pooler that cannot keep prepared
    statements) it is the ordinary cursor. Either way it is Django's cursor
    wrapper, so query logging and execute wrappers see every statement.
    """
    classes = _prepared_cursor_classes()
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


def pinned_sql(path: Path, *, sha256: str) -> str:
    """The text of a versioned SQL file, for the migration that installs it; refused if it changed.

    The migration pins the file's SHA-256 when it is written. A released
    version is never edited: an edit would change what a fresh database gets
    without changing what running databases have. A change is a new version
    (a new file, new function names, a new migration).
    """
    text = Path(path).read_text()
    digest = hashlib.sha256(text.encode()).hexdigest()
    if digest != sha256:
        raise ImproperlyConfigured(
            f"{Path(path).name} changed after its migration pinned it (sha256 {sha256[:12]}…, now {digest[:12]}…). "
            "Never edit a released version: copy it to the next version, rename its functions, "
            'and install that with a new migration (docs/credits.md, "The engine").'
        )
    return text
