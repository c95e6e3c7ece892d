"""Requests made with an API key pass the browser middleware by; everything else keeps it."""

import pytest
from django.test import Client

from credits.models import CreditTransaction, TransactionType
from credits.services import api_key_create
from tests.credits.helpers import give, make_org

pytestmark = pytest.mark.django_db


@pytest.fixture
def org_and_key():
    org = make_org()
    give(org, 10)
    _key, raw_key = api_key_create(tenant=org, user=org.owner, name="middleware")
    return org, raw_key


def test_an_api_key_request_gets_no_session_csrf_or_session_user(org_and_key):
    org, raw_key = org_and_key
    response = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}").get(f"/api/v1/orgs/{org.slug}/credits/")

    assert response.status_code == 200
    request = response.wsgi_request
    assert not hasattr(request, "session") and not hasattr(request, "_messages")
    assert "csrftoken" not in response.cookies and "sessionid" not in response.cookies
    # What every response keeps: the security headers.
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_an_api_key_request_still_has_its_host_checked(org_and_key):
    org, raw_key = org_and_key
    response = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}", HTTP_HOST="evil.example").get(
        f"/api/v1/orgs/{org.slug}/credits/"
    )
    assert response.status_code == 400


def test_a_session_request_to_the_api_and_a_page_with_a_bearer_header_keep_everything(org_and_key):
    org, raw_key = org_and_key
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.owner)

    api = client.get(f"/api/v1/orgs/{org.slug}/credits/")
    page = client.get(f"/o/{org.slug}/credits/", HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    unsafe = client.post(f"/api/v1/orgs/{org.slug}/credits/consume/", {"amount": 1}, content_type="application/json")

    assert api.status_code == 200 and hasattr(api.wsgi_request, "session")
    assert page.status_code == 200 and hasattr(page.wsgi_request, "session")
    # A session-authenticated write still needs its CSRF token.
    assert unsafe.status_code == 403 and unsafe.json()["code"] == "permission_denied"
    assert "CSRF" in unsafe.json()["detail"]


def test_a_bad_key_is_refused_without_the_session_it_came_with(org_and_key):
    org, _raw_key = org_and_key
    client = Client()
    client.force_login(org.owner)

    response = client.get(f"/api/v1/orgs/{org.slug}/credits/", HTTP_AUTHORIZATION="Bearer keel_nope.nope")

    assert response.status_code == 401 and response.json()["code"] == "invalid_api_key"


@pytest.mark.parametrize("path", ["/api/v1/nope/", "/api/v1/orgs/x/members/not-a-uuid/"])
def test_with_debug_on_an_api_404_is_still_json_in_the_error_shape(client, settings, path):
    """`make run` runs with DEBUG on, where Django renders its technical 404 page instead of handler404."""
    settings.DEBUG = True

    response = client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": "not_found", "detail": "Not found."}


def test_with_debug_on_a_page_404_stays_django_s_page(client, settings):
    settings.DEBUG = True
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_with_debug_on_an_api_500_is_json_without_the_traceback(org_and_key, settings, monkeypatch):
    from credits import api

    def broken(self, request, slug):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(api.CreditSummaryView, "get", broken)
    settings.DEBUG = True
    org, raw_key = org_and_key
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}", raise_request_exception=False)

    response = client.get(f"/api/v1/orgs/{org.slug}/credits/")

    assert response.status_code == 500
    assert response.json() == {"code": "server_error", "detail": "Something went wrong on our side."}
    assert b"secret internals" not in response.content


@pytest.mark.parametrize("debug", [False, True])
def test_an_api_path_without_its_slash_is_404_in_the_error_shape_not_a_redirect(org_and_key, settings, debug):
    # A 301 would turn the POST into a GET and lose its body; with DEBUG on Django raised instead.
    settings.DEBUG = debug
    org, raw_key = org_and_key
    response = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}").post(
        f"/api/v1/orgs/{org.slug}/credits/consume",
        {"amount": 1},
        content_type="application/json",
        headers={"idempotency-key": "slashless"},
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert not CreditTransaction.objects.filter(tenant=org, type=TransactionType.DEDUCT).exists()


def test_a_page_without_its_slash_still_redirects_to_it(client):
    response = client.get("/pricing")
    assert response.status_code == 301 and response["Location"] == "/pricing/"
