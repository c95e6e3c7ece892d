"""Keel's Celery app: background work on a queue when CELERY_BROKER_URL is set (docs/deploy.md,
"Queue (Celery)"). Workers run `celery -A config worker`; the tasks are each app's `tasks.py`,
queued through `core.tasks.enqueue`, which runs them inline after commit when no broker is set."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("keel")
# Every CELERY_* setting of config/settings.py, e.g. CELERY_BROKER_URL -> broker_url.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
