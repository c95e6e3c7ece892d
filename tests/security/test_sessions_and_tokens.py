"""Session fixation and one-time links.

Sessions: whatever session a visitor had before signing in (one an attacker may have planted),
signing in by password, by Google (through the local OpenID stand-in) or by signing up from an
invitation gives a new session key, and the old key is dead; signing out flushes the session.

Links: a password reset link, an email verification link and an invitation link each do their
work once; a second use, an expired link, or a link for another account does nothing.
tests/accounts/test_views_signup.py (reset used twice, expired, tampered) and
tests/organizations/test_services_invitations.py (every refusal of the service) cover the rest.
"""

import re

import pytest
import requests
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.core import mail
from django.test import Client

from accounts.models import UserEmail
from accounts.tokens import password_reset_token_make, verification_token_make
from organizations import services
from organizations.models import InvitationStatus, MemberRole, TenantInvitation, TenantMember
from tests import factories
from tests.accounts.conftest import google, oidc_provider, path_of  # noqa: F401  (fixtures)
from tests.organizations.conftest import membership

pytestmark = pytest.mark.django_db

PASSWORD = "violet-anchor-meadow-42"


def planted_session(client: Client) -> str:
    """A session the visitor holds before signing in (fixation: an attacker's, set in their browser)."""
    session = SessionStore()
    session["planted"] = "by someone else"
    session.create()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    return session.session_key


def assert_rotated(client: Client, old_key: str, username: str):
    new_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert new_key and new_key != old_key
    assert not SessionStore().exists(old_key), "the pre-sign-in session still works"
    assert client.get("/api/v1/me/").json()["username"] == username


@pytest.fixture
def ada(db):
    return factories.UserFactory(username="ada", email="ada@example.com")


def test_password_sign_in_rotates_the_session(ada):
    client = Client()
    old = planted_session(client)

    response = client.post("/accounts/login/", {"username": "ada", "password": factories.DEFAULT_PASSWORD})

    assert response.status_code == 302
    assert_rotated(client, old, "ada")


def test_google_sign_in_rotates_the_session(google):  # noqa: F811
    client = Client()
    old = planted_session(client)
    google.claims = {"email": "grace@gmail.com", "email_verified": True, "given_name": "Grace"}
    to_provider = client.get("/accounts/google/login/")
    back = requests.get(to_provider["Location"], allow_redirects=False, timeout=5)

    response = client.get(path_of(back.headers["Location"]))

    assert response.status_code == 302
    assert_rotated(client, old, UserEmail.objects.get(email="grace@gmail.com").user.username)


def test_signing_up_from_an_invitation_rotates_the_session(django_capture_on_commit_callbacks):
    owner = factories.UserFactory(username="olivia")
    org = services.tenant_create(owner=owner, name="Acme")
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(tenant=org, actor=membership(org, owner), invited_by=owner, email="ivy@example.com")
    token = re.search(r"/invitations/accept/([^/\s]+)/", mail.outbox[-1].body).group(1)
    client = Client()
    old = planted_session(client)

    response = client.post(
        f"/accounts/signup/?invitation={token}",
        {"username": "ivy", "email": "ivy@example.com", "password": PASSWORD, "invitation": token},
    )

    assert response["Location"] == f"/o/{org.slug}/"  # joined in the same step
    assert_rotated(client, old, "ivy")
    assert TenantMember.objects.filter(tenant=org, user__username="ivy").exists()


def test_sign_out_flushes_the_session(ada):
    client = Client()
    client.post("/accounts/login/", {"username": "ada", "password": factories.DEFAULT_PASSWORD})
    signed_in_key = client.cookies[settings.SESSION_COOKIE_NAME].value

    client.post("/accounts/logout/")

    assert not SessionStore().exists(signed_in_key)
    assert client.get("/api/v1/me/").status_code in (401, 403)
    # The old cookie, replayed, is signed out too.
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = signed_in_key
    assert replay.get("/accounts/").status_code == 302


# --- password reset --------------------------------------------------------------------------------


def reset_link(user) -> str:
    uidb64, token = password_reset_token_make(user=user)
    return f"/accounts/password/reset/{uidb64}/{token}/"


def test_a_reset_token_for_another_account_is_refused(ada):
    mallory = factories.UserFactory(username="mallory")
    _, mallorys_token = password_reset_token_make(user=mallory)
    adas_uid, _ = password_reset_token_make(user=ada)
    crossed = f"/accounts/password/reset/{adas_uid}/{mallorys_token}/"

    assert Client().get(crossed).status_code == 400
    assert Client().post(crossed, {"new_password": PASSWORD}).status_code == 400
    ada.refresh_from_db()
    assert ada.check_password(factories.DEFAULT_PASSWORD)


def test_using_one_reset_link_kills_every_other_one(ada):
    first, second = reset_link(ada), reset_link(ada)
    assert Client().post(first, {"new_password": PASSWORD}).status_code == 302

    assert Client().post(second, {"new_password": "another-strong-password-9"}).status_code == 400
    ada.refresh_from_db()
    assert ada.check_password(PASSWORD)


def test_a_reset_link_dies_with_a_password_change_or_a_disabled_account(ada):
    link = reset_link(ada)
    client = Client()
    client.force_login(ada)
    client.post("/accounts/password/", {"old_password": factories.DEFAULT_PASSWORD, "new_password": PASSWORD})
    assert Client().get(link).status_code == 400

    link = reset_link(ada)
    ada.status = "disabled"
    ada.save(update_fields=["status"])
    assert Client().get(link).status_code == 400


# --- email verification ----------------------------------------------------------------------------


def test_a_verification_link_works_for_its_address_only_and_dies_with_it(ada):
    """A second click on the same link only says the address is verified (mail scanners prefetch
    links: the person's own click must not fail); it cannot verify anything else."""
    address = factories.UserEmailFactory(user=ada, email="new@example.com", verified=False)
    link = f"/accounts/verify/{verification_token_make(user_email=address)}/"
    assert Client().get(link).status_code == 302
    assert Client().get(link).status_code == 302  # again: nothing more happens
    assert UserEmail.objects.filter(email="new@example.com", verified=True).count() == 1

    # Removed, then added by another account: the old link is for a row that is gone.
    ada_link = f"/accounts/verify/{verification_token_make(user_email=address)}/"
    address.delete()
    mallory = factories.UserFactory(username="mallory")
    taken = factories.UserEmailFactory(user=mallory, email="new@example.com", verified=False)
    assert Client().get(ada_link).status_code == 400
    taken.refresh_from_db()
    assert not taken.verified


def test_a_verification_link_for_a_changed_address_or_expired_is_refused(ada, settings):
    address = factories.UserEmailFactory(user=ada, email="old@example.com", verified=False)
    link = f"/accounts/verify/{verification_token_make(user_email=address)}/"
    UserEmail.objects.filter(pk=address.pk).update(email="other@example.com")
    assert Client().get(link).status_code == 400

    address.refresh_from_db()
    link = f"/accounts/verify/{verification_token_make(user_email=address)}/"
    settings.EMAIL_VERIFICATION_MAX_AGE = -1
    assert Client().get(link).status_code == 400
    address.refresh_from_db()
    assert not address.verified


# --- invitations -----------------------------------------------------------------------------------


@pytest.fixture
def invitation(django_capture_on_commit_callbacks):
    owner = factories.UserFactory(username="olivia")
    org = services.tenant_create(owner=owner, name="Acme")
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(
            tenant=org, actor=membership(org, owner), invited_by=owner, email="ivy@example.com", role=MemberRole.OWNER
        )
    token = re.search(r"/invitations/accept/([^/\s]+)/", mail.outbox[-1].body).group(1)
    return org, token


def accept(user, token):
    client = Client()
    client.force_login(user)
    return client.post(f"/invitations/accept/{token}/")


def test_an_invitation_link_joins_once(invitation):
    org, token = invitation
    ivy = factories.UserFactory(username="ivy", email="ivy@example.com")
    assert accept(ivy, token)["Location"] == f"/o/{org.slug}/"

    # Leaving and clicking the link again does not let them back in.
    TenantMember.objects.filter(tenant=org, user=ivy).delete()
    again = accept(ivy, token)

    assert again.status_code == 200 and "a link works once" in again.content.decode()
    assert not TenantMember.objects.filter(tenant=org, user=ivy).exists()


def test_an_invitation_link_is_refused_to_another_account_and_when_expired(invitation):
    org, token = invitation
    mallory = factories.UserFactory(username="mallory", email="mallory@example.com")
    # Mallory holds the invited address, but unverified: not theirs.
    factories.UserEmailFactory(user=mallory, email="ivy@example.com", verified=False)

    assert accept(mallory, token).status_code == 200
    assert not TenantMember.objects.filter(tenant=org, user=mallory).exists()

    ivy = factories.UserFactory(username="ivy", email="ivy@example.com")
    TenantInvitation.objects.filter(tenant=org).update(expires_at=1)
    assert accept(ivy, token).status_code == 200
    assert not TenantMember.objects.filter(tenant=org, user=ivy).exists()
    assert TenantInvitation.objects.get(tenant=org).status in (InvitationStatus.PENDING, InvitationStatus.EXPIRED)


def test_the_api_accepts_an_invitation_once_too(invitation):
    org, token = invitation
    ivy = factories.UserFactory(username="ivy", email="ivy@example.com")
    client = Client()
    client.force_login(ivy)

    first = client.post("/api/v1/invitations/accept/", {"token": token}, content_type="application/json")
    TenantMember.objects.filter(tenant=org, user=ivy).delete()
    second = client.post("/api/v1/invitations/accept/", {"token": token}, content_type="application/json")

    assert first.status_code in (200, 201)
    assert second.status_code == 409 and second.json()["code"] == "invitation_used"
    assert not TenantMember.objects.filter(tenant=org, user=ivy).exists()
