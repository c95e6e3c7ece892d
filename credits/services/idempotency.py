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

from django.db import connection

from core.time import MS_PER_DAY
from credits.models import IdempotencyKey

# Keys are kept at least this long (the API promises 24 hours).
KEEP_MS = MS_PER_DAY
MAX_KEY_LENGTH = 255


def request_fingerprint(*, user_id, amount: int, description: str) -> str:
    body = json.dumps([str(user_id), amount, description], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def idempotency_store(*, tenant_id, user_id, key: str, fingerprint: str, result: dict, at_ms: int) -> bool:
    """Record `key` with its result at the end of the consumption's transaction; False if it is taken.

    `INSERT ... ON CONFLICT (tenant_id, key) DO NOTHING`: when it returns no
    row, a committed request owns the key and the caller rolls back and
    replays it. Duplicates of one organization's key are already serialized
    by its wallet lock, and the unique index would make a second insert wait
    for the first transaction anyway.
    """
    meta = IdempotencyKey._meta
    values = {
        "id": uuid.uuid4(),
        "tenant_id": tenant_id,
        "user_id": user_id,
        "key": key,
        "fingerprint": fingerprint,
        "result": result,
        "created_at": at_ms,
    }
    columns, params = [], []
    for name, value in values.items():
        field = meta.get_field(name.removesuffix("_id") if name.endswith("_id") else name)
        columns.append(connection.ops.quote_name(field.column))
        params.append(field.get_db_prep_save(value, connection))
    qn = connection.ops.quote_name
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(params))}) "
        f"ON CONFLICT ({qn('tenant_id')}, {qn('key')}) DO NOTHING RETURNING {qn('id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None


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
