"""Idempotency keys for consumption: the unique (tenant, key) decides, not a check-then-insert.

A consumption with a key writes it, with its result, as the last statement of
its transaction (`INSERT ... ON CONFLICT DO NOTHING`), under the wallet lock.
Two requests with one key are serialized by that lock (and by the unique
index): the second runs after the first commits, finds the key taken at the
insert, rolls back everything it did and replays the first result (or, if
its own attempt was refused, finds the key before answering and replays it);
if the first rolled back, the second proceeds. One key spends at most once. A
refused consumption (not enough credits, over the limit) writes no key, so a
retry after topping up is a fresh attempt.
"""

import hashlib
import json
import uuid

from core.time import MS_PER_DAY
from credits.models import IdempotencyKey
from credits.services._tx import db_uuid

# Keys are kept at least this long (the API promises 24 hours).
KEEP_MS = MS_PER_DAY
MAX_KEY_LENGTH = 255


def request_fingerprint(*, user_id, amount: int, description: str) -> str:
    body = json.dumps([str(user_id), amount, description], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


# The key with its result, or nothing if the (tenant, key) is taken.
_STORE_SQL = (
    "INSERT INTO credit_idempotency_keys (id, tenant_id, user_id, key, fingerprint, result, created_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (tenant_id, key) DO NOTHING RETURNING id"
)


def idempotency_store_statement(
    *, tenant_id, user_id, key: str, fingerprint: str, result: dict, at_ms: int, ops
) -> tuple[str, list]:
    """The statement that records `key` with its result, last in the consumption's transaction.

    `INSERT ... ON CONFLICT (tenant_id, key) DO NOTHING RETURNING id`: no row
    back means a committed request owns the key, and the caller rolls back and
    replays it. Duplicates of one organization's key are already serialized
    by its wallet lock, and the unique index would make a second insert wait
    for the first transaction anyway. `ops` is the connection's operations
    (JSON is adapted as the model's JSONField writes it).
    """
    params = [
        db_uuid(uuid.uuid4()),
        db_uuid(tenant_id),
        db_uuid(user_id),
        key,
        fingerprint,
        ops.adapt_json_value(result, None),
        at_ms,
    ]
    return _STORE_SQL, params


def idempotency_find(*, tenant_id, key: str) -> IdempotencyKey | None:
    return IdempotencyKey.objects.filter(tenant_id=tenant_id, key=key).first()


def idempotency_keys_purge(*, older_than_ms: int, batch_size: int = 5000) -> int:
    """Delete keys created before `older_than_ms`, in batches (cron, via expire_credits)."""
    deleted = 0
    while True:
        ids = list(
            IdempotencyKey.objects.filter(created_at__lt=older_than_ms).values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        deleted += IdempotencyKey.objects.filter(pk__in=ids).delete()[0]
