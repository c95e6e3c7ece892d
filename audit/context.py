"""Who is acting, for the audit rows the services write (docs/audit.md).

Services do not take an `actor` argument: the actor is the request being served
(`AuditContextMiddleware` keeps it in a context variable), or what a caller outside a
request declares with `acting_as` (the Stripe webhook, a management command). What a
request says about its actor is read when a row is written, not when the request starts:
DRF authenticates an API key inside the view, after every middleware has run.
"""

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from audit.models import ActorKind

# The session key under which django-hijack keeps the ids of the staff members who took
# over the signed-in account (the last one is acting).
HIJACK_HISTORY_KEY = "hijack_history"


@dataclass(frozen=True)
class Actor:
    kind: str
    user_id: object | None = None
    impersonator_id: object | None = None
    label: str = ""
    ip_address: str | None = None
    request_id: str = ""


SYSTEM = Actor(kind=ActorKind.SYSTEM)

_request: contextvars.ContextVar = contextvars.ContextVar("audit_request", default=None)
_declared: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("audit_actor", default=None)


@contextmanager
def acting_as(*, kind: str, label: str = "", user=None) -> Iterator[Actor]:
    """Rows written inside are by `kind` (Stripe, a command, staff through a service call)."""
    actor = Actor(kind=kind, label=label[:200], user_id=getattr(user, "pk", None))
    token = _declared.set(actor)
    try:
        yield actor
    finally:
        _declared.reset(token)


@contextmanager
def serving(request) -> Iterator[None]:
    token = _request.set(request)
    try:
        yield
    finally:
        _request.reset(token)


def _impersonator_id(request):
    session = getattr(request, "session", None)
    if session is None:
        return None
    history = session.get(HIJACK_HISTORY_KEY) or []
    return history[-1] if history else None


def _request_actor(request) -> Actor:
    from accounts.ratelimit import client_ip

    network = {"ip_address": client_ip(request), "request_id": getattr(request, "request_id", "") or ""}
    key = getattr(request, "auth", None)
    user = getattr(request, "user", None)
    if key is not None and hasattr(key, "prefix") and hasattr(key, "user_id"):
        return Actor(kind=ActorKind.API_KEY, user_id=key.user_id, label=f"{key.name} ({key.prefix}…)"[:200], **network)
    if user is None or not user.is_authenticated:
        return Actor(kind=ActorKind.SYSTEM, **network)
    impersonator_id = _impersonator_id(request)
    staff_at_work = user.is_staff and request.path_info.startswith("/admin/")
    return Actor(
        kind=ActorKind.STAFF if staff_at_work else ActorKind.USER,
        user_id=user.pk,
        impersonator_id=impersonator_id,
        **network,
    )


def current_actor() -> Actor:
    declared = _declared.get()
    request = _request.get()
    if declared is not None:
        if request is None:
            return declared
        # Declared inside a request (staff granting credits in the admin): the request's
        # address and id still say where it came from.
        from_request = _request_actor(request)
        return Actor(
            kind=declared.kind,
            user_id=declared.user_id or from_request.user_id,
            impersonator_id=from_request.impersonator_id,
            label=declared.label,
            ip_address=from_request.ip_address,
            request_id=from_request.request_id,
        )
    if request is None:
        return SYSTEM
    return _request_actor(request)
