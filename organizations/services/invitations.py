"""Invitations: invite (or re-invite), resend, revoke, accept, expire.

The link in the email carries a random token; the database stores only its
SHA-256, so a database reader cannot accept an invitation. Every state change
is a conditional update on the status it starts from, so acceptance happens
once however many times the link is clicked.
"""

import logging
import secrets
from collections.abc import Iterable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.emails import email_send
from accounts.models import User
from accounts.services import InvitationJoined
from accounts.services.users import email_address_clean
from audit.services import audit_event, audit_record, audit_records
from core.errors import ApplicationError, Conflict, NotFound, PermissionDenied
from core.locks import lock_row
from core.time import MS_PER_DAY, ms_to_datetime, now_ms
from organizations.models import (
    UNLIMITED,
    InvitationStatus,
    MemberRole,
    Permission,
    Tenant,
    TenantInvitation,
    TenantMember,
    TenantMemberCreditLimit,
)
from organizations.selectors import InvitationState, invitation_check, invitation_token_hash
from organizations.services.members import credit_limit_clean, grant_check, permissions_clean, role_clean
from organizations.tenancy import member_require

logger = logging.getLogger(__name__)


def _new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, invitation_token_hash(token)


def invitation_ttl_ms() -> int:
    return settings.INVITATION_TTL_DAYS * MS_PER_DAY


def _terms(invitation: TenantInvitation) -> dict:
    return {
        "email": invitation.email,
        "role": invitation.role,
        "permissions": invitation.permissions,
        "credit_limit": invitation.credit_limit,
    }


def _send(*, invitation: TenantInvitation, token: str, inviter: User | None) -> None:
    path = reverse("organizations:invitation_accept", kwargs={"token": token})
    email_send(
        to=invitation.email,
        template="invitation",
        context={
            "tenant_name": invitation.tenant.name,
            "inviter_name": inviter.get_full_name() if inviter else "",
            "role": MemberRole(invitation.role).label,
            "accept_url": f"{settings.SITE_URL}{path}",
            "expires_at": ms_to_datetime(invitation.expires_at),
        },
    )


def _is_member_by_email(*, tenant: Tenant, email: str) -> bool:
    return TenantMember.objects.filter(tenant=tenant, user__emails__email=email, user__deleted_at__isnull=True).exists()


@transaction.atomic
def invitation_create(
    *,
    tenant: Tenant,
    actor: TenantMember | None,
    invited_by: User,
    email: str,
    role: str = MemberRole.MEMBER,
    permissions: Iterable[str] | None = None,
    credit_limit: int = UNLIMITED,
) -> TenantInvitation:
    """Invite `email`, or update and resend the invitation it already has in this organization.

    A re-invitation gets a new token and expiry: the older link stops working.
    """
    if actor is not None:
        member_require(actor, Permission.MANAGE_INVITATIONS, "You cannot invite people to this organization.")
    email = email_address_clean(email)
    role = role_clean(role)
    permissions = permissions_clean(permissions) if role == MemberRole.CUSTOM else []
    credit_limit = credit_limit_clean(credit_limit)
    grant_check(actor=actor, role=role, permissions=permissions)
    # Same lock as membership changes: an invitation and an acceptance for the
    # same address cannot interleave (core/locks.py).
    tenant = lock_row(Tenant, tenant.pk)
    if tenant.deleted_at is not None:
        raise NotFound("This organization does not exist.")
    if _is_member_by_email(tenant=tenant, email=email):
        raise Conflict(f"{email} is already a member of this organization.", code="already_member", field="email")
    token, token_hash = _new_token()
    values = {
        "role": role,
        "permissions": permissions,
        "credit_limit": credit_limit,
        "invited_by": invited_by,
        "token": token_hash,
        "status": InvitationStatus.PENDING,
        "expires_at": now_ms() + invitation_ttl_ms(),
    }
    invitation = TenantInvitation.objects.filter(tenant=tenant, email=email).first()
    before = None
    if invitation is None:
        try:
            with transaction.atomic():
                invitation = TenantInvitation.objects.create(tenant=tenant, email=email, **values)
        except IntegrityError:
            invitation = TenantInvitation.objects.get(tenant=tenant, email=email)
            before = _terms(invitation) | {"status": invitation.status}
            invitation = _update(invitation, values)
    else:
        before = _terms(invitation) | {"status": invitation.status}
        invitation = _update(invitation, values)
    invitation.tenant = tenant
    # A re-invitation is an invitation created again, with the terms it had before.
    audit_record(
        action="invitation.created",
        tenant=tenant,
        target=invitation,
        target_type="invitation",
        target_label=email,
        before=before,
        after=_terms(invitation) | {"expires_at": invitation.expires_at},
    )
    _send(invitation=invitation, token=token, inviter=invited_by)
    logger.info("invitation sent: invitation=%s tenant=%s", invitation.pk, tenant.pk)
    return invitation


def _update(invitation: TenantInvitation, values: dict) -> TenantInvitation:
    for field, value in values.items():
        setattr(invitation, field, value)
    invitation.save(update_fields=list(values))
    return invitation


@transaction.atomic
def invitation_resend(*, invitation: TenantInvitation, actor: TenantMember | None) -> TenantInvitation:
    """A new token and a new expiry for a pending (or expired) invitation, mailed again."""
    if actor is not None:
        member_require(actor, Permission.MANAGE_INVITATIONS, "You cannot manage invitations.")
    token, token_hash = _new_token()
    expires_at = now_ms() + invitation_ttl_ms()
    updated = TenantInvitation.objects.filter(
        pk=invitation.pk,
        status__in=[InvitationStatus.PENDING, InvitationStatus.EXPIRED],
        tenant__deleted_at__isnull=True,
    ).update(token=token_hash, expires_at=expires_at, status=InvitationStatus.PENDING)
    if not updated:
        raise Conflict("Only a pending or expired invitation can be resent.", code="invitation_not_pending")
    invitation = TenantInvitation.objects.select_related("tenant", "invited_by").get(pk=invitation.pk)
    audit_record(
        action="invitation.resent",
        tenant_id=invitation.tenant_id,
        target=invitation,
        target_type="invitation",
        target_label=invitation.email,
        after={"expires_at": expires_at},
    )
    inviter = actor.user if actor is not None else invitation.invited_by
    _send(invitation=invitation, token=token, inviter=inviter)
    return invitation


@transaction.atomic
def invitation_revoke(*, invitation: TenantInvitation, actor: TenantMember | None) -> TenantInvitation:
    if actor is not None:
        member_require(actor, Permission.MANAGE_INVITATIONS, "You cannot manage invitations.")
    if not TenantInvitation.objects.filter(pk=invitation.pk, status=InvitationStatus.PENDING).update(
        status=InvitationStatus.REVOKED
    ):
        raise Conflict("Only a pending invitation can be revoked.", code="invitation_not_pending")
    invitation.status = InvitationStatus.REVOKED
    audit_record(
        action="invitation.revoked",
        tenant_id=invitation.tenant_id,
        target=invitation,
        target_type="invitation",
        target_label=invitation.email,
        before={"status": InvitationStatus.PENDING},
        after={"status": InvitationStatus.REVOKED},
    )
    return invitation


_STATE_ERRORS: dict[str, tuple[type[ApplicationError], str]] = {
    InvitationState.INVALID: (NotFound, "This invitation link is not valid."),
    InvitationState.USED: (Conflict, "This invitation has already been accepted."),
    InvitationState.REVOKED: (Conflict, "This invitation was withdrawn."),
    InvitationState.EXPIRED: (Conflict, "This invitation has expired; ask for a new one."),
    InvitationState.SIGN_IN: (PermissionDenied, "Sign in to accept this invitation."),
    InvitationState.UNVERIFIED: (PermissionDenied, "Verify the invited email address first."),
    InvitationState.WRONG_EMAIL: (PermissionDenied, "This invitation was sent to another email address."),
    InvitationState.ALREADY_MEMBER: (Conflict, "You are already a member of this organization."),
}


def invitation_state_error(state: str) -> ApplicationError:
    error_class, detail = _STATE_ERRORS[state]
    return error_class(detail, code=state)


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> TenantMember:
    """Join the organization on the invitation's terms, once: membership and credit limit, atomically."""
    check = invitation_check(token=token, user=user)
    if check.state != InvitationState.OK:
        raise invitation_state_error(check.state)
    invitation = check.invitation
    # The user, then the organization (core/locks.py): an account being deleted joins nothing.
    if lock_row(User, user.pk, fields=["id", "deleted_at"]).deleted_at is not None:
        raise invitation_state_error(InvitationState.SIGN_IN)
    lock_row(Tenant, invitation.tenant_id)
    now = now_ms()
    if not TenantInvitation.objects.filter(
        pk=invitation.pk, status=InvitationStatus.PENDING, expires_at__gt=now
    ).update(status=InvitationStatus.ACCEPTED):
        # Someone (or another click) got there first: say what happened.
        raise invitation_state_error(invitation_check(token=token, user=user, now=now).state)
    try:
        with transaction.atomic():
            member = TenantMember.objects.create(
                tenant_id=invitation.tenant_id,
                user=user,
                role=invitation.role,
                permissions=invitation.permissions if invitation.role == MemberRole.CUSTOM else [],
            )
    except IntegrityError:
        raise invitation_state_error(InvitationState.ALREADY_MEMBER) from None
    TenantMemberCreditLimit.objects.update_or_create(
        tenant_id=invitation.tenant_id,
        user=user,
        defaults={"credit_limit": invitation.credit_limit, "used_credits": 0},
    )
    member.tenant = invitation.tenant
    # One row for the acceptance and the membership it creates: the new member is the target.
    audit_record(
        action="invitation.accepted",
        tenant_id=invitation.tenant_id,
        target_type="member",
        target_id=str(user.pk),
        target_label=user.username,
        after=_terms(invitation) | {"invitation": str(invitation.pk)},
    )
    logger.info("invitation accepted: invitation=%s tenant=%s", invitation.pk, invitation.tenant_id)
    return member


def invitation_accept_after_signup(*, token: str, user: User) -> InvitationJoined:
    """settings.KEEL_INVITATION_ACCEPT_HOOK: join right after signing up from the link with the
    invited address (which the link's token verified). The same acceptance, and the same rules,
    as the invitation page's button; a refusal raises as there."""
    member = invitation_accept(token=token, user=user)
    return InvitationJoined(
        url=reverse("credits:dashboard", kwargs={"slug": member.tenant.slug}),
        message=f"Welcome to “{member.tenant.name}”.",
    )


@transaction.atomic
def invitations_expire(*, now: int | None = None) -> list[TenantInvitation]:
    """Mark pending invitations past their expiry `expired`; returns those this run changed."""
    now = now_ms() if now is None else now
    due = list(
        TenantInvitation.objects.select_related("tenant")
        .filter(status=InvitationStatus.PENDING, expires_at__lte=now)
        .order_by("expires_at", "pk")
    )
    changed = []
    for invitation in due:
        # Conditional per row: an invitation accepted or resent meanwhile is left alone.
        if TenantInvitation.objects.filter(
            pk=invitation.pk, status=InvitationStatus.PENDING, expires_at__lte=now
        ).update(status=InvitationStatus.EXPIRED):
            invitation.status = InvitationStatus.EXPIRED
            changed.append(invitation)
    audit_records(
        [
            audit_event(
                action="invitation.expired",
                tenant_id=invitation.tenant_id,
                target=invitation,
                target_type="invitation",
                target_label=invitation.email,
                before={"status": InvitationStatus.PENDING},
                after={"status": InvitationStatus.EXPIRED},
            )
            for invitation in changed
        ]
    )
    return changed
