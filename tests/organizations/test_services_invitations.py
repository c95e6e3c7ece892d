import hashlib
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import override_settings

from core.errors import ApplicationError
from core.time import MS_PER_DAY, now_ms
from organizations import services
from organizations.models import InvitationStatus, MemberRole, TenantInvitation, TenantMember, TenantMemberCreditLimit
from tests import factories
from tests.organizations.conftest import join, token_from_last_email

pytestmark = pytest.mark.django_db


def refused(code, fn, **kwargs):
    with pytest.raises(ApplicationError) as caught:
        fn(**kwargs)
    assert caught.value.code == code, caught.value.detail
    return caught.value


def invite(org, actor, email="new@example.com", **kwargs):
    return services.invitation_create(tenant=org, actor=actor, invited_by=actor.user, email=email, **kwargs)


@pytest.fixture
def invitee(db):
    return factories.UserFactory(username="ivy", email="ivy@example.com")


def test_invitation_mails_a_link_and_stores_only_the_token_hash(org, owner_member, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invite(org, owner_member, email=" New@Example.com ", credit_limit=25)

    token = token_from_last_email()
    invitation.refresh_from_db()
    assert invitation.email == "new@example.com"
    assert invitation.token == hashlib.sha256(token.encode()).hexdigest()
    assert token not in invitation.token
    assert mail.outbox[-1].to == ["new@example.com"]
    assert "Acme" in mail.outbox[-1].subject
    assert (invitation.status, invitation.credit_limit, invitation.role) == ("pending", 25, "member")
    assert 7 * MS_PER_DAY - 60_000 < invitation.expires_at - now_ms() <= 7 * MS_PER_DAY


@override_settings(INVITATION_TTL_DAYS=2)
def test_expiry_is_configurable(org, owner_member):
    invitation = invite(org, owner_member)

    assert 2 * MS_PER_DAY - 60_000 < invitation.expires_at - now_ms() <= 2 * MS_PER_DAY


def test_inviting_again_updates_the_pending_invitation_and_kills_the_old_link(
    org, owner_member, invitee, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invite(org, owner_member, email="ivy@example.com")
    old_token = token_from_last_email()
    with django_capture_on_commit_callbacks(execute=True):
        invite(
            org, owner_member, email="IVY@example.com", role="custom", permissions=["view_all_usage"], credit_limit=9
        )
    new_token = token_from_last_email()

    invitation = TenantInvitation.objects.get(tenant=org)
    assert (invitation.role, invitation.permissions, invitation.credit_limit) == ("custom", ["view_all_usage"], 9)
    refused("invitation_invalid", services.invitation_accept, token=old_token, user=invitee)
    assert services.invitation_accept(token=new_token, user=invitee).role == "custom"


def test_inviting_an_existing_member_is_refused(org, owner_member, invitee):
    join(org, invitee)

    error = refused("already_member", invite, org=org, actor=owner_member, email="ivy@example.com")

    assert error.field == "email"
    assert not TenantInvitation.objects.exists()


def test_bad_invitation_input_is_refused(org, owner_member, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        refused("invalid_email", invite, org=org, actor=owner_member, email="not-an-email")
        refused("invalid_role", invite, org=org, actor=owner_member, role="admin")
        refused("invalid_credit_limit", invite, org=org, actor=owner_member, credit_limit=-3)
        refused("invalid_permission", invite, org=org, actor=owner_member, role="custom", permissions=["root"])
    assert not TenantInvitation.objects.exists()
    assert not mail.outbox


def test_who_may_invite_and_what_they_may_offer(org, owner_member):
    plain = join(org)
    inviter = join(org, role=MemberRole.CUSTOM, permissions=["manage_invitations"])

    refused("permission_denied", invite, org=org, actor=plain)
    refused("permission_denied", invite, org=org, actor=inviter, role="owner")
    refused("cannot_grant", invite, org=org, actor=inviter, role="custom", permissions=["manage_billing"])
    assert not TenantInvitation.objects.exists()
    assert invite(org, inviter, role="custom", permissions=["manage_invitations"]).status == "pending"


def test_accepting_creates_membership_and_credit_limit_once(
    org, owner_member, invitee, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invite(
            org, owner_member, email="ivy@example.com", role="custom", permissions=["view_all_usage"], credit_limit=40
        )
    token = token_from_last_email()

    member = services.invitation_accept(token=token, user=invitee)

    assert (member.tenant_id, member.role, member.permissions) == (org.pk, "custom", ["view_all_usage"])
    limit = TenantMemberCreditLimit.objects.get(tenant=org, user=invitee)
    assert (limit.credit_limit, limit.used_credits) == (40, 0)
    assert TenantInvitation.objects.get(tenant=org).status == InvitationStatus.ACCEPTED
    refused("invitation_used", services.invitation_accept, token=token, user=invitee)
    assert TenantMember.objects.filter(tenant=org, user=invitee).count() == 1


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ("unverified", "email_unverified"),
        ("other_email", "invitation_wrong_email"),
        ("revoked", "invitation_revoked"),
        ("expired_unmarked", "invitation_expired"),
        ("expired_marked", "invitation_expired"),
        ("tenant_deleted", "invitation_invalid"),
        ("garbage_token", "invitation_invalid"),
    ],
)
def test_acceptance_refusals_write_nothing(org, owner_member, django_capture_on_commit_callbacks, setup, code):
    user = factories.UserFactory(email="ivy@example.com", email__verified=setup != "unverified")
    if setup == "other_email":
        user = factories.UserFactory(email="someone-else@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invite(org, owner_member, email="ivy@example.com")
    token = token_from_last_email()
    if setup == "revoked":
        services.invitation_revoke(invitation=invitation, actor=owner_member)
    elif setup == "expired_unmarked":
        TenantInvitation.objects.filter(pk=invitation.pk).update(expires_at=now_ms() - 1)
    elif setup == "expired_marked":
        TenantInvitation.objects.filter(pk=invitation.pk).update(status="expired")
    elif setup == "tenant_deleted":
        org.deleted_at = now_ms()
        org.save()
    elif setup == "garbage_token":
        token = "x" + token
    status_before = TenantInvitation.objects.get(pk=invitation.pk).status

    refused(code, services.invitation_accept, token=token, user=user)

    assert not TenantMember.objects.filter(tenant=org, user=user).exists()
    assert not TenantMemberCreditLimit.objects.filter(tenant=org, user=user).exists()
    assert TenantInvitation.objects.get(pk=invitation.pk).status == status_before


def test_resend_issues_a_new_token_and_expiry(org, owner_member, invitee, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invite(org, owner_member, email="ivy@example.com")
    old_token = token_from_last_email()
    TenantInvitation.objects.filter(pk=invitation.pk).update(expires_at=now_ms() - 1, status="expired")

    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_resend(invitation=invitation, actor=owner_member)
    new_token = token_from_last_email()

    invitation.refresh_from_db()
    assert new_token != old_token
    assert invitation.status == "pending"
    assert invitation.expires_at > now_ms() + 6 * MS_PER_DAY
    assert len(mail.outbox) == 2
    refused("invitation_invalid", services.invitation_accept, token=old_token, user=invitee)
    services.invitation_accept(token=new_token, user=invitee)


def test_revoked_invitations_cannot_be_resent_or_revoked_again(org, owner_member, django_capture_on_commit_callbacks):
    invitation = invite(org, owner_member)
    services.invitation_revoke(invitation=invitation, actor=owner_member)

    with django_capture_on_commit_callbacks(execute=True):
        refused("invitation_not_pending", services.invitation_resend, invitation=invitation, actor=owner_member)
        refused("invitation_not_pending", services.invitation_revoke, invitation=invitation, actor=owner_member)
    assert len(mail.outbox) == 0
    assert TenantInvitation.objects.get(pk=invitation.pk).status == "revoked"


def test_expire_invitations_marks_due_ones_prints_and_is_idempotent(org, owner_member):
    due = invite(org, owner_member, email="due@example.com")
    fresh = invite(org, owner_member, email="fresh@example.com")
    accepted = invite(org, owner_member, email="acc@example.com")
    TenantInvitation.objects.filter(pk__in=[due.pk, accepted.pk]).update(expires_at=now_ms() - 1)
    TenantInvitation.objects.filter(pk=accepted.pk).update(status="accepted")

    first, second = StringIO(), StringIO()
    call_command("expire_invitations", stdout=first)
    call_command("expire_invitations", stdout=second)

    statuses = dict(TenantInvitation.objects.values_list("email", "status"))
    assert statuses == {"due@example.com": "expired", "fresh@example.com": "pending", "acc@example.com": "accepted"}
    assert f"expired invitation {due.pk} of acme" in first.getvalue()
    assert "Expired 1 pending invitation." in first.getvalue()
    assert "due@example.com" not in first.getvalue()
    assert "Expired 0 pending invitations." in second.getvalue()
    assert str(fresh.pk) not in first.getvalue()
