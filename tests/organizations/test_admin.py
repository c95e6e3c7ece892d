"""Staff resend and revoke invitations from the admin, through the same services as the pages."""

import pytest
from django.core import mail

from organizations.models import InvitationStatus, TenantInvitation
from tests import factories

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/organizations/tenantinvitation/"


@pytest.fixture
def staff(client):
    client.force_login(factories.UserFactory(role="owner"))
    return client


def test_resend_gives_a_new_link_and_mails_it(staff, org, django_capture_on_commit_callbacks):
    invitation = factories.TenantInvitationFactory(tenant=org, email="ivy@example.com", status="expired")
    old_hash = invitation.token

    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(CHANGELIST, {"action": "resend_invitations", "_selected_action": [invitation.pk]})

    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING
    assert invitation.token != old_hash
    assert mail.outbox[-1].to == ["ivy@example.com"]
    assert "Olivia Owner invited you" in mail.outbox[-1].body  # the original inviter, not the staff member


def test_revoke_changes_pending_ones_and_reports_the_others(staff, org):
    pending = factories.TenantInvitationFactory(tenant=org)
    accepted = factories.TenantInvitationFactory(tenant=org, status="accepted")

    response = staff.post(
        CHANGELIST, {"action": "revoke_invitations", "_selected_action": [pending.pk, accepted.pk]}, follow=True
    )

    assert TenantInvitation.objects.get(pk=pending.pk).status == InvitationStatus.REVOKED
    assert TenantInvitation.objects.get(pk=accepted.pk).status == InvitationStatus.ACCEPTED
    page = response.content.decode()
    assert "Revoked 1 invitation(s)." in page
    assert "Only a pending invitation can be revoked." in page


def test_the_token_hash_is_not_shown(staff, org):
    invitation = factories.TenantInvitationFactory(tenant=org)

    page = staff.get(f"{CHANGELIST}{invitation.pk}/change/").content.decode()

    assert invitation.token not in page


def test_staff_cannot_bypass_the_last_owner_rule_by_editing_a_membership(client):
    from django.urls import reverse

    client.force_login(factories.UserFactory(role="owner"))
    tenant = factories.TenantFactory()
    owner = factories.TenantMemberFactory(tenant=tenant, user=tenant.owner, role="owner")

    url = reverse("admin:organizations_tenantmember_change", args=[owner.pk])
    page = client.get(url).content.decode()
    client.post(url, {"role": "member", "user": owner.user_id, "tenant": tenant.pk})

    owner.refresh_from_db()
    assert 'name="role"' not in page
    assert owner.role == "owner"
