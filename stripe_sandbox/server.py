"""HTTP plumbing: routing, API keys, idempotency keys, JSON and error responses.

Three kinds of routes: the Stripe API (`/v1/...`, needs a test key), the sandbox's own
controls (`/_sandbox/...`, for tests and scripts) and the pages a customer's browser
sees (hosted checkout, billing portal, invoices, receipts).
"""

import base64
import copy
import hashlib
import json
import logging
import re
import secrets
import socket
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from . import errors
from .expand import expand
from .formdata import Params, parse_form
from .store import NO_REQUEST, Store
from .version import unsupported

logger = logging.getLogger("stripe_sandbox")

ACCEPTED_KEY_PREFIXES = ("sk_test_", "rk_test_")
# Stripe keeps idempotency keys for 24 hours; the sandbox keeps the most recent ones.
IDEMPOTENCY_CAPACITY = 10_000

# Stripe takes any path segment where a route has an id (`GET /v1/customers/whatever` is
# "No such customer: 'whatever'"), except the words its own routes put at that place:
# `GET /v1/customers/search` is the customer search, not the customer "search". These are
# those words in this API version (every `/v1/<resource>/<word>` route of the `stripe` npm
# package 22.2.0 beside a `/v1/<resource>/{id}` one). A sandbox route's `{id}` never
# matches them, so a Stripe route the sandbox does not implement answers 404 "Unrecognized
# request URL", while an unknown id still answers 404 resource_missing.
STRIPE_ROUTE_WORDS = {
    "/v1/charges": ("search",),
    "/v1/credit_notes": ("preview",),
    "/v1/customers": ("search",),
    "/v1/invoices": ("create_preview", "search"),
    "/v1/payment_intents": ("search",),
    "/v1/payment_records": ("report_payment",),
    "/v1/prices": ("search",),
    "/v1/products": ("search",),
    "/v1/subscriptions": ("search",),
    "/v1/tax/transactions": ("create_from_calculation", "create_reversal"),
    "/v1/test_helpers/issuing/transactions": ("create_force_capture", "create_unlinked_refund"),
}


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data, status: int = 200) -> "Response":
        return cls(status, json.dumps(data, indent=2).encode())

    @classmethod
    def html(cls, text: str, status: int = 200) -> "Response":
        return cls(status, text.encode(), "text/html; charset=utf-8")

    @classmethod
    def redirect(cls, location: str) -> "Response":
        return cls(303, b"", "text/plain", {"Location": location})


@dataclass
class Context:
    """What a route handler works with. `request` is the `request` field of the events it emits."""

    store: Store
    params: Params
    base_url: str
    request: dict
    app: "App"
    # The session being paid while Checkout creates its subscription (discounts.complete_checkout).
    checkout_session: dict | None = None


@dataclass
class Route:
    method: str
    pattern: re.Pattern
    handler: Callable
    kind: str  # "api", "control" or "page"


class App:
    def __init__(self, store: Store, *, deliverer, on_reset: Callable[[], None], log_requests: bool = True):
        self.store = store
        self.deliverer = deliverer
        self.on_reset = on_reset
        self.log_requests = log_requests
        self.base_url = ""
        self.routes: list[Route] = []

    def add_routes(self, kind: str, routes: list[tuple[str, str, Callable]]) -> None:
        """`routes` are (method, path, handler); `{name}` in a path is passed to the handler as `name`."""
        for method, path, handler in routes:
            self.routes.append(Route(method, re.compile(_route_pattern(path) + "/?"), handler, kind))

    def handle(self, request: Request) -> Response:
        request_id = "req_" + secrets.token_hex(7)
        try:
            response = self._dispatch(request, request_id)
        except errors.StripeError as error:
            response = Response.json(error.response_body(), error.status)
        except Exception:
            logger.error("sandbox error on %s %s\n%s", request.method, request.path, traceback.format_exc())
            response = Response.json(
                {"error": {"type": "api_error", "message": "The Stripe sandbox failed; see its log."}}, 500
            )
        response.headers.setdefault("Request-Id", request_id)
        # Whatever was asked, the answer is in the one version the sandbox serves.
        response.headers["Stripe-Version"] = self.store.api_version
        return response

    def _dispatch(self, request: Request, request_id: str) -> Response:
        route, path_args = self._match(request)
        if route.kind != "api":
            return self._call(route, request, path_args, NO_REQUEST)

        api_key = self._authenticate(request)
        requested_version = request.header("Stripe-Version")
        if requested_version and requested_version != self.store.api_version:
            raise errors.StripeError(400, unsupported(requested_version))
        idempotency_key = request.header("Idempotency-Key") if request.method == "POST" else None
        event_request = {"id": request_id, "idempotency_key": idempotency_key}
        if not idempotency_key:
            return self._call(route, request, path_args, event_request)

        fingerprint = hashlib.sha256(
            f"{request.method} {request.path} {sorted(parse_qsl(request.body.decode()))}".encode()
        ).hexdigest()
        with self.store.lock:
            saved = self.store.idempotent_responses.get((api_key, idempotency_key))
            if saved is not None:
                if saved["fingerprint"] != fingerprint:
                    raise errors.StripeError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters they were first "
                        f"used with. Try using a key other than '{idempotency_key}' if you meant to execute a "
                        "different request.",
                        type="idempotency_error",
                    )
                replay = copy.deepcopy(saved["response"])
                replay.headers["Idempotent-Replayed"] = "true"
                return replay
            try:
                response = self._call(route, request, path_args, event_request)
            except errors.StripeError as error:
                response = Response.json(error.response_body(), error.status)
            response.headers["Idempotency-Key"] = idempotency_key
            # Stripe saves the result once the endpoint has started executing: successes and
            # card errors are replayed, rejected parameters are not.
            if response.status < 400 or response.status == 402:
                self._remember(api_key, idempotency_key, fingerprint, response)
            return response

    def _remember(self, api_key: str, idempotency_key: str, fingerprint: str, response: Response) -> None:
        saved = self.store.idempotent_responses
        saved[(api_key, idempotency_key)] = {"fingerprint": fingerprint, "response": copy.deepcopy(response)}
        while len(saved) > IDEMPOTENCY_CAPACITY:
            saved.popitem(last=False)

    def _match(self, request: Request) -> tuple[Route, dict]:
        for route in self.routes:
            if route.method == request.method and (match := route.pattern.fullmatch(request.path)):
                # Ids travel form-encoded, as the stripe libraries quote them (a coupon id of your
                # choice may hold any character).
                return route, {name: unquote_plus(value) for name, value in match.groupdict().items()}
        raise errors.StripeError(
            404,
            f"Unrecognized request URL ({request.method}: {request.path}). "
            "Please see https://stripe.com/docs or we can help at https://support.stripe.com/.",
        )

    def _authenticate(self, request: Request) -> str:
        authorization = request.header("Authorization") or ""
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "basic":
            credentials = base64.b64decode(credentials.encode()).decode(errors="replace").partition(":")[0]
        elif scheme.lower() != "bearer":
            credentials = ""
        if not credentials:
            raise errors.StripeError(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization header, "
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            )
        if not credentials.startswith(ACCEPTED_KEY_PREFIXES):
            raise errors.StripeError(
                401, f"Invalid API Key provided: {credentials[:8]}{'*' * 12}{credentials[-4:]}", code="api_key_invalid"
            )
        account = request.header("Stripe-Account")
        if account and account != self.store.account_id:
            raise errors.StripeError(
                403,
                f"The provided key does not have access to account '{account}' (or that account does not exist). "
                "Application access may have been revoked.",
                type="invalid_request_error",
                code="account_invalid",
            )
        return credentials

    def _call(self, route: Route, request: Request, path_args: dict, event_request: dict) -> Response:
        if request.method == "POST":
            if (request.header("Content-Type") or "").startswith("application/json") and request.body:
                try:
                    params = json.loads(request.body)
                except ValueError:
                    raise errors.invalid("The request body is not valid JSON.") from None
            else:
                params = parse_form(request.body.decode())
        else:
            params = parse_form(request.query)
        ctx = Context(self.store, Params(params), self.base_url, event_request, self)
        with self.store.lock:
            result = route.handler(ctx, **path_args)
            if isinstance(result, Response):
                return result
            result = copy.deepcopy(result)
            expand(result, ctx.params.array("expand"), self.store)
        return Response.json(result)


def _route_pattern(path: str) -> str:
    """The regular expression of `path`: `{name}` matches one segment, but not one of
    STRIPE_ROUTE_WORDS at that place."""
    parts = []
    for segment in path.split("/"):
        name = re.fullmatch(r"\{(\w+)\}", segment)
        if name is None:
            parts.append(re.escape(segment))
            continue
        words = STRIPE_ROUTE_WORDS.get("/".join(part for part in path.split("/")[: len(parts)]), ())
        not_a_word = f"(?!(?:{'|'.join(map(re.escape, words))})(?:/|$))" if words else ""
        parts.append(f"(?P<{name.group(1)}>{not_a_word}[^/]+)")
    return "/".join(parts)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "SandboxHTTPServer"

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every keep-alive request.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_DELETE(self):
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        response = self.server.app.handle(Request(method, url.path, url.query, headers, body))
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format, *args):
        if self.server.app.log_requests:
            logger.info("%s %s", self.address_string(), format % args)


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: App):
        super().__init__(address, _Handler)
        self.app = app
