"""Memberships: roles, removal, leaving, ownership transfer, member credit limits.

Every service here first locks the organization's row (core/locks.py): that
serializes membership and limit changes per organization (and with
consumption, which takes the same lock), so two owners demoting each other at
once cannot leave it without one, and what is read after the lock is what the
previous holder committed.
"""

from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from audit.services import audit_record
from core.db import INT_MAX
from core.errors import Conflict, PermissionDenied, ValidationFailed
from core.locks import lock_row
from organizations.models import (
    UNLIMITED,
    MemberRole,
    Permission,
    Tenant,
    TenantMember,
    TenantMemberCreditLimit,
)
from organizations.tenancy import OwnerOnly, member_can, member_require


def member_audit(action: str, member: TenantMember, *, username: str | None = None, before=None, after=None) -> None:
    """The audit row of a change to a membership: its target is the member's user (a membership
    ends, the person stays), named by username (docs/audit.md)."""
    audit_record(
        action=action,
        tenant_id=member.tenant_id,
        target_type="member",
        target_id=str(member.user_id),
        target_label=member.user.username if username is None else username,
        before=before,
        after=after,
    )


def _owner_count(tenant_id) -> int:
    return TenantMember.objects.filter(
        tenant_id=tenant_id, role=MemberRole.OWNER, user__deleted_at__isnull=True
    ).count()


def _last_owner_error() -> Conflict:
    return Conflict(
        "An organization must keep at least one owner: make someone else an owner first.", code="last_owner"
    )


def permissions_clean(permissions: Iterable[str] | None) -> list[str]:
    """Known permissions, deduplicated, in the fixed list's order."""
    chosen = set(permissions or [])
    unknown = chosen - set(Permission.values)
    if unknown:
        raise ValidationFailed(
            f"Unknown permission: {', '.join(sorted(unknown))}.", code="invalid_permission", field="permissions"
        )
    return [p for p in Permission.values if p in chosen]


def role_clean(role: str) -> str:
    if role not in MemberRole.values:
        raise ValidationFailed(
            f"Role must be one of {', '.join(MemberRole.values)}.", code="invalid_role", field="role"
        )
    return role


# `credit_limit` is an INTEGER column: a larger value would fail in the database, not here.
MAX_CREDIT_LIMIT = INT_MAX


def credit_limit_clean(credit_limit) -> int:
    try:
        value = int(credit_limit)
    except (TypeError, ValueError):
        value = None
    if value is None or not UNLIMITED <= value <= MAX_CREDIT_LIMIT or isinstance(credit_limit, bool):
        raise ValidationFailed(
            "The credit limit is a whole number of credits, or -1 for unlimited.",
            code="invalid_credit_limit",
            field="credit_limit",
        )
    return value


def grant_check(*, actor: TenantMember | None, role: str, permissions: list[str]) -> None:
    """A non-owner can hand out neither ownership nor permissions they do not hold themselves."""
    if actor is None:
        return
    if role == MemberRole.OWNER:
        member_require(actor, OwnerOnly.GRANT_OWNER, "Only an owner can make someone an owner.")
    missing = [p for p in permissions if not member_can(actor, p)]
    if missing:
        raise PermissionDenied(
            f"You cannot grant permissions you do not hold: {', '.join(missing)}.", code="cannot_grant"
        )


@transaction.atomic
def member_role_change(
    *, member: TenantMember, actor: TenantMember | None, role: str, permissions: Iterable[str] | None = None
) -> TenantMember:
    """Change a member's role (and, for `custom`, their permissions). `actor` None: a site operator."""
    role = role_clean(role)
    permissions = permissions_clean(permissions) if role == MemberRole.CUSTOM else []
    if actor is not None:
        member_require(actor, Permission.MANAGE_MEMBERS, "You cannot change members' roles.")
        if actor.role != MemberRole.OWNER:
            if actor.pk == member.pk:
                raise PermissionDenied("You cannot change your own role.", code="cannot_change_own_role")
            if member.role == MemberRole.OWNER:
                member_require(actor, OwnerOnly.GRANT_OWNER, "Only an owner can change an owner's role.")
        grant_check(actor=actor, role=role, permissions=permissions)
    lock_row(Tenant, member.tenant_id)
    member = TenantMember.objects.select_related("tenant", "user").get(pk=member.pk)
    if member.role == MemberRole.OWNER and role != MemberRole.OWNER and _owner_count(member.tenant_id) <= 1:
        raise _last_owner_error()
    before = {"role": member.role, "permissions": member.permissions}
    member.role = role
    member.permissions = permissions
    member.save(update_fields=["role", "permissions"])
    if before != {"role": role, "permissions": permissions}:
        member_audit("member.role_changed", member, before=before, after={"role": role, "permissions": permissions})
    return member


def membership_end(member: TenantMember, *, action: str) -> None:
    """Remove the membership and its credit limit row (every membership has exactly one),
    then run `KEEL_MEMBERSHIP_END_HOOKS` (credits revokes the member's API keys there).

    The caller holds the organization's lock and has checked the departure
    (`member_remove`, `member_leave`, account deletion).
    """
    TenantMemberCreditLimit.objects.filter(tenant_id=member.tenant_id, user_id=member.user_id).delete()
    member_audit(action, member, before={"role": member.role, "permissions": member.permissions})
    member.delete()
    for path in settings.KEEL_MEMBERSHIP_END_HOOKS:
        import_string(path)(tenant_id=member.tenant_id, user_id=member.user_id)


def _departure_check(member: TenantMember) -> None:
    if member.role == MemberRole.OWNER and _owner_count(member.tenant_id) <= 1:
        raise _last_owner_error()
    tenant = member.tenant
    if tenant.is_default and tenant.owner_id == member.user_id:
        raise Conflict(
            "This is your personal organization: you stay in it while your account exists.",
            code="default_organization",
        )


@transaction.atomic
def member_remove(*, member: TenantMember, actor: TenantMember | None) -> None:
    """Remove a member. Removing yourself is leaving."""
    if actor is not None and actor.pk == member.pk:
        return member_leave(member=member)
    if actor is not None:
        member_require(actor, Permission.MANAGE_MEMBERS, "You cannot remove members.")
        if member.role == MemberRole.OWNER:
            member_require(actor, OwnerOnly.GRANT_OWNER, "Only an owner can remove an owner.")
    lock_row(Tenant, member.tenant_id)
    member = TenantMember.objects.select_related("tenant", "user").get(pk=member.pk)
    _departure_check(member)
    membership_end(member, action="member.removed")


@transaction.atomic
def member_leave(*, member: TenantMember) -> None:
    lock_row(Tenant, member.tenant_id)
    member = TenantMember.objects.select_related("tenant", "user").get(pk=member.pk)
    _departure_check(member)
    membership_end(member, action="member.left")


@transaction.atomic
def tenant_ownership_transfer(*, actor: TenantMember, to_member: TenantMember) -> TenantMember:
    """Make `to_member` an owner and the acting owner a plain member, in one step."""
    member_require(actor, OwnerOnly.TRANSFER_OWNERSHIP, "Only an owner can transfer ownership.")
    if to_member.tenant_id != actor.tenant_id:
        raise ValidationFailed("Choose a member of this organization.", code="not_a_member", field="member")
    if to_member.pk == actor.pk:
        raise ValidationFailed("You already own this organization.", code="same_member", field="member")
    lock_row(Tenant, actor.tenant_id)
    # Read again under the lock: a concurrent change (another transfer, a demotion) counts.
    actor = TenantMember.objects.select_related("tenant").get(pk=actor.pk)
    member_require(actor, OwnerOnly.TRANSFER_OWNERSHIP, "Only an owner can transfer ownership.")
    if not TenantMember.objects.filter(pk=to_member.pk, tenant_id=actor.tenant_id).exists():
        raise ValidationFailed("Choose a member of this organization.", code="not_a_member", field="member")
    TenantMember.objects.filter(pk=to_member.pk).update(role=MemberRole.OWNER, permissions=[])
    actor.role = MemberRole.MEMBER
    actor.permissions = []
    actor.save(update_fields=["role", "permissions"])
    new_owner = TenantMember.objects.select_related("tenant", "user").get(pk=to_member.pk)
    # One row for the whole transfer: the new owner is the target, the previous one is the actor.
    member_audit(
        "member.ownership_transferred",
        new_owner,
        before={"role": to_member.role, "owner": str(actor.user_id)},
        after={"role": MemberRole.OWNER, "previous_owner_role": MemberRole.MEMBER},
    )
    return new_owner


def _limit_row(member: TenantMember) -> tuple[TenantMemberCreditLimit, str]:
    """The member's limit row, read under the organization's lock (which every writer of it holds),
    and the member's username (for the audit row).

    get_or_create heals a membership whose row is missing (created outside the
    services); consumption refuses such a member rather than count them unlimited.
    """
    lock_row(Tenant, member.tenant_id)
    username = TenantMember.objects.filter(pk=member.pk).values_list("user__username", flat=True).first()
    if username is None:
        raise Conflict("This person is no longer a member of the organization.", code="not_a_member")
    row, _created = TenantMemberCreditLimit.objects.get_or_create(tenant_id=member.tenant_id, user_id=member.user_id)
    return row, username


@transaction.atomic
def member_credit_limit_set(
    *, member: TenantMember, actor: TenantMember | None, credit_limit: int
) -> TenantMemberCreditLimit:
    """Set (or with -1 clear) how many credits a member may consume in the organization."""
    if actor is not None:
        member_require(actor, OwnerOnly.MANAGE_CREDIT_LIMITS, "Only an owner can set credit limits.")
    credit_limit = credit_limit_clean(credit_limit)
    row, username = _limit_row(member)
    before = row.credit_limit
    row.credit_limit = credit_limit
    row.save(update_fields=["credit_limit"])
    if before != credit_limit:
        member_audit(
            "member.credit_limit_changed",
            member,
            username=username,
            before={"credit_limit": before},
            after={"credit_limit": credit_limit},
        )
    return row


@transaction.atomic
def member_usage_reset(*, member: TenantMember, actor: TenantMember | None) -> TenantMemberCreditLimit:
    """Start a member's `used_credits` from zero again (the ledger keeps the history)."""
    if actor is not None:
        member_require(actor, OwnerOnly.MANAGE_CREDIT_LIMITS, "Only an owner can reset credit usage.")
    row, username = _limit_row(member)
    before = row.used_credits
    row.used_credits = 0
    row.save(update_fields=["used_credits"])
    member_audit(
        "member.usage_reset", member, username=username, before={"used_credits": before}, after={"used_credits": 0}
    )
    return row


@transaction.atomic
def member_update(
    *,
    member: TenantMember,
    actor: TenantMember | None,
    role: str | None = None,
    permissions: Iterable[str] | None = None,
    credit_limit: int | None = None,
    reset_used_credits: bool = False,
) -> TenantMember:
    """Several member changes at once (the API's PATCH): all of them, or none if one is refused."""
    if role is not None or permissions is not None:
        new_role = role if role is not None else member.role
        if permissions is None and new_role == member.role:
            permissions = member.permissions
        member = member_role_change(member=member, actor=actor, role=new_role, permissions=permissions)
    if credit_limit is not None:
        member_credit_limit_set(member=member, actor=actor, credit_limit=credit_limit)
    if reset_used_credits:
        member_usage_reset(member=member, actor=actor)
    return member
