"""Invitation links through sign-up and sign-in: the invited address pre-filled from the link's
token (never carried in a URL), and one step for a newcomer who signs up with it."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail

from accounts.models import User, UserEmail
from organizations import services
from organizations.models import InvitationStatus, TenantInvitation, TenantMember, TenantMemberCreditLimit
from organizations.tenancy import SESSION_KEY
from tests import factories
from tests.organizations.conftest import membership, token_from_last_email

pytestmark = pytest.mark.django_db

PASSWORD = "a long enough password 42"


def text(response) -> str:
    return response.content.decode()


def href(page: str, label: str) -> str:
    """The href of the page's link (or button) whose text is `label` (the nav's left out), unescaped."""
    found = re.search(r'href="([^"]+)"[^>]*>\s*' + re.escape(label), page[page.index("<main") :])
    assert found, label
    return found.group(1).replace("&amp;", "&")


def input_value(page: str, name: str) -> str | None:
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', page)
    assert tag, name
    value = re.search(r'value="([^"]*)"', tag.group(0))
    return value.group(1) if value else None


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Each request's on-commit work (mail) run as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def invitation_link(client, owner, org, run_on_commit):
    client.force_login(owner)
    with run_on_commit():
        client.post("/o/acme/invitations/", {"email": "ivy@example.com", "role": "member", "credit_limit": "15"})
    client.logout()
    return f"/invitations/accept/{token_from_last_email()}/"


def token_of(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[1]


def test_the_links_carry_the_token_back_and_never_the_address(client, invitation_link):
    page = text(client.get(invitation_link))

    for label in ("Create an account", "Sign in"):
        query = parse_qs(urlsplit(href(page, label)).query)
        assert query == {"next": [invitation_link], "invitation": [token_of(invitation_link)]}
    assert "ivy@example.com" not in page and "ivy%40example.com" not in page  # masked here
    assert "i••@example.com" in page
    assert "as a member, with a limit of 15 credits" in page


def test_the_sign_up_page_from_the_link_prefills_the_invited_address(client, invitation_link):
    signup = href(text(client.get(invitation_link)), "Create an account")

    page = text(client.get(signup))

    assert input_value(page, "email") == "ivy@example.com"
    assert input_value(page, "invitation") == token_of(invitation_link)
    assert "Olivia Owner invited you to join <strong>Acme</strong> as a member, with a limit of 15 credits." in page
    assert "@" not in signup and "%40" not in signup  # the address came from the token, not the URL


def test_signing_up_with_the_invited_address_verifies_it_and_joins_at_once(client, org, invitation_link, run_on_commit):
    """Given the invitation's sign-up page, when the newcomer keeps the pre-filled address,
    then the link's token counts as proof of it: no verification mail, and they are in."""
    page = text(client.get(href(text(client.get(invitation_link)), "Create an account")))
    sent_before = len(mail.outbox)

    with run_on_commit():
        response = client.post(
            "/accounts/signup/",
            {
                "username": "ivy",
                "email": input_value(page, "email"),
                "password": PASSWORD,
                "next": input_value(page, "next"),
                "invitation": input_value(page, "invitation"),
            },
        )

    assert response.status_code == 302 and response["Location"] == "/o/acme/"
    ivy = User.objects.get(username="ivy")
    assert UserEmail.objects.get(user=ivy).verified
    assert len(mail.outbox) == sent_before  # nothing to verify by mail
    assert membership(org, ivy).role == "member"
    assert TenantMemberCreditLimit.objects.get(tenant=org, user=ivy).credit_limit == 15
    assert TenantInvitation.objects.get(tenant=org).status == InvitationStatus.ACCEPTED
    landed = text(client.get("/o/acme/"))
    assert "Welcome to “Acme”." in landed and "is verified by your invitation" in landed
    assert client.session[SESSION_KEY] == str(org.pk)
    assert "already been accepted" in text(client.get(invitation_link))


def test_signing_up_from_the_link_with_another_address_verifies_that_one_by_mail(
    client, org, invitation_link, run_on_commit
):
    signup = href(text(client.get(invitation_link)), "Create an account")

    with run_on_commit():
        response = client.post(signup, {"username": "ivy", "email": "ivy.home@example.com", "password": PASSWORD})

    assert response.status_code == 302 and response["Location"] == invitation_link
    assert not UserEmail.objects.get(user__username="ivy").verified
    assert mail.outbox[-1].to == ["ivy.home@example.com"]
    assert invitation_link.replace("/", "%2F") in mail.outbox[-1].body  # the link comes back here
    assert "not an address of the account" in text(client.get(invitation_link))
    assert not TenantMember.objects.filter(tenant=org, user__username="ivy").exists()
    assert TenantInvitation.objects.get(tenant=org).status == InvitationStatus.PENDING


@pytest.mark.parametrize("token", ["", "not-the-token"])
def test_the_invited_address_without_the_links_token_proves_nothing(client, org, invitation_link, token):
    query = f"?next={invitation_link}" + (f"&invitation={token}" if token else "")

    page = text(client.get(f"/accounts/signup/{query}"))
    assert input_value(page, "email") is None and "invited you" not in page
    response = client.post(
        f"/accounts/signup/{query}", {"username": "ivy", "email": "ivy@example.com", "password": PASSWORD}
    )

    assert response["Location"] == invitation_link
    assert not UserEmail.objects.get(user__username="ivy").verified
    assert "not verified yet" in text(client.get(invitation_link))
    assert not TenantMember.objects.filter(tenant=org, user__username="ivy").exists()


@pytest.mark.parametrize(
    ("change", "message"), [({"status": "revoked"}, "was withdrawn"), ({"expires_at": 1}, "has expired")]
)
def test_a_link_that_died_before_the_sign_up_verifies_nothing(client, org, invitation_link, change, message):
    page = text(client.get(href(text(client.get(invitation_link)), "Create an account")))
    TenantInvitation.objects.filter(tenant=org).update(**change)

    response = client.post(
        "/accounts/signup/",
        {
            "username": "ivy",
            "email": "ivy@example.com",
            "password": PASSWORD,
            "invitation": input_value(page, "invitation"),
            "next": invitation_link,
        },
    )

    assert response["Location"] == invitation_link
    assert not UserEmail.objects.get(user__username="ivy").verified
    assert message in text(client.get(invitation_link))
    assert not TenantMember.objects.filter(tenant=org, user__username="ivy").exists()


def revoke_then_accept(*, token, user):
    """An acceptance that loses a race with a revocation (for the test below)."""
    TenantInvitation.objects.update(status=InvitationStatus.REVOKED)
    return services.invitation_accept_after_signup(token=token, user=user)


def test_an_invitation_revoked_while_signing_up_leaves_the_account_and_explains(client, org, invitation_link, settings):
    settings.KEEL_INVITATION_ACCEPT_HOOK = "tests.organizations.test_invitation_signup.revoke_then_accept"
    signup = href(text(client.get(invitation_link)), "Create an account")

    response = client.post(signup, {"username": "ivy", "email": "ivy@example.com", "password": PASSWORD})

    assert response["Location"] == invitation_link
    assert User.objects.filter(username="ivy").exists()
    assert "was withdrawn" in text(client.get(invitation_link))
    assert not TenantMember.objects.filter(tenant=org, user__username="ivy").exists()


def test_an_address_another_account_verified_is_still_refused(client, invitation_link):
    factories.UserFactory(username="ivy-old", email="ivy@example.com")
    signup = href(text(client.get(invitation_link)), "Create an account")

    response = client.post(signup, {"username": "ivy", "email": "ivy@example.com", "password": PASSWORD})

    assert response.status_code == 200
    assert "already in use by another account" in str(response.context["form"].errors["email"])
    assert not User.objects.filter(username="ivy").exists()


def test_the_sign_in_page_from_the_link_prefills_the_address_and_comes_back(client, org, invitation_link):
    ivy = factories.UserFactory(username="ivy", email="ivy@example.com")
    login = href(text(client.get(invitation_link)), "Sign in")

    page = text(client.get(login))
    assert input_value(page, "username") == "ivy@example.com"
    assert "to join <strong>Acme</strong>" in page
    assert href(page, "Create an account").startswith("/accounts/signup/?next=")

    response = client.post(
        "/accounts/login/",
        {"username": "ivy@example.com", "password": factories.DEFAULT_PASSWORD, "next": input_value(page, "next")},
    )
    assert response["Location"] == invitation_link
    # Signing in accepts nothing by itself: the page offers one button.
    assert "Accept and join" in text(client.get(invitation_link))
    assert not TenantMember.objects.filter(tenant=org, user=ivy).exists()


def test_a_foreign_account_can_sign_out_from_the_page_and_come_back(client, invitation_link):
    client.force_login(factories.UserFactory(email="stranger@example.com"))
    page = text(client.get(invitation_link))
    assert 'action="/accounts/logout/"' in page

    response = client.post("/accounts/logout/", {"next": invitation_link})

    assert response["Location"] == invitation_link
    assert "Create an account" in text(client.get(invitation_link))
