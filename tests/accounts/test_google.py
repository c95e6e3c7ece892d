"""Google sign-in against a local OpenID provider that signs real RS256 ID tokens.

Every step is real HTTP: the test client asks Keel to start, follows Keel's
redirect to the provider with `requests`, and brings the provider's redirect
back to Keel's callback; Keel fetches discovery, the token and the JWKS from
the provider itself.
"""

from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests
from django.urls import reverse
from joserfc.jwk import RSAKey

from accounts.models import User, UserEmail
from tests import factories
from tests.accounts.conftest import path_of

pytestmark = pytest.mark.django_db

GOOGLE_LOGIN = reverse("accounts:google_login")


def start(client, next_url: str = "") -> str:
    """Keel's redirect to the provider, then the provider's redirect back: the callback URL."""
    response = client.get(GOOGLE_LOGIN + (f"?next={next_url}" if next_url else ""))
    assert response.status_code == 302, response.content
    back = requests.get(response["Location"], allow_redirects=False, timeout=5)
    assert back.status_code == 302
    return back.headers["Location"]


def google_sign_in(client, provider, next_url: str = "", **claims):
    provider.claims = {"email": "ada@gmail.com", "email_verified": True, "given_name": "Ada", **claims}
    return client.get(path_of(start(client, next_url)))


def signed_in_as(client) -> str | None:
    response = client.get("/api/v1/me/")
    return response.json()["username"] if response.status_code == 200 else None


def test_button_and_endpoints_exist_only_with_the_settings(client, settings):
    settings.GOOGLE_CLIENT_ID = ""
    assert "Sign in with Google" not in client.get(reverse("accounts:login")).content.decode()
    assert client.get(GOOGLE_LOGIN).status_code == 404
    assert client.get(reverse("accounts:google_callback")).status_code == 404

    settings.GOOGLE_CLIENT_ID = "id"
    settings.GOOGLE_CLIENT_SECRET = "secret"
    assert "Sign in with Google" in client.get(reverse("accounts:login")).content.decode()
    assert "Sign up with Google" in client.get(reverse("accounts:signup")).content.decode()


def test_the_authorization_request_carries_state_nonce_and_our_callback(client, google, settings):
    response = client.get(GOOGLE_LOGIN)
    query = parse_qs(urlparse(response["Location"]).query)

    assert response["Location"].startswith(google.issuer + "/authorize?")
    assert query["redirect_uri"] == [settings.SITE_URL + reverse("accounts:google_callback")]
    assert set(query["scope"][0].split()) == {"openid", "email", "profile"}
    assert query["state"][0] and query["nonce"][0]


def test_a_new_google_user_gets_an_account_with_a_verified_email(client, google, mailoutbox):
    response = google_sign_in(client, google, family_name="Lovelace")

    assert response.status_code == 302
    user = User.objects.get(emails__email="ada@gmail.com")
    assert signed_in_as(client) == user.username == "ada"
    assert (user.first_name, user.last_name, user.has_usable_password()) == ("Ada", "Lovelace", False)
    email = user.emails.get()
    assert (email.verified, email.is_primary, email.via) == (True, True, "google")
    assert user.created_tenants.filter(is_default=True).exists()  # the sign-up hooks ran
    assert mailoutbox == []  # nothing to verify
    assert google.token_requests[0]["grant_type"] == "authorization_code"


def test_an_existing_account_holding_the_address_verified_is_signed_in(client, google):
    existing = factories.UserFactory(username="lovelace", email="other@example.com")
    factories.UserEmailFactory(user=existing, email="ada@gmail.com", verified=True)

    google_sign_in(client, google, email="ADA@gmail.com")

    assert signed_in_as(client) == "lovelace"
    assert User.objects.count() == 1


def test_an_account_holding_the_address_only_unverified_is_not_linked(client, google):
    squatter = factories.UserFactory(username="squatter", email="ada@gmail.com", email__verified=False)

    google_sign_in(client, google)

    assert signed_in_as(client) not in (None, "squatter")
    new_user = User.objects.exclude(pk=squatter.pk).get()
    assert new_user.emails.get().verified
    assert not squatter.emails.get().verified


def test_a_taken_username_gets_a_suffix(client, google):
    factories.UserFactory(username="ada", email="someone@example.com")

    google_sign_in(client, google)

    assert signed_in_as(client).startswith("ada-")


def test_the_next_url_survives_the_round_trip(client, google):
    response = google_sign_in(client, google, next_url="/invitations/accept/abc/")
    assert response["Location"] == "/invitations/accept/abc/"


@pytest.mark.parametrize("verified", [False, "false", None])
def test_an_address_google_has_not_verified_is_refused(client, google, verified):
    response = google_sign_in(client, google, email_verified=verified)

    assert response.status_code == 400
    assert "Google did not confirm that this email address is yours" in response.content.decode()
    assert signed_in_as(client) is None
    assert not User.objects.exists()


def test_a_disabled_account_is_refused(client, google):
    factories.UserFactory(username="off", email="ada@gmail.com", status="disabled")

    response = google_sign_in(client, google)

    assert response.status_code == 400
    assert "This account is disabled." in response.content.decode()
    assert signed_in_as(client) is None


def test_a_tampered_state_is_refused(client, google):
    google.claims = {"email": "ada@gmail.com", "email_verified": True}
    callback = urlparse(start(client))
    query = parse_qs(callback.query)
    forged = urlencode({"code": query["code"][0], "state": "forged-state"})

    response = client.get(f"{callback.path}?{forged}")

    assert response.status_code == 400
    assert "could not be verified" in response.content.decode()
    assert not User.objects.exists()


def test_a_callback_from_another_browser_is_refused(client, google):
    """Login CSRF: a callback URL started in the attacker's session is useless in the victim's."""
    from django.test import Client

    google.claims = {"email": "attacker@gmail.com", "email_verified": True}
    attacker_callback = start(Client())

    response = client.get(path_of(attacker_callback))

    assert response.status_code == 400
    assert signed_in_as(client) is None


def test_a_tampered_nonce_is_refused(client, google):
    google.nonce = "not-the-nonce-we-sent"

    response = google_sign_in(client, google)

    assert response.status_code == 400
    assert not User.objects.exists()


def test_a_token_signed_with_another_key_is_refused(client, google):
    google.signing_key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1"})

    response = google_sign_in(client, google)

    assert response.status_code == 400
    assert not User.objects.exists()


def test_a_token_for_another_client_is_refused(client, google):
    google.audience = "someone-elses-client"

    response = google_sign_in(client, google)

    assert response.status_code == 400
    assert not User.objects.exists()


def test_a_replayed_callback_is_refused(client, google):
    callback = path_of(start(client))
    google.claims = {"email": "ada@gmail.com", "email_verified": True}
    assert client.get(callback).status_code == 302
    client.logout()

    assert client.get(callback).status_code == 400  # state consumed, code used


def test_an_unreachable_provider_is_a_clear_error(client, settings):
    settings.GOOGLE_CLIENT_ID, settings.GOOGLE_CLIENT_SECRET = "id", "secret"
    settings.GOOGLE_OIDC_METADATA_URL = "http://127.0.0.1:9/.well-known/openid-configuration"

    response = client.get(GOOGLE_LOGIN)

    assert response.status_code == 400
    assert "Google sign-in is unavailable right now" in response.content.decode()


def test_an_unverified_local_account_is_untouched_in_the_database(client, google):
    factories.UserFactory(username="squatter", email="ada@gmail.com", email__verified=False)
    google_sign_in(client, google)
    assert UserEmail.objects.filter(email="ada@gmail.com", verified=True).count() == 1
    assert UserEmail.objects.filter(email="ada@gmail.com", verified=False).get().user.username == "squatter"
