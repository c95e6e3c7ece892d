"""Background work: `enqueue(task, **kwargs)`, the one way Keel runs a task (docs/deploy.md,
"Queue (Celery)").

It always waits for the surrounding transaction to commit, so a rolled-back write never
leaves work behind and a worker never reads a row before it exists. Then, with
CELERY_BROKER_URL set, the task goes onto the queue for a worker (`celery -A config worker`);
without one it runs here, inline, as if it were a worker's (its errors reach the caller).

Tasks take ids and plain values, never model instances, and read what they need again when
they run: the kwargs are passed through the JSON a broker carries in both modes, so a model
instance or anything else a worker could not receive fails in every test, not in production.
A task may run twice (a worker lost after it ran, before it acknowledged): each must be safe
to repeat (`task_once`).
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

# How long a task remembers that it ran (a redelivery comes within the broker's visibility timeout).
DONE_TTL_SECONDS = 7 * 24 * 3600


def enqueue(task, /, **kwargs) -> None:
    """Run `task(**kwargs)` once the current transaction commits: on a worker with a broker, else inline."""
    payload = loads(dumps(kwargs))
    if settings.CELERY_BROKER_URL:
        # The change is committed: a broker that cannot take the task must not turn the user's
        # answer into an error. `robust` logs the failure (django.db.backends.base) instead.
        transaction.on_commit(lambda: task.apply_async(kwargs=payload), robust=True)
    else:
        transaction.on_commit(lambda: task(**payload))


def task_once(task_request, run: Callable[[], object]) -> bool:
    """Run `run()` unless this delivery of the task already did; False if it had.

    A queued task keeps its id across redeliveries and retries; the mark is written after
    `run()` returns, so a failure leaves none and the retry runs again. What happens
    between the side effect and the mark (the worker killed in that instant) can still repeat
    it once: Keel's emails are at least once, never silently lost. Inline runs (no id) are
    never redelivered and always run.
    """
    task_id = getattr(task_request, "id", None)
    if not task_id or getattr(task_request, "called_directly", True):
        run()
        return True
    key = f"keel:task-done:{task_id}"
    if cache.get(key):
        logger.info("task already ran, skipped: id=%s", task_id)
        return False
    run()
    cache.set(key, 1, DONE_TTL_SECONDS)
    return True
