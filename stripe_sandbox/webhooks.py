"""Webhook delivery: events POSTed to registered endpoints, signed the way Stripe signs
them, from a background thread, oldest first, retried with backoff when the endpoint
fails or answers with anything but 2xx."""

import hashlib
import hmac
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

# Stripe retries a failing test-mode endpoint a few times over hours; the sandbox uses
# the same idea with short, configurable delays (seconds before retry 1, 2, ...).
DEFAULT_RETRY_BACKOFF = (1.0, 5.0, 30.0, 120.0)


def sign(payload: str, secret: str, timestamp: int) -> str:
    """The Stripe-Signature header for `payload` (what stripe.Webhook.construct_event checks)."""
    signed = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signed}"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # Stripe does not follow redirects: a 3xx answer is a failed delivery.
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


@dataclass(eq=False)
class Delivery:
    sequence: int
    event_id: str
    event_type: str
    endpoint_id: str
    url: str
    secret: str
    payload: str
    next_attempt_at: float = 0.0
    state: str = "pending"  # then "succeeded" or "failed" (retries exhausted)
    attempts: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "event": self.event_id,
            "type": self.event_type,
            "webhook_endpoint": self.endpoint_id,
            "url": self.url,
            "state": self.state,
            "attempts": list(self.attempts),
        }


class Deliverer:
    def __init__(self, *, retry_backoff=DEFAULT_RETRY_BACKOFF, timeout: float = 10.0, on_delivered=None):
        self.retry_backoff = tuple(retry_backoff)
        self.timeout = timeout
        self.on_delivered = on_delivered
        self._condition = threading.Condition()
        self._deliveries: list[Delivery] = []
        self._sequence = 0
        self._in_flight: Delivery | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="stripe-sandbox-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1)

    def enqueue(self, event: dict, endpoint: dict, payload: str, secret: str) -> None:
        with self._condition:
            self._sequence += 1
            self._deliveries.append(
                Delivery(self._sequence, event["id"], event["type"], endpoint["id"], endpoint["url"], secret, payload)
            )
            self._condition.notify_all()

    def reset(self) -> None:
        with self._condition:
            self._deliveries = []
            self._condition.notify_all()

    def deliveries(self) -> list[dict]:
        with self._condition:
            return [delivery.as_dict() for delivery in self._deliveries]

    def wait(self, timeout: float) -> bool:
        """Block until every delivery succeeded or ran out of retries; False on timeout."""
        with self._condition:
            return self._condition.wait_for(self._drained, timeout)

    def _drained(self) -> bool:
        return self._in_flight is None and all(d.state != "pending" for d in self._deliveries)

    def _run(self) -> None:
        while True:
            with self._condition:
                delivery = self._next_due()
                while delivery is None and not self._stopping:
                    self._condition.wait(self._seconds_to_next())
                    delivery = self._next_due()
                if self._stopping:
                    return
                self._in_flight = delivery
            attempt = self._attempt(delivery)
            with self._condition:
                self._record(delivery, attempt)
                self._in_flight = None
                self._condition.notify_all()
            if attempt["succeeded"] and self.on_delivered:
                self.on_delivered(delivery.event_id)

    def _next_due(self) -> Delivery | None:
        now = time.monotonic()
        due = [d for d in self._deliveries if d.state == "pending" and d.next_attempt_at <= now]
        return min(due, key=lambda d: d.sequence) if due else None

    def _seconds_to_next(self) -> float | None:
        waiting = [d.next_attempt_at for d in self._deliveries if d.state == "pending"]
        return max(0.0, min(waiting) - time.monotonic()) if waiting else None

    def _attempt(self, delivery: Delivery) -> dict:
        timestamp = int(time.time())
        request = urllib.request.Request(
            delivery.url,
            data=delivery.payload.encode(),
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                "Stripe-Signature": sign(delivery.payload, delivery.secret, timestamp),
            },
        )
        status, error = None, None
        try:
            with _opener.open(request, timeout=self.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as failure:
            status = failure.code
        except Exception as failure:  # whatever breaks one delivery must not stop the worker
            error = f"{type(failure).__name__}: {failure}"
        return {
            "attempted_at": timestamp,
            "status": status,
            "error": error,
            "succeeded": status is not None and 200 <= status < 300,
        }

    def _record(self, delivery: Delivery, attempt: dict) -> None:
        if delivery not in self._deliveries:
            return  # reset while the request was in flight
        delivery.attempts.append(attempt)
        if attempt["succeeded"]:
            delivery.state = "succeeded"
        elif len(delivery.attempts) > len(self.retry_backoff):
            delivery.state = "failed"
        else:
            delivery.next_attempt_at = time.monotonic() + self.retry_backoff[len(delivery.attempts) - 1]
