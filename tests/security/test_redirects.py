"""Open redirects: every view that follows a `next` stays on the site, whatever `next` says.

tests/accounts/test_views_signup.py checks one unsafe `next` on sign-up and sign-in; here each
redirecting view gets every spelling of "another site" browsers accept.
"""

import re
from urllib.parse import urlsplit

import pytest
import requests
from django.test import Client

from accounts.tokens import verification_token_make
from organizations import services
from tests import factories
from tests.accounts.conftest import google, oidc_provider, path_of  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

OFF_SITE = [
    "//evil.example",
    "//evil.example/path",
    "///evil.example",
    "https://evil.example",
    "http://evil.example/",
    "https:evil.example",
    "https:/evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\t/evil.example",
    " //evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "https://testserver@evil.example",
    "https://evil.example\\@testserver",
    "//evil%2Eexample",
]


def assert_on_site(location: str, payload: str):
    """A path of this site: no scheme, no host, nothing a browser reads as another host."""
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc, f"next={payload!r} -> {location!r}"
    assert location.startswith("/"), f"next={payload!r} -> {location!r}"
    # Browsers read a backslash as a slash, and skip tabs and newlines.
    assert not re.match(r"^[/\\][\s]*[/\\]", location), f"next={payload!r} -> {location!r}"
    assert "evil" not in location.split("?")[0], f"next={payload!r} -> {location!r}"


@pytest.fixture
def person(db):
    return factories.UserFactory(username="ada", email="ada@example.com")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("payload", OFF_SITE)
def test_sign_in_never_leaves_the_site(person, payload):
    client = Client()
    posted = client.post(
        "/accounts/login/", {"username": "ada", "password": factories.DEFAULT_PASSWORD, "next": payload}
    )
    assert posted.status_code == 302
    assert_on_site(posted["Location"], payload)
    # Already signed in, the sign-in page sends on at once.
    assert_on_site(client.get("/accounts/login/", {"next": payload})["Location"], payload)


@pytest.mark.parametrize("payload", OFF_SITE)
def test_sign_up_never_leaves_the_site(payload):
    client = Client()
    posted = client.post(
        "/accounts/signup/?" + f"next={requests.utils.quote(payload)}",
        {"username": "newbie", "email": "newbie@example.com", "password": "violet-anchor-meadow-42"},
    )
    assert posted.status_code == 302, posted.content[:300]
    assert_on_site(posted["Location"], payload)
    assert_on_site(client.get("/accounts/signup/", {"next": payload})["Location"], payload)


@pytest.mark.parametrize("payload", OFF_SITE)
def test_sign_out_never_leaves_the_site(person, payload):
    response = signed_in(person).post("/accounts/logout/", {"next": payload})
    assert response.status_code == 302
    assert_on_site(response["Location"], payload)


@pytest.mark.parametrize("payload", OFF_SITE)
def test_the_verification_link_never_leaves_the_site(person, payload):
    address = factories.UserEmailFactory(user=person, email="new@example.com", verified=False)
    response = Client().get(f"/accounts/verify/{verification_token_make(user_email=address)}/", {"next": payload})
    assert response.status_code == 302
    assert_on_site(response["Location"], payload)


@pytest.mark.parametrize("payload", OFF_SITE)
def test_switching_organization_never_leaves_the_site(person, payload):
    other = services.tenant_create(owner=person, name="Second")
    response = signed_in(person).post("/orgs/switch/", {"slug": other.slug, "next": payload})
    assert response.status_code == 302
    assert_on_site(response["Location"], payload)


@pytest.mark.parametrize("payload", OFF_SITE[:6] + ["/\\evil.example", "javascript:alert(1)"])
def test_google_sign_in_never_leaves_the_site(google, payload):  # noqa: F811
    client = Client()
    google.claims = {"email": "ada@gmail.com", "email_verified": True, "given_name": "Ada"}
    to_provider = client.get("/accounts/google/login/", {"next": payload})
    back = requests.get(to_provider["Location"], allow_redirects=False, timeout=5)

    response = client.get(path_of(back.headers["Location"]))

    assert response.status_code == 302
    assert_on_site(response["Location"], payload)
