"""`/v1` routes for events and webhook endpoints."""

import fnmatch
import re
import secrets
import string

from . import errors
from .formdata import Params, merge_metadata
from .listing import list_endpoint
from .objects import deleted_object, new_webhook_endpoint
from .version import unsupported

EVENT_TYPE = re.compile(r"^\*$|^[a-z_]+(\.[a-z_]+)+$")


def retrieve_event(ctx, event_id: str) -> dict:
    ctx.params.reject_unknown()
    return ctx.store.get(event_id, "event")


def list_events(ctx) -> dict:
    patterns = [ctx.params.text("type")] if ctx.params.text("type") else ctx.params.array("types")
    return list_endpoint(
        ctx,
        "event",
        "/v1/events",
        filters=("type", "types", "delivery_success"),
        where=lambda e: not patterns or any(fnmatch.fnmatchcase(e["type"], pattern) for pattern in patterns),
    )


def _enabled_events(params: Params, *, required: bool) -> list[str] | None:
    events = params.array("enabled_events", required=required)
    if not events:
        return None
    for index, event_type in enumerate(events):
        if not isinstance(event_type, str) or not EVENT_TYPE.match(event_type):
            raise errors.invalid(f"Invalid enabled_events[{index}]: {event_type}", f"enabled_events[{index}]")
    return events


def _endpoint_url(params: Params, *, required: bool) -> str | None:
    url = params.text("url", required=required)
    if url is not None and not re.match(r"^https?://[^\s/]+", url):
        raise errors.invalid(f"Invalid URL: {url}", "url", "url_invalid")
    return url


def register_webhook_endpoint(
    store, *, url: str, enabled_events: list[str], secret: str | None = None, **fields
) -> tuple[dict, str]:
    endpoint = new_webhook_endpoint(store, url=url, enabled_events=enabled_events, **fields)
    secret = secret or "whsec_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    store.webhook_secrets[endpoint["id"]] = secret
    return endpoint, secret


def create_webhook_endpoint(ctx) -> dict:
    params = ctx.params
    params.reject_unknown("url", "enabled_events", "description", "metadata", "api_version")
    api_version = params.text("api_version")
    if api_version is not None and api_version != ctx.store.api_version:
        # Events are only ever rendered in the version the sandbox serves.
        raise errors.invalid(unsupported(api_version), "api_version")
    endpoint, secret = register_webhook_endpoint(
        ctx.store,
        url=_endpoint_url(params, required=True),
        enabled_events=_enabled_events(params, required=True),
        api_version=api_version,
        description=params.text("description"),
        metadata=params.metadata() or {},
    )
    # The secret is only ever shown in the response to the create call.
    return dict(endpoint, secret=secret)


def retrieve_webhook_endpoint(ctx, endpoint_id: str) -> dict:
    ctx.params.reject_unknown()
    return ctx.store.get(endpoint_id, "webhook_endpoint")


def update_webhook_endpoint(ctx, endpoint_id: str) -> dict:
    params = ctx.params
    params.reject_unknown("url", "enabled_events", "description", "metadata", "disabled")
    endpoint = ctx.store.get(endpoint_id, "webhook_endpoint")
    endpoint["url"] = _endpoint_url(params, required=False) or endpoint["url"]
    endpoint["enabled_events"] = _enabled_events(params, required=False) or endpoint["enabled_events"]
    if "description" in params:
        endpoint["description"] = params.text("description")
    if "disabled" in params:
        endpoint["status"] = "disabled" if params.boolean("disabled") else "enabled"
    endpoint["metadata"] = merge_metadata(endpoint["metadata"], params.metadata())
    return endpoint


def delete_webhook_endpoint(ctx, endpoint_id: str) -> dict:
    ctx.params.reject_unknown()
    endpoint = ctx.store.get(endpoint_id, "webhook_endpoint")
    ctx.store.remove(endpoint_id)
    return deleted_object(endpoint)


def list_webhook_endpoints(ctx) -> dict:
    return list_endpoint(ctx, "webhook_endpoint", "/v1/webhook_endpoints")


ROUTES = [
    ("GET", "/v1/events", list_events),
    ("GET", "/v1/events/{event_id}", retrieve_event),
    ("POST", "/v1/webhook_endpoints", create_webhook_endpoint),
    ("GET", "/v1/webhook_endpoints", list_webhook_endpoints),
    ("GET", "/v1/webhook_endpoints/{endpoint_id}", retrieve_webhook_endpoint),
    ("POST", "/v1/webhook_endpoints/{endpoint_id}", update_webhook_endpoint),
    ("DELETE", "/v1/webhook_endpoints/{endpoint_id}", delete_webhook_endpoint),
]
