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


def test_staff_cannot_bypass_the_services_by_editing_an_organization(client):
    """Name, slug and logo go through `tenant_update` (the "Edit name, slug, logo" form); deletion,
    ownership and overdraft through their services: the change form edits nothing."""
    from django.urls import reverse

    client.force_login(factories.UserFactory(role="owner"))
    tenant = factories.TenantFactory(slug="acme", name="Acme")
    intruder = factories.UserFactory()

    response = client.post(
        reverse("admin:organizations_tenant_change", args=[tenant.pk]),
        {
            "name": "Acme Two",
            "logo_url": "",
            "slug": "admin",
            "owner": intruder.pk,
            "deleted_at": 1,
            "overdraft_enabled": "on",
            "overdraft_limit": 10**6,
            "members-TOTAL_FORMS": 0,
            "members-INITIAL_FORMS": 0,
            "invitations-TOTAL_FORMS": 0,
            "invitations-INITIAL_FORMS": 0,
        },
    )

    assert response.status_code == 403
    tenant.refresh_from_db()
    assert (tenant.name, tenant.slug, tenant.deleted_at) == ("Acme", "acme", None)
    assert tenant.owner_id != intruder.pk
    assert (tenant.overdraft_enabled, tenant.overdraft_limit) == (False, 0)


def test_staff_cannot_edit_invitations_or_member_limits_by_hand(staff, org):
    from django.urls import reverse

    invitation = factories.TenantInvitationFactory(tenant=org, status="revoked", credit_limit=5)
    limit = factories.TenantMemberCreditLimitFactory(tenant=org, credit_limit=5, used_credits=3)

    staff.post(
        reverse("admin:organizations_tenantinvitation_change", args=[invitation.pk]),
        {"email": "x@example.com", "status": "pending", "role": "owner", "credit_limit": -1, "expires_at": 1},
    )
    staff.post(
        reverse("admin:organizations_tenantmembercreditlimit_change", args=[limit.pk]),
        {"credit_limit": -1, "used_credits": 0},
    )

    invitation.refresh_from_db()
    limit.refresh_from_db()
    assert (invitation.status, invitation.role, invitation.credit_limit) == ("revoked", "member", 5)
    assert (limit.credit_limit, limit.used_credits) == (5, 3)
    assert staff.get(reverse("admin:organizations_tenant_add")).status_code == 403
    assert staff.get(reverse("admin:organizations_tenantinvitation_add")).status_code == 403


def test_the_organizations_page_names_its_members_not_their_ids(staff, org):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.organizations.conftest import join

    members = [join(org, factories.UserFactory(username=f"member{n}")) for n in range(3)]
    factories.TenantInvitationFactory(tenant=org, email="ivy@example.com")
    url = f"/admin/organizations/tenant/{org.pk}/change/"

    page = staff.get(url).content.decode()
    with CaptureQueriesContext(connection) as few:
        staff.get(url)
    for _ in range(20):
        join(org)
    with CaptureQueriesContext(connection) as many:
        staff.get(url)

    assert "member0 in Acme (Member)" in page and "olivia in Acme (Owner)" in page
    assert "ivy@example.com → Acme (Pending)" in page
    assert f"{members[0].user_id} in {org.pk}" not in page
    assert len(many) == len(few)  # no query per member
