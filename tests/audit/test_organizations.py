"""The organizations services write their audit rows: who, what, before/after; a refused change none."""

import pytest
from django.core import mail
from django.core.management import call_command

from audit.models import ActorKind
from core.errors import ApplicationError
from core.time import now_ms
from organizations import services
from organizations.models import InvitationStatus, MemberRole, TenantInvitation
from tests import factories
from tests.audit.conftest import ADDRESS, events, join, membership, only_event, signed_in, token_from_last_email

pytestmark = pytest.mark.django_db


def test_creating_an_organization_is_recorded_as_its_owner(owner):
    with signed_in(owner):
        tenant = services.tenant_create(owner=owner, name="Beta Labs", slug="beta-labs")
    row = only_event(tenant_id=tenant.pk)
    assert (row.action, row.actor_kind, row.actor_user_id, row.ip_address) == (
        "tenant.created",
        ActorKind.USER,
        owner.pk,
        ADDRESS,
    )
    assert (row.target_type, row.target_id, row.target_label) == ("tenant", str(tenant.pk), "Beta Labs")
    assert row.after == {"name": "Beta Labs", "slug": "beta-labs", "is_default": False, "owner": str(owner.pk)}


def test_a_rename_and_slug_change_record_what_changed_only(org, owner, owner_member):
    with signed_in(owner):
        services.tenant_update(tenant=org, actor=owner_member, name="Acme Corp", slug="acme-corp", logo_url="")
    row = only_event(action="tenant.updated")
    assert row.before == {"name": "Acme", "slug": "acme"}
    assert row.after == {"name": "Acme Corp", "slug": "acme-corp"}
    assert row.actor_user_id == owner.pk


def test_a_refused_or_empty_update_writes_nothing(org, owner, owner_member, outsider):
    with signed_in(owner):
        with pytest.raises(ApplicationError):
            services.tenant_update(tenant=org, actor=owner_member, slug="mallory-inc")
        services.tenant_update(tenant=org, actor=owner_member, name="Acme")  # unchanged
    assert events(action="tenant.updated") == []


def test_deleting_is_recorded_and_a_wrong_confirmation_is_not(org, owner, owner_member):
    with signed_in(owner):
        with pytest.raises(ApplicationError):
            services.tenant_delete(tenant=org, actor=owner_member, confirm_name="Acne")
        assert events(action="tenant.deleted") == []
        services.tenant_delete(tenant=org, actor=owner_member, confirm_name="Acme")
    row = only_event(action="tenant.deleted")
    assert (row.tenant_id, row.target_id, row.before) == (org.pk, str(org.pk), {"slug": "acme"})


def test_a_role_change_records_before_and_after(org, owner, owner_member):
    ada = join(org, factories.UserFactory(username="ada"))
    with signed_in(owner):
        services.member_role_change(
            member=ada, actor=owner_member, role=MemberRole.CUSTOM, permissions=["manage_billing"]
        )
    row = only_event(action="member.role_changed")
    assert (row.target_type, row.target_id, row.target_label) == ("member", str(ada.user_id), "ada")
    assert row.before == {"role": "member", "permissions": []}
    assert row.after == {"role": "custom", "permissions": ["manage_billing"]}


def test_demoting_the_last_owner_is_refused_and_writes_nothing(org, owner, owner_member):
    with signed_in(owner), pytest.raises(ApplicationError):
        services.member_role_change(member=owner_member, actor=owner_member, role=MemberRole.MEMBER)
    assert events(action="member.role_changed") == []


def test_credit_limit_and_usage_reset(org, owner, owner_member):
    ada = join(org, factories.UserFactory(username="ada"), credit_limit=100, used_credits=40)
    with signed_in(owner):
        services.member_credit_limit_set(member=ada, actor=owner_member, credit_limit=250)
        services.member_credit_limit_set(member=ada, actor=owner_member, credit_limit=250)  # no change, no row
        services.member_usage_reset(member=ada, actor=owner_member)
        with pytest.raises(ApplicationError):
            services.member_credit_limit_set(member=ada, actor=owner_member, credit_limit=-5)
    limit = only_event(action="member.credit_limit_changed")
    assert (limit.before, limit.after, limit.target_label) == ({"credit_limit": 100}, {"credit_limit": 250}, "ada")
    reset = only_event(action="member.usage_reset")
    assert (reset.before, reset.after) == ({"used_credits": 40}, {"used_credits": 0})


def test_removing_a_member_records_it_and_each_key_revoked_with_it(org, owner, owner_member):
    ada = join(org, factories.UserFactory(username="ada"))
    key = factories.ApiKeyFactory(tenant=org, user=ada.user, name="CI")
    with signed_in(owner):
        services.member_remove(member=ada, actor=owner_member)
    removed = only_event(action="member.removed")
    assert (removed.target_id, removed.before, removed.actor_user_id) == (
        str(ada.user_id),
        {"role": "member", "permissions": []},
        owner.pk,
    )
    revoked = only_event(action="api_key.revoked")
    assert (revoked.target_id, revoked.target_label) == (str(key.pk), f"CI ({key.prefix}…)")
    assert revoked.after["reason"] == "membership_ended"


def test_leaving_is_recorded_and_the_last_owner_cannot_leave(org, owner, owner_member):
    ada = join(org, factories.UserFactory(username="ada"))
    with signed_in(owner), pytest.raises(ApplicationError):
        services.member_leave(member=owner_member)
    assert events(action="member.left") == []
    with signed_in(ada.user):
        services.member_leave(member=ada)
    row = only_event(action="member.left")
    assert (row.actor_user_id, row.target_id) == (ada.user_id, str(ada.user_id))


def test_an_ownership_transfer_is_one_row(org, owner, owner_member):
    ada = join(org, factories.UserFactory(username="ada"))
    with signed_in(owner):
        services.tenant_ownership_transfer(actor=owner_member, to_member=ada)
    row = only_event(action="member.ownership_transferred")
    assert (row.target_id, row.before, row.after) == (
        str(ada.user_id),
        {"role": "member", "owner": str(owner.pk)},
        {"role": "owner", "previous_owner_role": "member"},
    )


def test_an_invitation_from_sent_to_accepted(org, owner, owner_member, django_capture_on_commit_callbacks):
    with signed_in(owner), django_capture_on_commit_callbacks(execute=True):
        invitation = services.invitation_create(
            tenant=org, actor=owner_member, invited_by=owner, email="Ivy@Example.com", credit_limit=30
        )
        services.invitation_resend(invitation=invitation, actor=owner_member)
    created = only_event(action="invitation.created")
    assert (created.target_type, created.target_id, created.target_label) == (
        "invitation",
        str(invitation.pk),
        "ivy@example.com",
    )
    assert created.before is None
    assert created.after["credit_limit"] == 30 and created.after["role"] == "member"
    assert only_event(action="invitation.resent").after["expires_at"] > now_ms()

    ivy = factories.UserFactory(username="ivy", email="ivy@example.com")
    with signed_in(ivy, path="/invitations/accept/x/"):
        member = services.invitation_accept(token=token_from_last_email(), user=ivy)
    accepted = only_event(action="invitation.accepted")
    assert (accepted.tenant_id, accepted.actor_user_id, accepted.target_id) == (org.pk, ivy.pk, str(member.user_id))
    assert accepted.after["invitation"] == str(invitation.pk) and accepted.after["credit_limit"] == 30


def test_a_reinvitation_records_the_terms_it_replaced(org, owner, owner_member):
    with signed_in(owner):
        services.invitation_create(tenant=org, actor=owner_member, invited_by=owner, email="ivy@example.com")
        services.invitation_create(
            tenant=org, actor=owner_member, invited_by=owner, email="ivy@example.com", role=MemberRole.OWNER
        )
    again = events(action="invitation.created")[1]
    assert again.before["role"] == "member" and again.after["role"] == "owner"


def test_a_refused_accept_or_revoke_writes_nothing(org, owner, owner_member, django_capture_on_commit_callbacks):
    with signed_in(owner), django_capture_on_commit_callbacks(execute=True):
        invitation = services.invitation_create(
            tenant=org, actor=owner_member, invited_by=owner, email="ivy@example.com"
        )
    token = token_from_last_email()
    stranger = factories.UserFactory(username="stranger", email="stranger@example.com")
    with signed_in(stranger), pytest.raises(ApplicationError):
        services.invitation_accept(token=token, user=stranger)
    with signed_in(owner):
        services.invitation_revoke(invitation=invitation, actor=owner_member)
        with pytest.raises(ApplicationError):
            services.invitation_revoke(invitation=invitation, actor=owner_member)
    assert events(action="invitation.accepted") == []
    revoked = only_event(action="invitation.revoked")
    assert (revoked.before, revoked.after) == ({"status": "pending"}, {"status": "revoked"})


def test_the_expiry_command_is_the_actor_of_what_it_expires(org):
    due = factories.TenantInvitationFactory(tenant=org, email="late@example.com", expires_at=now_ms() - 1)
    factories.TenantInvitationFactory(tenant=org, email="fresh@example.com", expires_at=now_ms() + 60_000)
    call_command("expire_invitations", stdout=open("/dev/null", "w"))  # noqa: SIM115
    row = only_event(action="invitation.expired")
    assert (row.actor_kind, row.actor_label, row.actor_user_id) == (ActorKind.SYSTEM, "expire_invitations", None)
    assert (row.target_id, row.target_label) == (str(due.pk), "late@example.com")
    assert TenantInvitation.objects.get(pk=due.pk).status == InvitationStatus.EXPIRED


def test_through_the_pages_the_signed_in_owner_is_the_actor(client, org, owner):
    client.force_login(owner)
    response = client.post("/o/acme/settings/", {"name": "Acme Two", "slug": "acme", "logo_url": ""})
    assert response.status_code in (200, 302)
    row = only_event(action="tenant.updated")
    assert (row.actor_kind, row.actor_user_id, row.ip_address, row.after) == (
        ActorKind.USER,
        owner.pk,
        "127.0.0.1",
        {"name": "Acme Two"},
    )


def test_staff_in_the_admin_are_recorded_as_staff(client, org, owner_member):
    staff = factories.UserFactory(role="owner", username="keelstaff")
    client.force_login(staff)
    invitation = factories.TenantInvitationFactory(tenant=org, email="ivy@example.com")
    client.post(
        "/admin/organizations/tenantinvitation/", {"action": "revoke_invitations", "_selected_action": [invitation.pk]}
    )
    row = only_event(action="invitation.revoked")
    assert (row.actor_kind, row.actor_user_id) == (ActorKind.STAFF, staff.pk)
    assert mail.outbox == []


def test_an_account_deletion_hands_over_and_leaves(org, owner):
    ada = join(org, factories.UserFactory(username="ada"))
    with signed_in(owner):
        services.tenants_account_delete(user=owner)
    handed = only_event(action="member.ownership_transferred")
    assert (handed.target_id, handed.after["reason"]) == (str(ada.user_id), "account_deleted")
    assert only_event(action="member.left", tenant_id=org.pk).target_id == str(owner.pk)
    assert membership(org, ada.user).role == MemberRole.OWNER
