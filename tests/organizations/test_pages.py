"""The organization pages, through real requests: what a signed-in user sees and can do."""

import re

import pytest
from django.core import mail
from django.test import Client

from core.time import now_ms
from organizations.models import InvitationStatus, Tenant, TenantInvitation, TenantMember, TenantMemberCreditLimit
from organizations.tenancy import SESSION_KEY
from tests import factories
from tests.organizations.conftest import join, membership, token_from_last_email

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_owner(client, owner, org):
    client.force_login(owner)
    return client


def text(response) -> str:
    return response.content.decode()


# --- organizations ----------------------------------------------------------------------


def test_list_shows_only_my_organizations(as_owner, outsider):
    page = text(as_owner.get("/orgs/"))

    assert "Acme" in page
    assert "Mallory Inc" not in page


def test_create_with_generated_slug_makes_it_current(as_owner, owner):
    response = as_owner.post("/orgs/new/", {"name": "Rocket Science", "slug": "", "logo_url": ""})

    tenant = Tenant.objects.get(name="Rocket Science")
    assert response.status_code == 302
    assert response["Location"] == "/o/rocket-science/"
    assert membership(tenant, owner).role == "owner"
    assert as_owner.session[SESSION_KEY] == str(tenant.pk)
    # The current organization is shown on every page, here its dashboard, where `/` leads.
    home = text(as_owner.get("/", follow=True))
    selected = r'<option value="rocket-science[^"]*" title="Rocket Science" selected>Rocket Science</option>'
    assert re.search(selected, home)


@pytest.mark.parametrize(
    ("slug", "message"),
    [("acme", "already taken"), ("admin", "is reserved"), ("Bad Slug!", "lowercase letters")],
)
def test_create_refuses_bad_slugs_with_a_field_message(as_owner, slug, message):
    before = Tenant.objects.count()

    response = as_owner.post("/orgs/new/", {"name": "Copycat", "slug": slug})

    assert response.status_code == 200
    assert message in text(response)
    assert 'class="errorlist' in text(response)
    assert Tenant.objects.count() == before


def test_switch_changes_the_current_organization(as_owner, owner):
    other = factories.TenantFactory(name="Second Org", slug="second")
    join(other, owner)

    response = as_owner.post("/orgs/switch/", {"slug": "second", "next": "/"})

    assert response.status_code == 302 and response["Location"] == "/"
    assert as_owner.session[SESSION_KEY] == str(other.pk)
    dashboard = text(as_owner.get("/", follow=True))
    assert '<option value="second" title="Second Org" selected>Second Org</option>' in dashboard


def test_switching_to_a_foreign_organization_changes_nothing(as_owner, org, outsider):
    as_owner.get("/o/acme/")

    response = as_owner.post("/orgs/switch/", {"slug": "mallory-inc"})

    assert response.status_code == 302
    assert as_owner.session[SESSION_KEY] == str(org.pk)


def test_visiting_an_organization_makes_it_current(as_owner, owner, org):
    other = factories.TenantFactory(name="Second Org", slug="second")
    join(other, owner)

    as_owner.get("/o/second/members/")
    assert as_owner.session[SESSION_KEY] == str(other.pk)
    as_owner.get("/o/acme/")
    assert as_owner.session[SESSION_KEY] == str(org.pk)


def test_pages_need_sign_in(client, org):
    response = client.get("/o/acme/members/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/o/acme/members/")


def test_rename_and_new_slug_and_old_links_redirect(as_owner, org):
    response = as_owner.post("/o/acme/settings/", {"name": "Acme Corp", "slug": "acme-corp", "logo_url": ""})

    assert response.status_code == 302 and response["Location"] == "/o/acme-corp/settings/"
    old_link = as_owner.get("/o/acme/members/?page=2")
    assert old_link.status_code == 302
    assert old_link["Location"] == "/o/acme-corp/members/?page=2"
    assert as_owner.get(old_link["Location"]).status_code == 200


def test_an_old_slug_still_answers_404_to_outsiders(client, as_owner, outsider):
    as_owner.post("/o/acme/settings/", {"name": "Acme", "slug": "acme-corp", "logo_url": ""})
    client.force_login(outsider)

    assert client.get("/o/acme/").status_code == 404
    assert client.get("/o/acme-corp/").status_code == 404


def test_settings_refuse_a_taken_slug_with_a_message(as_owner, org, outsider):
    response = as_owner.post("/o/acme/settings/", {"name": "Acme", "slug": "mallory-inc", "logo_url": ""})

    assert response.status_code == 400
    assert "already taken" in text(response)
    org.refresh_from_db()
    assert org.slug == "acme"


def test_only_owners_see_settings(client, org):
    plain = join(org)
    client.force_login(plain.user)

    response = client.get("/o/acme/settings/")

    assert response.status_code == 403
    assert "Only an owner" in text(response)


def test_delete_needs_the_exact_name(as_owner, org):
    wrong = as_owner.post("/o/acme/delete/", {"confirm_name": "acme"})

    assert wrong.status_code == 400
    assert "exactly" in text(wrong)
    org.refresh_from_db()
    assert org.deleted_at is None

    right = as_owner.post("/o/acme/delete/", {"confirm_name": "Acme"})

    assert right.status_code == 302 and right["Location"] == "/orgs/"
    org.refresh_from_db()
    assert org.deleted_at is not None
    assert as_owner.get("/o/acme/").status_code == 404
    assert 'href="/o/acme/"' not in text(as_owner.get("/orgs/"))


def test_a_member_cannot_delete(client, org):
    plain = join(org)
    client.force_login(plain.user)

    assert client.post("/o/acme/delete/", {"confirm_name": "Acme"}).status_code == 403
    org.refresh_from_db()
    assert org.deleted_at is None


def test_transfer_ownership_from_settings(as_owner, org, owner_member):
    heir = join(org, factories.UserFactory(first_name="Hal", last_name="Heir"))

    response = as_owner.post("/o/acme/transfer/", {"member": str(heir.pk)})

    assert response.status_code == 302
    assert TenantMember.objects.get(pk=heir.pk).role == "owner"
    assert TenantMember.objects.get(pk=owner_member.pk).role == "member"


def test_leave(client, org):
    plain = join(org)
    client.force_login(plain.user)

    response = client.post("/o/acme/leave/")

    assert response.status_code == 302 and response["Location"] == "/orgs/"
    assert not TenantMember.objects.filter(pk=plain.pk).exists()


def test_the_last_owner_is_told_they_cannot_leave(as_owner, owner_member):
    response = as_owner.post("/o/acme/leave/", follow=True)

    assert "at least one owner" in text(response)
    assert TenantMember.objects.filter(pk=owner_member.pk).exists()


# --- members --------------------------------------------------------------------------------


def test_members_page_shows_role_limit_and_usage(as_owner, org):
    join(org, factories.UserFactory(first_name="Lim", last_name="Ited"), credit_limit=30, used_credits=12)

    page = text(as_owner.get("/o/acme/members/"))

    assert "Lim Ited" in page and "Olivia Owner" in page
    assert '<td class="num">30</td>' in page and '<td class="num">12</td>' in page
    assert "unlimited" in page


def test_a_plain_member_sees_their_own_usage_only(client, org):
    plain = join(org, credit_limit=5, used_credits=2)
    join(org, credit_limit=777, used_credits=555)
    client.force_login(plain.user)

    page = text(client.get("/o/acme/members/"))

    assert '<td class="num">5</td>' in page and '<td class="num">2</td>' in page
    assert '<td class="num">777</td>' not in page and '<td class="num">555</td>' not in page


def test_owner_changes_role_and_limit_and_resets_usage(as_owner, org):
    target = join(org, used_credits=9)
    url = f"/o/acme/members/{target.pk}/"

    assert (
        as_owner.post(url, {"action": "role", "role": "custom", "permissions": ["view_all_usage"]}).status_code == 302
    )
    assert as_owner.post(url, {"action": "limit", "credit_limit": "100"}).status_code == 302
    assert as_owner.post(f"{url}reset-usage/").status_code == 302

    target.refresh_from_db()
    limit = TenantMemberCreditLimit.objects.get(tenant=org, user=target.user)
    assert (target.role, target.permissions) == ("custom", ["view_all_usage"])
    assert (limit.credit_limit, limit.used_credits) == (100, 0)


def test_a_member_changing_roles_is_refused(client, org, owner_member):
    plain = join(org)
    client.force_login(plain.user)

    own = client.post(f"/o/acme/members/{plain.pk}/", {"action": "role", "role": "owner"})
    other = client.post(f"/o/acme/members/{owner_member.pk}/", {"action": "role", "role": "member"})

    assert own.status_code == 403 and other.status_code == 403
    assert TenantMember.objects.get(pk=plain.pk).role == "member"
    assert TenantMember.objects.get(pk=owner_member.pk).role == "owner"


def test_demoting_the_last_owner_shows_a_message(as_owner, owner_member):
    response = as_owner.post(f"/o/acme/members/{owner_member.pk}/", {"action": "role", "role": "member"})

    assert response.status_code == 400
    assert "at least one owner" in text(response)
    assert TenantMember.objects.get(pk=owner_member.pk).role == "owner"


def test_a_bad_credit_limit_shows_a_field_message(as_owner, org):
    target = join(org, credit_limit=3)

    response = as_owner.post(f"/o/acme/members/{target.pk}/", {"action": "limit", "credit_limit": "-7"})

    assert response.status_code == 400
    assert 'class="errorlist' in text(response)
    assert TenantMemberCreditLimit.objects.get(tenant=org, user=target.user).credit_limit == 3


def test_remove_a_member(as_owner, org):
    target = join(org)

    response = as_owner.post(f"/o/acme/members/{target.pk}/remove/")

    assert response.status_code == 302
    assert not TenantMember.objects.filter(pk=target.pk).exists()


# --- invitations ------------------------------------------------------------------------------


def test_invite_from_the_page_sends_the_email(as_owner, org, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_owner.post(
            "/o/acme/invitations/",
            {"email": "new@example.com", "role": "member", "credit_limit": "20"},
        )

    assert response.status_code == 302
    assert mail.outbox[-1].to == ["new@example.com"]
    assert "/invitations/accept/" in mail.outbox[-1].body
    page = text(as_owner.get("/o/acme/invitations/"))
    assert "new@example.com" in page and '<td class="num">20</td>' in page


def test_inviting_a_member_shows_a_message_and_sends_nothing(as_owner, org, django_capture_on_commit_callbacks):
    join(org, factories.UserFactory(email="here@example.com"))

    with django_capture_on_commit_callbacks(execute=True):
        response = as_owner.post(
            "/o/acme/invitations/", {"email": "here@example.com", "role": "member", "credit_limit": "-1"}
        )

    assert response.status_code == 400
    assert "already a member" in text(response)
    assert not mail.outbox
    assert not TenantInvitation.objects.exists()


def test_resend_and_revoke_from_the_page(as_owner, org, owner_member, django_capture_on_commit_callbacks):
    invitation = factories.TenantInvitationFactory(tenant=org, email="x@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        as_owner.post(f"/o/acme/invitations/{invitation.pk}/resend/")
    assert mail.outbox[-1].to == ["x@example.com"]
    as_owner.post(f"/o/acme/invitations/{invitation.pk}/revoke/")

    assert TenantInvitation.objects.get(pk=invitation.pk).status == InvitationStatus.REVOKED
    as_owner.get("/orgs/")  # shows (and so clears) the flash messages that name the address
    assert "x@example.com" not in text(as_owner.get("/o/acme/invitations/"))


def test_a_plain_member_cannot_see_invitations(client, org):
    plain = join(org)
    client.force_login(plain.user)

    assert client.get("/o/acme/invitations/").status_code == 403


# --- accepting ----------------------------------------------------------------------------


@pytest.fixture
def invitation_link(as_owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        as_owner.post("/o/acme/invitations/", {"email": "ivy@example.com", "role": "member", "credit_limit": "15"})
    as_owner.logout()
    return f"/invitations/accept/{token_from_last_email()}/"


def test_accept_signed_in_with_the_verified_email(client, org, invitation_link):
    ivy = factories.UserFactory(email="ivy@example.com")
    client.force_login(ivy)

    assert "Accept and join" in text(client.get(invitation_link))
    response = client.post(invitation_link)

    assert response.status_code == 302 and response["Location"] == "/o/acme/"
    assert membership(org, ivy).role == "member"
    assert TenantMemberCreditLimit.objects.get(tenant=org, user=ivy).credit_limit == 15
    assert client.session[SESSION_KEY] == str(org.pk)
    again = client.get(invitation_link)
    assert again.status_code == 200 and "already been accepted" in text(again)


def test_anonymous_visitors_are_sent_to_sign_in_or_up_and_back(client, invitation_link):
    page = text(client.get(invitation_link))

    assert f"/accounts/login/?next={invitation_link.replace('/', '%2F')}" in page
    assert f"?next={invitation_link.replace('/', '%2F')}" in page.split("Create an account")[0].rsplit("href=", 1)[1]
    # Masked on the page and in its links; the sign-up and sign-in pages they lead to look it up
    # by the token to pre-fill it (tests/organizations/test_invitation_signup.py).
    assert "ivy@example.com" not in page and "ivy%40example.com" not in page
    assert "i••@example.com" in page


def test_unverified_and_foreign_accounts_get_explanations_and_nothing_happens(client, org, invitation_link):
    unverified = factories.UserFactory(email="ivy@example.com", email__verified=False)
    client.force_login(unverified)
    assert "not verified yet" in text(client.post(invitation_link))

    stranger = factories.UserFactory(email="stranger@example.com")
    client.force_login(stranger)
    response = client.post(invitation_link)
    assert response.status_code == 200
    assert "not an address of the account" in text(response)

    assert not TenantMember.objects.filter(tenant=org, user__in=[unverified, stranger]).exists()
    assert TenantInvitation.objects.get(tenant=org).status == InvitationStatus.PENDING


@pytest.mark.parametrize(
    ("change", "message", "status"),
    [
        ({"status": "revoked"}, "was withdrawn", 200),
        ({"status": "expired"}, "has expired", 200),
        ({"expires_at": 1}, "has expired", 200),
        ({"token": "0" * 64}, "not valid", 404),
    ],
)
def test_dead_links_get_a_clear_page(client, org, invitation_link, change, message, status):
    TenantInvitation.objects.filter(tenant=org).update(**change)
    client.force_login(factories.UserFactory(email="ivy@example.com"))

    response = client.post(invitation_link)

    assert response.status_code == status
    assert message in text(response)
    assert TenantMember.objects.filter(tenant=org).count() == 1


def test_forms_carry_csrf_tokens_and_refuse_without(owner, org):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner)

    assert "csrfmiddlewaretoken" in text(strict.get("/o/acme/invitations/"))
    assert strict.post("/o/acme/settings/", {"name": "No CSRF", "slug": "acme"}).status_code == 403
    org.refresh_from_db()
    assert org.name == "Acme"


def test_expired_invitations_leave_the_pending_list(as_owner, org):
    factories.TenantInvitationFactory(tenant=org, email="late@example.com", expires_at=now_ms() - 1, status="expired")

    assert "late@example.com" not in text(as_owner.get("/o/acme/invitations/"))
