"""Idempotency keys for consumption: the unique (tenant, key) decides, not a check-then-insert.

A consumption with a key writes it, with its result, as its last write
(`INSERT ... ON CONFLICT DO NOTHING` in keel_credits_consume_v2), under the wallet lock.
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

from core.time import MS_PER_DAY
from credits.models import IdempotencyKey

# Keys are kept at least this long (the API promises 24 hours).
KEEP_MS = MS_PER_DAY
MAX_KEY_LENGTH = 255


def request_fingerprint(*, user_id, amount: int, description: str) -> str:
    body = json.dumps([str(user_id), amount, description], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


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
