"""Reading the audit log: an organization's rows for its owners' page (docs/audit.md)."""

import uuid

from django.db.models import QuerySet

from audit.actions import action_label
from audit.models import ActorKind, AuditEvent
from core.time import ms_to_datetime


def tenant_audit_events(*, tenant) -> QuerySet[AuditEvent]:
    """The organization's rows, newest first, each with its acting user in the same query."""
    return (
        AuditEvent.objects.filter(tenant_id=tenant.pk)
        .select_related("actor_user")
        .only(
            "created_at", "action", "actor_kind", "actor_label", "impersonator_id", "target_type", "target_label",
            "before", "after", "ip_address",
            "actor_user__username", "actor_user__first_name", "actor_user__last_name", "actor_user__deleted_at",
        )
        .order_by("-created_at", "-id")
    )  # fmt: skip


def actor_display(event: AuditEvent) -> str:
    """Who acted, as a customer may see it: staff are "Keel staff", never their name or email."""
    if event.actor_kind == ActorKind.STAFF:
        return "Keel staff"
    if event.actor_kind == ActorKind.STRIPE:
        return "Stripe"
    if event.actor_kind == ActorKind.API_KEY:
        return f"API key {event.actor_label}"
    if event.actor_kind == ActorKind.SYSTEM:
        return f"Keel ({event.actor_label})" if event.actor_label else "Keel"
    user = event.actor_user
    if user is None or user.deleted_at is not None:
        name = "A deleted account"
    else:
        full = user.get_full_name()
        name = f"{full} ({user.username})" if full != user.username else user.username
    if event.impersonator_id is not None:
        name = f"{name} (impersonated by Keel support)"
    return name


def event_display(event: AuditEvent) -> dict:
    return {
        "event": event,
        "actor": actor_display(event),
        "what": action_label(event.action),
        "changes": _changes(event.before, event.after),
    }


def _is_id(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _shown(field: str, value: object) -> str:
    """A value as an owner reads it: epoch-ms times as UTC dates, nothing as a dash, lists joined."""
    if value is None or value == "":
        return "—"
    if field.endswith(("_at", "_end", "_start")) and isinstance(value, int) and not isinstance(value, bool):
        return ms_to_datetime(value).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(item).replace("_", " ") for item in value) or "none"
    return str(value)


def _changes(before: dict | None, after: dict | None) -> list[tuple[str, str | None, str]]:
    """(field, before, after) for the page: every field either side names, but internal ids (the
    row names its target and actor already), with values made readable; `before` is None when
    the row has no before."""
    before, after = before or {}, after or {}
    fields = [
        field
        for field in dict.fromkeys([*before, *after])
        if not (_is_id(before.get(field)) or _is_id(after.get(field)))
    ]
    return [
        (
            field.replace("_", " "),
            _shown(field, before[field]) if field in before else None,
            _shown(field, after[field]) if field in after else "—",
        )
        for field in fields
    ]
