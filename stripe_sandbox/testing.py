"""pytest helpers for any test folder: a sandbox started once per session and reset for each
test, the `stripe` library pointed at it, and a tiny webhook receiver.

In a conftest.py:

    from stripe_sandbox import testing

    stripe_sandbox_server = testing.stripe_sandbox_server
    stripe_sandbox = testing.stripe_sandbox

then request `stripe_sandbox` in a test: every `stripe.*` call in it reaches the sandbox.
Everything the sandbox serves in the test is checked against Stripe's schema for its API
version; a deviation that stripe_sandbox.schema.ALLOWED does not list fails the test.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe

from .sandbox import ServedDeviation, StripeSandbox

# dj-stripe only accepts keys shaped like Stripe's: a prefix and 24+ letters or digits.
TEST_API_KEY = "sk_test_" + "KeelSandboxTestKey000000"
# Short retry delays keep webhook retry tests fast.
TEST_RETRY_BACKOFF = (0.05, 0.1, 0.2)


@contextmanager
def stripe_pointed_at(sandbox: StripeSandbox, api_key: str = TEST_API_KEY) -> Iterator[None]:
    """Point the global `stripe` module at the sandbox for the duration of the block, in
    the API version the sandbox serves (the `stripe` library's own default is newer)."""
    saved = stripe.api_base, stripe.api_key, stripe.api_version
    stripe.api_base, stripe.api_key, stripe.api_version = sandbox.url, api_key, sandbox.api_version
    try:
        yield
    finally:
        stripe.api_base, stripe.api_key, stripe.api_version = saved


@pytest.fixture(scope="session")
def stripe_sandbox_server() -> Iterator[StripeSandbox]:
    with StripeSandbox(
        retry_backoff=TEST_RETRY_BACKOFF, delivery_timeout=5.0, log_requests=False, validate=True
    ) as sandbox:
        yield sandbox


@pytest.fixture
def stripe_sandbox(stripe_sandbox_server: StripeSandbox) -> Iterator[StripeSandbox]:
    """A sandbox with no objects, and `stripe.api_base` / `stripe.api_key` /
    `stripe.api_version` pointing at it. After the test, asserts that nothing it served
    deviated from Stripe's schema."""
    stripe_sandbox_server.reset()
    stripe_sandbox_server.deviations(clear=True)
    with stripe_pointed_at(stripe_sandbox_server):
        yield stripe_sandbox_server
    stripe_sandbox_server.reset()
    unlisted = [served for served in stripe_sandbox_server.deviations(clear=True) if not served.deviation.allowed]
    assert not unlisted, deviation_report(unlisted)


def deviation_report(found: list[ServedDeviation], limit: int = 25) -> str:
    """The deviations, each (kind, field, problem) once with where it was first seen."""
    first: dict[tuple, ServedDeviation] = {}
    counts: dict[tuple, int] = {}
    for served in found:
        key = (served.kind, served.deviation.field, served.deviation.problem)
        first.setdefault(key, served)
        counts[key] = counts.get(key, 0) + 1
    lines = [f"the sandbox served {len(found)} deviation(s) from Stripe's schema (stripe_sandbox/schema.json):"]
    for key, served in list(first.items())[:limit]:
        deviation = served.deviation
        times = f" (x{counts[key]})" if counts[key] > 1 else ""
        lines.append(f"  {deviation.path} in a {served.kind} from {served.source}: {deviation.problem}{times}")
    if len(first) > limit:
        lines.append(f"  ... and {len(first) - limit} more")
    lines.append("Fix the sandbox, or list the deviation with its reason in stripe_sandbox.schema.ALLOWED.")
    return "\n".join(lines)


@dataclass
class ReceivedWebhook:
    headers: dict[str, str]
    body: str


class WebhookReceiver:
    """An HTTP endpoint that records what it receives and answers with `statuses` in turn
    (then 200), e.g. `WebhookReceiver(statuses=[500])` fails the first delivery."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.received: list[ReceivedWebhook] = []
        self._condition = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                with receiver._condition:
                    receiver.received.append(ReceivedWebhook(dict(self.headers), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver._condition.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhook"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedWebhook]:
        deadline = time.monotonic() + timeout
        with self._condition:
            while len(self.received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"received {len(self.received)} webhooks, expected {count}")
                self._condition.wait(remaining)
            return list(self.received)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()
