"""DJANGO_ENV=production: `check --deploy` is clean with the documented variables, and the site
refuses to start without its secrets (docs/deploy.md, "Security settings")."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "k3el-pr0duction-test-key-9f8e7d6c5b4a3928171605f4e3d2c1b0a9",
    "ALLOWED_HOSTS": "app.example.com",
    # Never connected to by `check`; a real server for the request below (make test's).
    "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://keel@127.0.0.1:5432/keel"),
    "SITE_URL": "https://app.example.com",
}


def _run(args, env, unset=()):
    environment = {key: value for key, value in os.environ.items() if key not in unset}
    # Nothing of the caller's shell or .env may make it pass: every variable here is explicit.
    for key in ("DEBUG", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_COOKIES", "REDIS_URL", "SENTRY_DSN"):
        environment.pop(key, None)
    environment.update(env)
    return subprocess.run(
        [sys.executable, *args], cwd=settings.BASE_DIR, env=environment, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_the_production_variables():
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_defaults_are_the_secure_ones():
    code = (
        "import django; django.setup(); from django.conf import settings as s; import json; "
        "print(json.dumps([s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
        "s.SECURE_HSTS_PRELOAD, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.DEBUG, s.LOG_FORMAT]))"
    )
    result = _run(["-c", code], {**PRODUCTION, "DJANGO_SETTINGS_MODULE": "config.settings"})

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [True, 31536000, True, True, True, True, False, "json"]


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("SECRET_KEY", "DJANGO_ENV=production needs SECRET_KEY"),
        ("ALLOWED_HOSTS", "DJANGO_ENV=production needs ALLOWED_HOSTS"),
        ("DATABASE_URL", "DJANGO_ENV=production needs DATABASE_URL"),
        ("SITE_URL", "DJANGO_ENV=production needs SITE_URL"),
    ],
)
def test_production_refuses_to_start_without_its_variables(missing, message):
    env = {key: value for key, value in PRODUCTION.items() if key != missing}
    result = _run(["manage.py", "check"], env, unset=(missing,))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_production_refuses_the_development_key_and_debug():
    key = _run(["manage.py", "check"], {**PRODUCTION, "SECRET_KEY": "django-insecure-keel-local-development-only"})
    debug = _run(["manage.py", "check"], {**PRODUCTION, "DEBUG": "True"})

    assert key.returncode != 0 and "needs a SECRET_KEY of its own" in key.stderr
    assert debug.returncode != 0 and "refuses DEBUG=True" in debug.stderr


def test_an_unknown_environment_name_is_refused():
    result = _run(["manage.py", "check"], {"DJANGO_ENV": "prod"})
    assert result.returncode != 0 and "DJANGO_ENV must be `development` or `production`" in result.stderr


REQUEST_AND_LOG = """
import django, json, logging, sys
django.setup()
from django.test import Client
response = Client().get("/no-such-page/", secure=True, HTTP_HOST="app.example.com")
print(json.dumps({"status": response.status_code, "request_id": response["X-Request-ID"]}))
"""


def test_production_logs_are_json_lines_carrying_the_request_id():
    # Django logs the 404 ("Not Found: ...") on `django.request`, after the middleware returned.
    result = _run(["-c", REQUEST_AND_LOG], {**PRODUCTION, "DJANGO_SETTINGS_MODULE": "config.settings"})

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    not_found = [line for line in lines if line["logger"] == "django.request"]
    assert answer["status"] == 404
    assert not_found and not_found[0]["request_id"] == answer["request_id"]
    assert not_found[0]["level"] == "WARNING" and "time" in not_found[0]


def test_sentry_initialises_with_a_dsn_and_sends_nothing_personal():
    code = (
        "import django; django.setup(); import sentry_sdk, json; client = sentry_sdk.get_client(); "
        "print(json.dumps([client.is_active(), client.options['send_default_pii'], "
        "client.options['traces_sample_rate'], client.options['environment']]))"
    )
    # A DSN on a local port where nothing listens: init must not reach the network.
    env = {"DJANGO_SETTINGS_MODULE": "config.settings", "SENTRY_DSN": "http://public@127.0.0.1:9/1"}
    result = _run(["-c", code], {**env, "SENTRY_TRACES_SAMPLE_RATE": "0.25"})

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [True, False, 0.25, "development"]


def test_without_a_dsn_sentry_is_not_even_imported():
    code = "import django, sys; django.setup(); print('sentry_sdk' in sys.modules)"
    result = _run(["-c", code], {"DJANGO_SETTINGS_MODULE": "config.settings"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
