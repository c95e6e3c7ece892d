"""Background work on a real queue (core/tasks.py, docs/deploy.md "Queue (Celery)"): a
`celery -A config worker` process, started here, consumes from the machine's Redis
(127.0.0.1:6379, database 14, flushed before and after: nothing else of Redis is touched),
reads the test database and sends through Django's file email backend into tmp_path.

A separate process rather than celery.contrib.testing's in-thread worker: it shares
nothing with the test but Redis and PostgreSQL, as a production worker does, so it shows
the task crosses the broker as JSON and that what it reads was committed first."""

import email
import email.policy
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.urls import reverse

from accounts.tasks import email_deliver
from config.celery import app
from core.tasks import enqueue
from tests import factories

REDIS_URL = "redis://127.0.0.1:6379/14"
WAIT_SECONDS = 60


def _database_url() -> str:
    params = connection.get_connection_params()
    auth = params.get("user") or "postgres"
    if params.get("password"):
        auth += f":{params['password']}"
    query = f"host={params.get('host', '')}" + (f"&port={params['port']}" if params.get("port") else "")
    return f"postgres://{auth}@/{connection.settings_dict['NAME']}?{query}"


def _wait_for(predicate, what: str, log: Path):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {WAIT_SECONDS} s; worker log:\n{log.read_text() if log.exists() else ''}")


class Worker:
    def __init__(self, folder: Path, email_url: str):
        self.log = folder / "worker.log"
        self.mail = folder / "mail"
        self.mail.mkdir(parents=True)
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": REDIS_URL,
            "EMAIL_URL": email_url.format(mail=self.mail),
            "SITE_URL": settings.SITE_URL,
        }
        # One process consuming one task at a time (the solo pool) is enough to show the queue.
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=INFO"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat", f"--logfile={self.log}"]
        self.process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env)
        _wait_for(lambda: self.log.exists() and "ready." in self.log.read_text(), "ready worker", self.log)

    def messages(self) -> list[email.message.EmailMessage]:
        return [
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default) for path in self.mail.glob("*.log")
        ]

    def wait_for_log(self, pattern: str, count: int = 1) -> None:
        _wait_for(lambda: len(re.findall(pattern, self.log.read_text())) >= count, f"{pattern!r} x{count}", self.log)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture
def broker(settings):
    """This process queues onto Redis database 14 (the Celery app's setting too: it read them once)."""
    queue = redis.Redis.from_url(REDIS_URL)
    queue.flushdb()
    saved = app.conf.broker_url
    settings.CELERY_BROKER_URL = app.conf.broker_url = REDIS_URL
    _new_producer_pool()
    yield queue
    app.conf.broker_url = saved
    _new_producer_pool()
    queue.flushdb()


def _new_producer_pool():
    """The app's connections to the broker made again from its settings (as after a fork)."""
    app._pool = None
    app.__dict__.get("amqp") and setattr(app.amqp, "_producer_pool", None)


@pytest.fixture
def start_worker(tmp_path, broker):
    workers = []

    # django-environ drops the path's first slash: filemail:/// + an absolute path.
    def start(email_url: str = "filemail:///{mail}") -> Worker:
        workers.append(Worker(tmp_path / f"worker{len(workers)}", email_url))
        return workers[-1]

    yield start
    for worker in workers:
        worker.stop()


@pytest.mark.django_db(transaction=True)
def test_a_password_reset_email_is_sent_by_the_worker_after_commit(client, start_worker):
    factories.UserFactory(username="ada", email="ada@example.com")
    worker = start_worker()

    response = client.post(reverse("accounts:password_reset"), {"email": "ada@example.com"})

    assert response.status_code == 302
    (message,) = _wait_for(worker.messages, "email from the worker", worker.log)
    assert message["To"] == "ada@example.com"
    link = re.search(r"http://[^\s\"<>]+", message.get_body(("plain",)).get_content()).group(0)
    # The link the worker built works: the token it carries is valid for the committed account.
    assert client.get(re.sub(r"^https?://[^/]+", "", link)).status_code == 200
    worker.wait_for_log(r"email_deliver\[[^\]]+\] succeeded")


@pytest.mark.django_db(transaction=True)
def test_a_task_delivered_twice_sends_its_email_once(start_worker):
    user = factories.UserFactory(username="ada", email="ada@example.com")
    worker = start_worker()
    kwargs = {"to": "ada@example.com", "template": "password_changed", "context": {"username": "ada"}}
    kwargs |= {"email_type": None, "user_id": user.pk}

    # What Redis does when a worker was lost before it acknowledged: the same task (same id) again.
    email_deliver.apply_async(kwargs=kwargs, task_id="keel-test-twice")
    email_deliver.apply_async(kwargs=kwargs, task_id="keel-test-twice")

    worker.wait_for_log(r"email_deliver\[keel-test-twice\] succeeded", count=2)
    assert len(worker.messages()) == 1
    assert "task already ran, skipped: id=keel-test-twice" in worker.log.read_text()


@pytest.mark.django_db(transaction=True)
def test_a_mail_server_that_cannot_be_reached_is_tried_again_later(start_worker):
    user = factories.UserFactory(username="ada", email="ada@example.com")
    # Nothing listens on port 9 of the loopback: the connection is refused (an OSError).
    worker = start_worker("smtp://127.0.0.1:9")
    kwargs = {"to": "ada@example.com", "template": "password_changed", "context": {"username": "ada"}}

    email_deliver.apply_async(kwargs=kwargs | {"email_type": None, "user_id": user.pk}, task_id="keel-test-retry")

    worker.wait_for_log(r"email_deliver\[keel-test-retry\] retry: Retry in \d+s: ConnectionRefusedError")


def test_without_a_broker_the_task_runs_inline_after_commit_and_takes_only_plain_values(
    db, mailoutbox, django_capture_on_commit_callbacks
):
    user = factories.UserFactory(username="ada", email="ada@example.com")
    kwargs = {"to": "ada@example.com", "template": "password_changed", "context": {"username": "ada"}}

    with django_capture_on_commit_callbacks(execute=True):
        enqueue(email_deliver, **kwargs, email_type=None, user_id=user.pk)
        assert mailoutbox == []  # not before the commit
    assert [message.to for message in mailoutbox] == [["ada@example.com"]]

    with pytest.raises(TypeError):  # a model instance would never reach a worker
        enqueue(email_deliver, **kwargs, email_type=None, user_id=user)
