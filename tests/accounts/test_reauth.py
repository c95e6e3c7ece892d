"""Re-authentication: the actions that matter ask again once the last sign-in is older than
REAUTH_MAX_AGE_SECONDS, on pages (a redirect there and back) and in the API (403
`reauthentication_required`), and not before."""

import pytest
import requests
from django.urls import reverse
from django.utils.http import urlencode
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.models import User, UserEmail
from accounts.sessions import AUTH_AT
from core.time import now_ms
from credits.models import ApiKey
from credits.services import api_key_create
from organizations.models import Tenant
from organizations.services import tenant_create
from tests import factories
from tests.accounts.conftest import STRONG_PASSWORD, path_of
from tests.accounts.test_google import google_sign_in
from tests.two_factor import totp_code

pytestmark = pytest.mark.django_db

REAUTH = "/accounts/reauthenticate/"


@pytest.fixture
def ada(member):
    member.set_password(STRONG_PASSWORD)
    member.save()
    return member


@pytest.fixture
def org(ada):
    return tenant_create(owner=ada, name="Analytical Engines")


@pytest.fixture
def browser(client, ada):
    client.force_login(ada)
    return client


def grow_old(client, settings, *, seconds: int = 1) -> None:
    """The session's last authentication is `seconds` past the allowed age."""
    session = client.session
    session[AUTH_AT] = now_ms() - (settings.REAUTH_MAX_AGE_SECONDS + seconds) * 1000
    session.save()


def almost_old(client, settings) -> None:
    """Still inside the allowed age, by a few seconds."""
    session = client.session
    session[AUTH_AT] = now_ms() - (settings.REAUTH_MAX_AGE_SECONDS - 5) * 1000
    session.save()


def asks_again(response, next_url: str) -> bool:
    return response.status_code == 302 and response["Location"] == f"{REAUTH}?next={_quoted(next_url)}"


def _quoted(url: str) -> str:
    return urlencode({"next": url}).removeprefix("next=")


def secondary_address(user) -> UserEmail:
    return factories.UserEmailFactory(user=user, email="ada.second@example.com", verified=True)


# --- every page action, after the max age and not before ---------------------------------------


def page_actions(org):
    """(method, url, data, the page the form is on, what shows that it did not happen) per action."""
    slug = org.slug
    return {
        "password": ("get", "/accounts/password/", None, "/accounts/password/"),
        "delete_account": ("get", "/accounts/delete/", None, "/accounts/delete/"),
        "delete_org": ("post", f"/o/{slug}/delete/", {"confirm_name": org.name}, f"/o/{slug}/settings/"),
        "api_key": ("post", f"/o/{slug}/api-keys/", {"name": "worker"}, f"/o/{slug}/api-keys/"),
        "checkout": ("post", f"/o/{slug}/billing/checkout/", {}, f"/o/{slug}/billing/"),
        "portal": ("post", f"/o/{slug}/billing/portal/", {}, f"/o/{slug}/billing/"),
        "cancel": ("get", f"/o/{slug}/billing/subscription/cancel/", None, f"/o/{slug}/billing/subscription/cancel/"),
        "reactivate": ("post", f"/o/{slug}/billing/subscription/reactivate/", {}, f"/o/{slug}/billing/"),
    }


ACTIONS = ["password", "delete_account", "delete_org", "api_key", "checkout", "portal", "cancel", "reactivate"]


def _do(browser, method, url, data, page):
    if method == "get":
        return browser.get(url)
    return browser.post(url, data, HTTP_REFERER=f"http://testserver{page}")


@pytest.mark.parametrize("action", ACTIONS)
def test_a_page_action_asks_to_reauthenticate_after_the_max_age(browser, settings, org, action):
    method, url, data, page = page_actions(org)[action]
    grow_old(browser, settings)
    response = _do(browser, method, url, data, page)
    # GET: back to this page; POST: back to the page its form is on (nothing was done).
    assert asks_again(response, url if method == "get" else page), response
    assert Tenant.objects.filter(pk=org.pk, deleted_at__isnull=True).exists()
    assert not ApiKey.objects.filter(tenant=org).exists()


@pytest.mark.parametrize("action", ACTIONS)
def test_a_page_action_goes_ahead_before_the_max_age(browser, settings, org, action):
    method, url, data, page = page_actions(org)[action]
    almost_old(browser, settings)
    response = _do(browser, method, url, data, page)
    assert not (response.status_code == 302 and response["Location"].startswith(REAUTH)), response
    if action == "delete_org":
        assert response["Location"] == reverse("organizations:list")
        assert not Tenant.objects.filter(pk=org.pk, deleted_at__isnull=True).exists()
    elif action == "api_key":
        assert ApiKey.objects.filter(tenant=org, name="worker").exists()
    elif method == "get":
        assert response.status_code in (200, 302)


def test_the_api_keys_page_itself_needs_no_reauthentication(browser, settings, org):
    grow_old(browser, settings)
    assert browser.get(f"/o/{org.slug}/api-keys/").status_code == 200


def test_making_an_address_primary_asks_again_after_the_max_age(browser, settings, ada):
    address = secondary_address(ada)
    url = reverse("accounts:email_primary", args=[address.pk])
    grow_old(browser, settings)
    response = browser.post(url, HTTP_REFERER="http://testserver/accounts/emails/")
    assert asks_again(response, "/accounts/emails/")
    assert not UserEmail.objects.get(pk=address.pk).is_primary

    almost_old(browser, settings)
    assert browser.post(url)["Location"] == "/accounts/emails/"
    assert UserEmail.objects.get(pk=address.pk).is_primary


def test_a_post_from_a_foreign_referer_comes_back_home(browser, settings, ada):
    address = secondary_address(ada)
    grow_old(browser, settings)
    response = browser.post(
        reverse("accounts:email_primary", args=[address.pk]), HTTP_REFERER="https://evil.example/accounts/emails/"
    )
    assert asks_again(response, "/")


# --- the API ------------------------------------------------------------------------------------


def api_actions(org, ada):
    slug = org.slug
    address = secondary_address(ada)
    return {
        "make_primary": ("post", f"/api/v1/me/emails/{address.pk}/make-primary/", None),
        "delete_org": ("delete", f"/api/v1/orgs/{slug}/", {"confirm_name": "not the name"}),
        "checkout": ("post", f"/api/v1/orgs/{slug}/checkout/", {}),
        "portal": ("post", f"/api/v1/orgs/{slug}/billing-portal/", None),
    }


@pytest.mark.parametrize("action", ["make_primary", "delete_org", "checkout", "portal"])
def test_an_api_action_is_403_reauthentication_required_after_the_max_age(browser, settings, org, ada, action):
    method, url, body = api_actions(org, ada)[action]
    grow_old(browser, settings)
    response = getattr(browser, method)(url, body, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["code"] == "reauthentication_required"
    assert set(response.json()) == {"code", "detail"}

    almost_old(browser, settings)
    response = getattr(browser, method)(url, body, content_type="application/json")
    assert response.status_code != 403, response.content
    # Past the gate: the action's own answer (done, or its own validation / Stripe not configured).
    assert response.status_code in {"make_primary": (200,), "delete_org": (409,), "checkout": (400,)}.get(
        action, (503,)
    ), response.content


def test_the_schema_declares_reauthentication_required_on_those_operations(client):
    schema = client.get("/api/schema/?format=json").json()
    operations = {
        ("/api/v1/me/emails/{email_id}/make-primary/", "post"),
        ("/api/v1/orgs/{slug}/", "delete"),
        ("/api/v1/orgs/{slug}/checkout/", "post"),
        ("/api/v1/orgs/{slug}/billing-portal/", "post"),
    }
    for path, method in operations:
        forbidden = schema["paths"][path][method]["responses"]["403"]
        assert "reauthentication_required" in forbidden["description"], (path, method)


def test_an_api_key_cannot_delete_its_organization(org, ada):
    _key, raw = api_key_create(tenant=org, user=ada, name="script")
    keyed = APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = keyed.delete(f"/api/v1/orgs/{org.slug}/", {"confirm_name": org.name}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "api_key_not_allowed"
    assert Tenant.objects.filter(pk=org.pk, deleted_at__isnull=True).exists()


# --- the reauthentication page ------------------------------------------------------------------


def test_the_password_reauthenticates_and_comes_back(browser, settings, org):
    grow_old(browser, settings)
    asked = browser.get("/accounts/password/")
    page = browser.get(asked["Location"])
    assert 'name="password"' in page.content.decode()
    key_before = browser.session.session_key

    wrong = browser.post(REAUTH, {"password": "not it at all", "next": "/accounts/password/"})
    assert wrong.status_code == 400 and "Your password is incorrect." in wrong.content.decode()
    done = browser.post(REAUTH, {"password": STRONG_PASSWORD, "next": "/accounts/password/"})
    assert done.status_code == 302 and done["Location"] == "/accounts/password/"
    assert browser.session.session_key != key_before  # rotated
    assert browser.get("/accounts/password/").status_code == 200


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_next_stays_on_this_site(browser, target):
    response = browser.post(REAUTH, {"password": STRONG_PASSWORD, "next": target})
    assert response.status_code == 302 and response["Location"] == "/"


def test_wrong_passwords_are_throttled(browser, settings):
    settings.TWO_FACTOR_FAILURE_LIMIT = 2
    for _ in range(2):
        assert browser.post(REAUTH, {"password": "wrong wrong wrong"}).status_code == 400
    assert browser.post(REAUTH, {"password": STRONG_PASSWORD}).status_code == 429


def test_a_two_factor_account_reauthenticates_with_a_code(browser, settings, ada):
    device = TOTPDevice.objects.create(user=ada, name="app", confirmed=True)
    grow_old(browser, settings)
    page = browser.get(f"{REAUTH}?next=/accounts/delete/").content.decode()
    assert 'name="code"' in page and 'name="password"' not in page
    assert browser.post(REAUTH, {"code": "000000", "next": "/accounts/delete/"}).status_code == 400
    done = browser.post(REAUTH, {"code": totp_code(device), "next": "/accounts/delete/"})
    assert done["Location"] == "/accounts/delete/"
    assert browser.get("/accounts/delete/").status_code == 200


def test_a_google_only_account_reauthenticates_with_google(client, google, settings):
    google_sign_in(client, google, email="grace@gmail.com")
    grace = User.objects.get(emails__email="grace@gmail.com")
    assert not grace.has_usable_password()
    grow_old(client, settings)
    asked = client.get("/accounts/password/")
    assert asks_again(asked, "/accounts/password/")
    page = client.get(asked["Location"]).content.decode()
    assert "Continue with Google" in page and 'name="password"' not in page

    # Google again, as the same account: back to the page, recent.
    start = client.get("/accounts/google/login/?reauth=1&next=/accounts/password/")
    assert "prompt=login" in start["Location"]
    back = requests.get(start["Location"], allow_redirects=False, timeout=5).headers["Location"]
    done = client.get(path_of(back))
    assert done.status_code == 302 and done["Location"] == "/accounts/password/"
    assert client.get("/accounts/password/").status_code == 200


def test_google_reauthentication_as_another_account_is_refused_and_creates_none(client, google, settings):
    google_sign_in(client, google, email="grace@gmail.com")
    users = User.objects.count()
    grow_old(client, settings)
    google.claims = {"email": "mallory@gmail.com", "email_verified": True}
    start = client.get("/accounts/google/login/?reauth=1&next=/accounts/password/")
    back = requests.get(start["Location"], allow_redirects=False, timeout=5).headers["Location"]
    refused = client.get(path_of(back))
    assert refused.status_code == 302 and refused["Location"].startswith(REAUTH)
    assert User.objects.count() == users
    assert client.get("/api/v1/me/").json()["email"] == "grace@gmail.com"
    assert asks_again(client.get("/accounts/password/"), "/accounts/password/")


def test_signing_in_again_counts_as_recent(client, ada, settings):
    client.post("/accounts/login/", {"username": "ada", "password": STRONG_PASSWORD})
    grow_old(client, settings)
    client.logout()
    client.post("/accounts/login/", {"username": "ada", "password": STRONG_PASSWORD})
    assert client.get("/accounts/password/").status_code == 200
