"""The Content Security Policy on every response, and its report endpoint (docs/deploy.md,
"Security settings"). The browser tests (tests/browser/checks.py) check that pages keep it."""

import json
import logging
import os
import subprocess
import sys

import pytest
import stripe
from django.conf import settings
from django.test import Client

from tests import factories

pytestmark = pytest.mark.django_db

ANONYMOUS_PAGES = [
    "/",
    "/pricing/",
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/password/reset/",
    "/api/docs/",
    "/no-such-page/",
]
SIGNED_IN_PAGES = [
    "/o/{slug}/",
    "/o/{slug}/credits/",
    "/o/{slug}/api-keys/",
    "/o/{slug}/members/",
    "/o/{slug}/invitations/",
    "/o/{slug}/billing/",
    "/o/{slug}/settings/",
    "/orgs/",
    "/orgs/new/",
    "/accounts/",
    "/accounts/emails/",
    "/accounts/email-preferences/",
    "/accounts/password/",
    "/accounts/delete/",
    "/admin/",
]


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def assert_policy(response, url):
    assert "Content-Security-Policy" in response, f"{url} has no Content-Security-Policy"
    policy = directives(response)
    assert policy["default-src"] == ["'self'"], url
    # A nonce only when the page used one (`request.csp_nonce`, for an inline script); none does today.
    assert policy["script-src"][0] == "'self'" and all(s.startswith("'nonce-") for s in policy["script-src"][1:]), url
    assert policy["style-src"] == ["'self'"], url
    assert policy["img-src"] == ["'self'", "data:"], url
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"], url
    assert policy["base-uri"] == ["'self'"] and policy["connect-src"] == ["'self'"], url
    assert policy["form-action"][0] == "'self'", url
    assert policy["report-uri"] == ["/csp-report/"], url
    assert "'unsafe-inline'" not in response["Content-Security-Policy"], url
    assert "'unsafe-eval'" not in response["Content-Security-Policy"], url


@pytest.mark.parametrize("url", ANONYMOUS_PAGES)
def test_every_public_page_carries_the_policy(client, url):
    response = client.get(url)
    assert response.status_code in (200, 404), url
    assert_policy(response, url)


def test_every_signed_in_page_carries_the_policy(client):
    # A site operator (the admin too; the factory gives staff their two-factor device) who owns
    # an organization.
    user = factories.UserFactory(role="owner")
    tenant = factories.TenantFactory(owner=user, is_default=True)
    factories.TenantMemberFactory(tenant=tenant, user=user, role="owner")
    client.force_login(user)
    for url in (page.format(slug=tenant.slug) for page in SIGNED_IN_PAGES):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_policy(response, url)


def test_api_answers_carry_it_too(client):
    response = client.get("/api/v1/orgs/")
    assert response.status_code == 401
    assert_policy(response, "/api/v1/orgs/")


def test_answers_to_an_api_key_allow_nothing_at_all(client, tenant, user):
    # JSON for a program, never a page: nothing to load, nothing to frame (core/csp.py).
    from credits.services.api_keys import api_key_create

    _key, raw_key = api_key_create(tenant=tenant, user=user, name="csp")
    response = client.get(f"/api/v1/orgs/{tenant.slug}/credits/", headers={"authorization": f"Bearer {raw_key}"})
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_the_api_docs_start_swagger_ui_from_a_script_file_not_inline(client):
    page = client.get("/api/docs/").content.decode()
    script = client.get("/api/docs/?script=")

    assert "<style" not in page and "<script>" not in page
    assert '<script src="/api/docs/?script="></script>' in page
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


@pytest.mark.parametrize(
    ("api_base", "expected"),
    [
        # The sandbox serves its hosted checkout and portal on its own origin.
        ("http://127.0.0.1:12111", ["'self'", "http://127.0.0.1:12111"]),
        ("https://api.stripe.com", ["'self'", "https://checkout.stripe.com", "https://billing.stripe.com"]),
    ],
)
def test_forms_may_be_redirected_to_the_hosted_pages_of_the_stripe_keel_talks_to(
    client, monkeypatch, api_base, expected
):
    # Where Keel's Stripe client points (STRIPE_API_BASE, set on the library at start-up).
    monkeypatch.setattr(stripe, "api_base", api_base)
    assert directives(client.get("/pricing/"))["form-action"] == expected


def test_extra_form_action_origins_come_from_the_environment():
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps(s.CONTENT_SECURITY_POLICY['DIRECTIVES']['form-action']))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "CSP_FORM_ACTION_EXTRA": "https://pay.example"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["'self'", "https://pay.example"]


# --- the report endpoint ------------------------------------------------------------------------


def post_report(payload, content_type="application/csp-report", client=None):
    body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return (client or Client(enforce_csrf_checks=True)).post("/csp-report/", body, content_type=content_type)


def test_a_violation_is_logged_without_anything_personal(caplog, tenant):
    report = {
        "csp-report": {
            "document-uri": f"http://testserver/o/{tenant.slug}/credits/?q=ada@example.com",
            "effective-directive": "script-src-elem",
            "violated-directive": "script-src-elem",
            "blocked-uri": "https://evil.example/steal.js?who=ada@example.com",
            "source-file": "http://testserver/static/js/keel.js",
            "line-number": 12,
        }
    }
    with caplog.at_level(logging.WARNING, logger="keel.csp"):
        response = post_report(report)  # no CSRF token: a browser sends none

    assert response.status_code == 204
    [record] = [r for r in caplog.records if r.name == "keel.csp"]
    message = record.getMessage()
    assert message == (
        "CSP violation: script-src-elem refused https://evil.example on credits:usage (http://testserver:12)"
    )
    assert "ada" not in message and tenant.slug not in message


def test_reporting_api_reports_are_read_too(caplog):
    reports = [
        {
            "type": "csp-violation",
            "body": {"effectiveDirective": "style-src-attr", "blockedURL": "inline", "documentURL": "http://x/"},
        },
        {"type": "deprecation", "body": {"id": "something"}},
    ]
    with caplog.at_level(logging.WARNING, logger="keel.csp"):
        assert post_report(reports, content_type="application/reports+json").status_code == 204

    assert [r.getMessage() for r in caplog.records if r.name == "keel.csp"] == [
        "CSP violation: style-src-attr refused inline on home (-)"
    ]


def test_a_report_too_large_is_refused_and_not_logged(caplog):
    big = {"csp-report": {"blocked-uri": "x" * 20000}}
    with caplog.at_level(logging.WARNING, logger="keel.csp"):
        assert post_report(big).status_code == 413
    assert not [r for r in caplog.records if r.name == "keel.csp"]


def test_bad_reports_are_400_and_other_methods_405(client):
    assert post_report(b"{not json").status_code == 400
    assert client.get("/csp-report/").status_code == 405
