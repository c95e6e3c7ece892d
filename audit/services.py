"""Writing the audit log: `audit_record`, called by the services inside their transaction."""

from django.db import connection

from audit.context import current_actor
from audit.models import AuditEvent


class AuditOutsideTransaction(RuntimeError):
    """An audit row written outside the change's transaction could survive a change that
    rolled back, or be lost when the change committed."""


def _label(target) -> str:
    return str(target)[:200] if target is not None else ""


def audit_record(
    *,
    action: str,
    tenant=None,
    tenant_id=None,
    target=None,
    target_type: str = "",
    target_id: str = "",
    target_label: str | None = None,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """One row saying the current actor did `action` (e.g. "member.role_changed") to `target`.

    `target` is a model instance (its type, id and label are taken from it) or nothing with
    the three given explicitly. `before`/`after` hold the fields that changed, JSON only.
    """
    event = audit_event(
        action=action,
        tenant=tenant,
        tenant_id=tenant_id,
        target=target,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        before=before,
        after=after,
    )
    event.save(force_insert=True)
    return event


def audit_records(events: list[AuditEvent]) -> list[AuditEvent]:
    """Several rows (built by `audit_event`) in one INSERT: a change that touches many things at
    once (the keys of a departing member, a batch of expired grants)."""
    if not connection.in_atomic_block:
        raise AuditOutsideTransaction("audit rows written outside a transaction")
    return AuditEvent.objects.bulk_create(events) if events else []


def audit_event(
    *,
    action: str,
    tenant=None,
    tenant_id=None,
    target=None,
    target_type: str = "",
    target_id: str = "",
    target_label: str | None = None,
    before: dict | None = None,
    after: dict | None = None,
    actor=None,
) -> AuditEvent:
    """The unsaved row `audit_record` writes (the same arguments)."""
    if not connection.in_atomic_block:
        raise AuditOutsideTransaction(f"audit row {action!r} written outside a transaction")
    actor = actor or current_actor()
    if target is not None:
        target_type = target_type or target._meta.model_name
        target_id = target_id or str(target.pk)
        target_label = _label(target) if target_label is None else target_label
    return AuditEvent(
        tenant_id=tenant.pk if tenant is not None else tenant_id,
        action=action,
        actor_kind=actor.kind,
        actor_user_id=actor.user_id,
        impersonator_id=actor.impersonator_id,
        actor_label=actor.label,
        target_type=target_type,
        target_id=str(target_id)[:255],
        target_label=(target_label or "")[:200],
        before=before,
        after=after,
        ip_address=actor.ip_address,
        request_id=actor.request_id[:64],
    )
