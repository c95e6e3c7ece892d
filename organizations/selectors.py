"""Reads more than one caller needs, with their joins already made and the tenant as an argument."""

import hashlib
from dataclasses import dataclass

from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404
from django.urls import reverse

from accounts.models import UserEmail
from accounts.selectors import SignupInvitation
from core.time import now_ms
from organizations.models import (
    UNLIMITED,
    InvitationStatus,
    MemberRole,
    Tenant,
    TenantInvitation,
    TenantMember,
    TenantMemberCreditLimit,
)


def user_memberships_list(*, user, tenant_id=None) -> QuerySet[TenantMember]:
    """The user's memberships in live organizations, with the organization joined."""
    memberships = TenantMember.objects.select_related("tenant").filter(user=user, tenant__deleted_at__isnull=True)
    if tenant_id is not None:
        memberships = memberships.filter(tenant_id=tenant_id)
    return memberships.order_by("-tenant__is_default", "tenant__name", "tenant_id")


def user_current_membership(*, user, tenant_id=None, listed: list[TenantMember] | None = None) -> TenantMember | None:
    """The membership of the user's current organization: the one the session chose (`tenant_id`)
    while the user is still in it and it is alive, else the first of `user_memberships_list` (the
    personal organization); None for a user in no organization. `listed`: the head of
    `user_memberships_list`, already loaded (the nav's switcher), looked through before asking."""
    if tenant_id:
        chosen = next((m for m in listed or () if str(m.tenant_id) == str(tenant_id)), None)
        chosen = chosen or user_memberships_list(user=user, tenant_id=tenant_id).first()
        if chosen is not None:
            return chosen
    # Nothing chosen yet (or it is gone): the personal organization, listed first.
    if listed is not None:
        return listed[0] if listed else None
    return user_memberships_list(user=user).first()


def tenant_members_list(*, tenant: Tenant) -> QuerySet[TenantMember]:
    """Members with their primary email, credit limit and credits used: one query whatever their number."""
    limits = TenantMemberCreditLimit.objects.filter(tenant_id=OuterRef("tenant_id"), user_id=OuterRef("user_id"))
    primary = UserEmail.objects.filter(user_id=OuterRef("user_id"), is_primary=True)
    return (
        TenantMember.objects.filter(tenant=tenant, user__deleted_at__isnull=True)
        .select_related("user")
        .annotate(
            credit_limit=Subquery(limits.values("credit_limit")[:1]),
            used_credits=Subquery(limits.values("used_credits")[:1]),
            primary_email=Subquery(primary.values("email")[:1]),
        )
        .order_by("created_at", "id")
    )


def tenant_member_get(*, tenant: Tenant, member_id) -> TenantMember:
    """A member of `tenant`, or 404 (a member of another organization does not exist here)."""
    member = tenant_members_list(tenant=tenant).filter(pk=member_id).first()
    if member is None:
        raise Http404
    member.tenant = tenant
    return member


def tenant_invitations_list(*, tenant: Tenant, status: str | None = InvitationStatus.PENDING) -> QuerySet:
    invitations = TenantInvitation.objects.filter(tenant=tenant).select_related("invited_by")
    if status:
        invitations = invitations.filter(status=status)
    return invitations.order_by("-created_at", "id")


def tenant_invitation_get(*, tenant: Tenant, invitation_id) -> TenantInvitation:
    invitation = TenantInvitation.objects.filter(tenant=tenant, pk=invitation_id).select_related("invited_by").first()
    if invitation is None:
        raise Http404
    invitation.tenant = tenant
    return invitation


def invitation_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# What stands between a visitor holding a link and the membership it offers.
class InvitationState:
    OK = "ok"
    INVALID = "invitation_invalid"  # no such token, or the organization is gone
    USED = "invitation_used"
    REVOKED = "invitation_revoked"
    EXPIRED = "invitation_expired"
    SIGN_IN = "sign_in_required"
    UNVERIFIED = "email_unverified"
    WRONG_EMAIL = "invitation_wrong_email"
    ALREADY_MEMBER = "already_member"


@dataclass
class InvitationCheck:
    state: str
    invitation: TenantInvitation | None


def invitation_check(*, token: str, user, now: int | None = None) -> InvitationCheck:
    """Find the invitation a raw token names and say whether `user` may accept it, and if not why."""
    invitation = (
        TenantInvitation.objects.select_related("tenant", "invited_by")
        .filter(token=invitation_token_hash(token or ""))
        .first()
    )
    if invitation is None or invitation.tenant.deleted_at is not None:
        return InvitationCheck(InvitationState.INVALID, None)
    now = now_ms() if now is None else now
    if invitation.status == InvitationStatus.ACCEPTED:
        state = InvitationState.USED
    elif invitation.status == InvitationStatus.REVOKED:
        state = InvitationState.REVOKED
    elif invitation.status == InvitationStatus.EXPIRED or invitation.expires_at <= now:
        state = InvitationState.EXPIRED
    elif not getattr(user, "is_authenticated", False):
        state = InvitationState.SIGN_IN
    else:
        address = UserEmail.objects.filter(user=user, email=invitation.email).first()
        if address is None:
            state = InvitationState.WRONG_EMAIL
        elif not address.verified:
            state = InvitationState.UNVERIFIED
        elif TenantMember.objects.filter(tenant_id=invitation.tenant_id, user=user).exists():
            state = InvitationState.ALREADY_MEMBER
        else:
            state = InvitationState.OK
    return InvitationCheck(state, invitation)


def invitation_terms(invitation: TenantInvitation) -> str:
    """What joining gives, in words: "as a member, with a limit of 15 credits"."""
    role = {
        MemberRole.OWNER: "as an owner",
        MemberRole.MEMBER: "as a member",
        MemberRole.CUSTOM: "with chosen permissions",
    }.get(invitation.role, f"as {invitation.role}")
    if invitation.credit_limit == UNLIMITED:
        return role
    return f"{role}, with a limit of {invitation.credit_limit:,} credits"


def invitation_for_signup(*, token: str) -> SignupInvitation | None:
    """settings.KEEL_INVITATION_LOOKUP_HOOK: the pending, unexpired invitation a link's token
    names, for the sign-up and sign-in pages that link leads to (None for any other state: the
    invitation's page explains those)."""
    check = invitation_check(token=token, user=None)
    if check.state != InvitationState.SIGN_IN:
        return None
    invitation = check.invitation
    return SignupInvitation(
        email=invitation.email,
        organization=invitation.tenant.name,
        inviter=invitation.invited_by.get_full_name() if invitation.invited_by else "",
        terms=invitation_terms(invitation),
        url=reverse("organizations:invitation_accept", kwargs={"token": token}),
    )


def user_export_memberships(*, user) -> tuple[str, list]:
    """The data export's section (KEEL_ACCOUNT_EXPORT_SECTIONS): the user's memberships with their
    role, permissions, credit limit and credits used, in one query however many there are."""
    limits = TenantMemberCreditLimit.objects.filter(tenant_id=OuterRef("tenant_id"), user_id=OuterRef("user_id"))
    memberships = user_memberships_list(user=user).annotate(
        credit_limit=Subquery(limits.values("credit_limit")[:1]),
        used_credits=Subquery(limits.values("used_credits")[:1]),
    )
    return "memberships", [
        {
            "organization": {"name": m.tenant.name, "slug": m.tenant.slug, "personal": m.tenant.is_default},
            "role": m.role,
            "permissions": list(m.permissions or []),
            "credit_limit": UNLIMITED if m.credit_limit is None else m.credit_limit,
            "used_credits": m.used_credits or 0,
            "joined_at": m.created_at,
        }
        for m in memberships
    ]
