"""StripeSandbox: the server, its state and its webhook deliveries, started and stopped
from Python (tests) or from the command line (`python -m stripe_sandbox`)."""

import copy
import json
import logging
import re
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass

from . import (
    api_billing,
    api_catalog,
    api_checkout,
    api_clock,
    api_discounts,
    api_events,
    api_payments,
    control,
    pages,
    schedules,
    schema,
)
from .api_events import register_webhook_endpoint
from .server import App, Request, Response, SandboxHTTPServer
from .store import Store
from .version import API_VERSION, unsupported
from .webhooks import DEFAULT_RETRY_BACKOFF, Deliverer

logger = logging.getLogger("stripe_sandbox")
DEFAULT_ACCOUNT_ID = "acct_1KeelSandbox0001"
DJSTRIPE_WEBHOOK_PATH = re.compile(r"/webhook/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/?$")


class StripeSandbox:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        public_url: str | None = None,
        api_version: str = API_VERSION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        retry_backoff=DEFAULT_RETRY_BACKOFF,
        delivery_timeout: float = 10.0,
        log_requests: bool = True,
        validate: bool = False,
    ):
        """`validate`: check every JSON body served on /v1 and every event created or
        delivered against Stripe's schema for the API version (stripe_sandbox/schema.py);
        deviations() lists what differs."""
        if api_version != API_VERSION:
            raise ValueError(unsupported(api_version))
        self.host, self.port, self.public_url = host, port, public_url
        self.store = Store(account_id=account_id, api_version=api_version)
        self.deliverer = Deliverer(
            retry_backoff=retry_backoff, timeout=delivery_timeout, on_delivered=self.store.webhook_delivered
        )
        self.store.on_delivery = self._enqueue_delivery
        self.validate = validate
        self._deviations: list[ServedDeviation] = []
        self._deviations_logged: set[tuple[str, str]] = set()
        self._deviations_lock = threading.Lock()
        app_options = {"deliverer": self.deliverer, "on_reset": self.reset, "log_requests": log_requests}
        if validate:
            self.store.on_event = lambda event: self._check(f"event {event['type']} {event['id']}", event)
            self.app = _CheckingApp(self.store, check=self._check, **app_options)
        else:
            self.app = App(self.store, **app_options)
        for module in (
            api_catalog,
            api_checkout,
            api_discounts,
            api_billing,
            api_payments,
            api_events,
            api_clock,
            schedules,
        ):
            self.app.add_routes("api", module.ROUTES)
        self.app.add_routes("control", control.ROUTES)
        self.app.add_routes("page", pages.ROUTES)
        self._fixed_endpoints: list[tuple[dict, str]] = []
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def api_version(self) -> str:
        """The one API version served: `stripe.api_version = sandbox.api_version`."""
        return self.store.api_version

    @property
    def url(self) -> str:
        """The base URL: `stripe.api_base = sandbox.url`."""
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        return self.app.base_url

    def start(self) -> "StripeSandbox":
        self._server = SandboxHTTPServer((self.host, self.port), self.app)
        bound_port = self._server.server_address[1]
        self.app.base_url = (self.public_url or f"http://{self.host}:{bound_port}").rstrip("/")
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="stripe-sandbox", daemon=True
        )
        self._thread.start()
        self.deliverer.start()
        return self

    def stop(self) -> None:
        self.deliverer.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "StripeSandbox":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget every object, event and pending delivery; endpoints added with
        add_webhook_endpoint() survive, with their ids and secrets."""
        with self.store.lock:
            self.store.reset()
            self.deliverer.reset()
            for endpoint, secret in self._fixed_endpoints:
                self.store.add(copy.deepcopy(endpoint))
                self.store.webhook_secrets[endpoint["id"]] = secret

    def add_webhook_endpoint(self, url: str, *, secret: str | None = None, enabled_events=("*",)) -> tuple[dict, str]:
        """Register an endpoint that survives reset() (what `--webhook` does); returns it and its secret.

        A dj-stripe URL (`.../webhook/<uuid>/`) puts the uuid in the endpoint's metadata, where
        dj-stripe's WebhookEndpoint.sync_from_stripe_data() looks for it."""
        djstripe_url = DJSTRIPE_WEBHOOK_PATH.search(url)
        with self.store.lock:
            endpoint, secret = register_webhook_endpoint(
                self.store,
                url=url,
                enabled_events=list(enabled_events),
                secret=secret,
                api_version=None,
                description="Registered when the sandbox started",
                metadata={"djstripe_uuid": djstripe_url.group(1)} if djstripe_url else {},
            )
            self._fixed_endpoints.append((copy.deepcopy(endpoint), secret))
        return endpoint, secret

    def wait_for_deliveries(self, timeout: float = 10.0) -> None:
        """Block until every webhook delivery succeeded or exhausted its retries."""
        if not self.deliverer.wait(timeout):
            pending = [d for d in self.deliverer.deliveries() if d["state"] == "pending"]
            raise TimeoutError(f"{len(pending)} webhook deliveries still pending after {timeout}s: {pending[:3]}")

    def deliveries(self) -> list[dict]:
        """Every delivery so far with its attempts (as GET /_sandbox/deliveries)."""
        return self.deliverer.deliveries()

    def deviations(self, *, clear: bool = False) -> list["ServedDeviation"]:
        """With `validate`: every deviation from Stripe's schema in what was served since the
        last clear, allowed ones (schema.ALLOWED) included. reset() does not clear them."""
        with self._deviations_lock:
            found = list(self._deviations)
            if clear:
                self._deviations.clear()
        return found

    def _check(self, source: str, body) -> None:
        found = [ServedDeviation(source, _kind(body), deviation) for deviation in schema.deviations(body)]
        if not found:
            return
        with self._deviations_lock:
            self._deviations.extend(found)
            news = [
                served
                for served in found
                if not served.deviation.allowed
                and (served.deviation.field, served.deviation.problem) not in self._deviations_logged
            ]
            self._deviations_logged.update((served.deviation.field, served.deviation.problem) for served in news)
        for served in news:
            logger.warning("schema deviation (logged once): %s", served)

    # The /_sandbox controls, for Python callers.

    def complete_checkout(
        self, session_id: str, *, card: str = "succeeds", email: str | None = None, promotion_code: str | None = None
    ) -> dict:
        """Pay the session; `promotion_code` is a code the customer types (the session must
        allow promotion codes)."""
        return self._control(
            "POST", f"/checkout/sessions/{session_id}/complete", card=card, email=email, promotion_code=promotion_code
        )

    def cancel_checkout(self, session_id: str) -> dict:
        return self._control("POST", f"/checkout/sessions/{session_id}/cancel")

    def advance_subscription(self, subscription_id: str) -> dict:
        return self._control("POST", f"/subscriptions/{subscription_id}/advance")

    def set_card_declines(self, customer_id: str, declines: bool = True) -> dict:
        return self._control("POST", f"/customers/{customer_id}/card", declines=declines)

    def billing_settings(self, **settings) -> dict:
        """Change the Billing settings the clock follows (`POST /_sandbox/settings`); a list
        for `retry_days` is sent as `3,5,7`."""
        if isinstance(settings.get("retry_days"), list | tuple):
            settings["retry_days"] = ",".join(str(day) for day in settings["retry_days"])
        return self._control("POST", "/settings", **settings)

    def _control(self, method: str, path: str, **params) -> dict:
        body = json.dumps({key: value for key, value in params.items() if value is not None}).encode()
        request = urllib.request.Request(
            f"{self.url}/_sandbox{path}", data=body, method=method, headers={"Content-Type": "application/json"}
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as failure:
            raise SandboxControlError(failure.code, json.loads(failure.read())) from None

    def _enqueue_delivery(self, event: dict, endpoint: dict, payload: str) -> None:
        if self.validate:
            self._check(f"webhook {event['type']} {event['id']} to {endpoint['id']}", json.loads(payload))
        self.deliverer.enqueue(event, endpoint, payload, self.store.webhook_secrets[endpoint["id"]])


@dataclass(frozen=True)
class ServedDeviation:
    """A deviation from Stripe's schema in something the sandbox served."""

    source: str  # "GET /v1/refunds/re_...", "event charge.refunded evt_...", "webhook ..."
    kind: str  # the `object` of the body: "refund", "list", "event"
    deviation: schema.Deviation

    def __str__(self) -> str:
        return f"{self.source} ({self.kind}): {self.deviation}"


def _kind(body) -> str:
    return str(body.get("object", "error" if "error" in body else "?")) if isinstance(body, dict) else "?"


class _CheckingApp(App):
    """An App that checks every JSON body it answers on /v1."""

    def __init__(self, store: Store, *, check, **options):
        super().__init__(store, **options)
        self.check = check

    def handle(self, request: Request) -> Response:
        response = super().handle(request)
        if request.path.startswith("/v1/") and response.content_type == "application/json":
            self.check(f"{request.method} {request.path}", json.loads(response.body))
        return response


class SandboxControlError(Exception):
    def __init__(self, status: int, body: dict):
        super().__init__(f"{status}: {body.get('error', body)}")
        self.status = status
        self.body = body
