"""What the current request is, for code that has no request in hand: its id and client address.

`core.middleware.RequestIdMiddleware` (first in MIDDLEWARE) sets both for the length of a
request (until `request_finished`); `request_id()` and `current_client_ip()` read them (None outside a request: a
management command, a test calling a service). Log lines carry the id through
`core.logs.RequestIdFilter`; the audit log can record both.

`client_ip(request)` is the one place that decides a request's client address: the sign-in
throttle (django-axes, `AXES_CLIENT_IP_CALLABLE`), the rate limits and whatever records an
address go through it (docs/accounts.md, "Brute force"; docs/deploy.md, "Security settings").
"""

import ipaddress
import re
import uuid
from contextvars import ContextVar

from django.conf import settings

_request_id: ContextVar[str | None] = ContextVar("keel_request_id", default=None)
_client_ip: ContextVar[str | None] = ContextVar("keel_client_ip", default=None)

# What a proxy's X-Request-ID may be to be kept: short, printable, no spaces or separators
# that could forge a log field (a uuid, a hex or base64url string, nginx's $request_id).
REQUEST_ID_FORMAT = re.compile(r"[A-Za-z0-9._-]{8,128}")


def request_id() -> str | None:
    """The current request's id (the X-Request-ID response header), None outside a request."""
    return _request_id.get()


def current_client_ip() -> str | None:
    """The current request's client address (`client_ip`), None outside a request."""
    return _client_ip.get()


def _address(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """The address of whoever sent `request`, as far as the deployment's proxies vouch for it.

    TRUSTED_PROXIES = N proxies in front of the app, each appending the address it saw to
    X-Forwarded-For: the client is the N-th address from the right (the one the outermost
    proxy appended); everything left of it is whatever the client sent. N = 0 (the default),
    or a header with fewer than N hops (the request did not come through the proxies): the
    client is REMOTE_ADDR. None when there is no address at all (a request built in code):
    axes stores the value in an IP column, so it must be an address or nothing.
    """
    trusted = settings.TRUSTED_PROXIES
    if trusted > 0:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= trusted:
            address = _address(hops[-trusted])
            if address:
                return address
    return _address(request.META.get("REMOTE_ADDR"))


def request_id_for(request) -> str:
    """The id a request is known by: its trusted proxy's X-Request-ID if well-formed, else a new one.

    Only with TRUSTED_PROXIES > 0: without a proxy, the header is the client's own choice.
    """
    if settings.TRUSTED_PROXIES > 0:
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        if REQUEST_ID_FORMAT.fullmatch(given):
            return given
    return uuid.uuid4().hex


def request_start(request) -> None:
    """Set the current request's id and client address (RequestIdMiddleware)."""
    request.request_id = request_id_for(request)
    _request_id.set(request.request_id)
    _client_ip.set(client_ip(request))


def request_end(**kwargs) -> None:
    """Forget them when the response is done (`request_finished`, connected in core/apps.py):
    not when the middleware returns, because Django logs a 4xx or 5xx answer (`django.request`)
    after the middleware, and that line must carry the id too."""
    _request_id.set(None)
    _client_ip.set(None)
