"""/healthz, /readyz and the request id (docs/deploy.md, "Health and logs")."""

import io
import json
import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core import context


def test_healthz_answers_without_the_database_or_a_session(client):
    # No django_db mark: touching the database would fail this test.
    response = client.get("/healthz")

    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies
    assert not hasattr(response.wsgi_request, "session")  # answered before the session middleware


@pytest.mark.django_db
def test_readyz_checks_the_database_and_the_cache(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}
    assert any(query["sql"] == "SELECT 1" for query in queries.captured_queries)


@pytest.mark.django_db
def test_readyz_is_503_naming_the_cache_when_the_cache_is_down(client, settings):
    # A Redis cache on a port where nothing listens.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}
    }
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "ok", "cache": "failed"}}


READYZ_WITHOUT_DATABASE = """
import django, json
django.setup()
from django.test import Client
response = Client().get("/readyz")
print(json.dumps([response.status_code, response.json()]))
"""


def test_readyz_is_503_naming_the_database_when_it_is_down():
    # A site whose PostgreSQL does not answer (nothing listens on port 9); the cache is local memory.
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": "postgres://keel@127.0.0.1:9/keel?connect_timeout=2",
        "CACHE_URL": "locmemcache://",
        "ALLOWED_HOSTS": "testserver",
    }
    result = subprocess.run(
        [sys.executable, "-c", READYZ_WITHOUT_DATABASE],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [
        503,
        {"status": "unavailable", "checks": {"database": "failed", "cache": "ok"}},
    ]


def test_probes_keep_host_validation_and_skip_the_https_redirect(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz").status_code == 200  # plain HTTP, as a balancer probes
    assert client.get("/healthz", HTTP_HOST="evil.example").status_code == 400
    assert client.get("/accounts/login/").status_code == 301  # everything else is redirected


def test_every_response_says_its_request_id_and_each_is_new(client):
    first, second = client.get("/healthz"), client.get("/healthz")
    assert len(first["X-Request-ID"]) == 32 and first["X-Request-ID"] != second["X-Request-ID"]


def test_a_proxy_s_request_id_is_kept_only_from_a_trusted_proxy_and_when_well_formed(client, settings):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="from-the-client-1234")["X-Request-ID"] != "from-the-client-1234"

    settings.TRUSTED_PROXIES = 1
    assert client.get("/healthz", HTTP_X_REQUEST_ID="edge-7f3a9c2e11")["X-Request-ID"] == "edge-7f3a9c2e11"
    forged = client.get("/healthz", HTTP_X_REQUEST_ID='x" level="ERROR')["X-Request-ID"]
    assert len(forged) == 32 and '"' not in forged


@pytest.fixture
def console_lines():
    """What the configured console handler (settings.LOGGING: its filter and formatter) writes."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


@pytest.mark.django_db
def test_a_log_line_emitted_during_a_request_carries_the_id_of_the_response_header(console_lines):
    # The CSP report endpoint logs one line per violation, inside the request.
    report = {"csp-report": {"effective-directive": "script-src-elem", "blocked-uri": "inline"}}
    response = Client().post("/csp-report/", json.dumps(report), content_type="application/csp-report")

    lines = [line for line in console_lines.getvalue().splitlines() if "CSP violation" in line]
    assert response.status_code == 204
    assert len(lines) == 1 and f"[{response['X-Request-ID']}]" in lines[0]
    # Outside a request there is no id.
    logging.getLogger("keel.test").warning("after the request")
    assert console_lines.getvalue().splitlines()[-1].endswith("keel.test [-] after the request")
    assert context.request_id() is None and context.current_client_ip() is None


def test_the_current_request_s_address_is_readable_during_the_request(rf, settings):
    from core.middleware import RequestIdMiddleware

    seen = {}

    def view(request):
        seen["ip"], seen["id"] = context.current_client_ip(), context.request_id()
        from django.http import HttpResponse

        return HttpResponse()

    response = RequestIdMiddleware(view)(rf.get("/", REMOTE_ADDR="192.0.2.8"))
    assert seen == {"ip": "192.0.2.8", "id": response["X-Request-ID"]}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/accounts/verify/s3cr3t-token-value/", "/accounts/verify/[redacted]/"),
        ("/accounts/unsubscribe/s3cr3t-token-value/", "/accounts/unsubscribe/[redacted]/"),
        ("/accounts/password/reset/MQ/s3cr3t-token-value/", "/accounts/password/reset/[redacted]/"),
        ("/invitations/accept/s3cr3t-token-value/", "/invitations/accept/[redacted]/"),
        ("/stripe/webhook/s3cr3t-token-value/", "/stripe/webhook/[redacted]/"),
    ],
)
def test_tokens_in_link_paths_are_not_logged(client, console_lines, path, logged):
    # A 404 or 400 for a link makes Django log its path ("Not Found: ...").
    response = client.get(f"/no-such-prefix{path}")

    assert response.status_code == 404
    output = console_lines.getvalue()
    assert "s3cr3t" not in output
    assert f"Not Found: /no-such-prefix{logged}" in output
