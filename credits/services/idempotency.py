"""Idempotency keys for consumption: the unique (tenant, key) decides, not a check-then-insert.

A consumption with a key first claims it with `INSERT ... ON CONFLICT DO
NOTHING` inside its transaction. A concurrent duplicate blocks on that insert
until the first commits (then finds the key taken and replays its result) or
rolls back (then claims the key itself): one key spends at most once. A
refused consumption (not enough credits, over the limit) rolls back its claim
too, so a retry after topping up is a fresh attempt.
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


def idempotency_claim(*, tenant_id, user_id, key: str, fingerprint: str, at_ms: int) -> uuid.UUID | None:
    """Claim `key` for this transaction; None when another request holds it (committed)."""
    meta = IdempotencyKey._meta
    values = {
        "id": uuid.uuid4(),
        "tenant_id": tenant_id,
        "user_id": user_id,
        "key": key,
        "fingerprint": fingerprint,
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
        claimed = cursor.fetchone() is not None
    return values["id"] if claimed else None


def idempotency_record(*, claim_id: uuid.UUID, result: dict) -> None:
    IdempotencyKey.objects.filter(pk=claim_id).update(result=result)


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
