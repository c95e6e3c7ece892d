"""With REDIS_URL, the cache (and so the rate limits and cached sessions) is shared by every
server: a limit counted through one server's cache client holds on another's. Against the
machine's Redis, db 15, under a key prefix of the test's own, removed afterwards."""

import os
import subprocess
import sys
import uuid

import pytest
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from accounts.ratelimit import RateLimited, rate_limit_check

REDIS = os.environ.get("KEEL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_settings(prefix: str) -> dict:
    return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS, "KEY_PREFIX": prefix}


@pytest.fixture
def prefix():
    prefix = f"keel-test-{uuid.uuid4().hex}"
    yield prefix
    cleanup = RedisCache(REDIS, {"KEY_PREFIX": prefix})
    client = cleanup._cache.get_client(write=True)
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)


def test_a_rate_limit_counted_on_one_server_holds_on_another(settings, prefix):
    # Two "servers": two cache clients of their own, each with its own connection pool.
    settings.CACHES = {"default": redis_settings(prefix), "other": redis_settings(prefix)}
    first, second = caches["default"], caches["other"]
    assert first is not second and first._cache is not second._cache

    checks = [("password_reset_ip", "203.0.113.9", 3)]
    for _ in range(3):
        rate_limit_check(checks=checks)  # server one counts three
    settings.CACHES = {"default": redis_settings(prefix)}  # now the requests land on server two
    with pytest.raises(RateLimited):
        rate_limit_check(checks=checks)

    client = second._cache.get_client()
    assert list(client.scan_iter(match=f"{prefix}:*rl:*"))  # the counter lives in Redis


def test_redis_url_switches_the_cache_and_the_sessions():
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.CACHES['default']['BACKEND'], s.CACHES['default']['LOCATION'], s.SESSION_ENGINE]))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "REDIS_URL": REDIS}
    without = {key: value for key, value in env.items() if key != "REDIS_URL"}
    run = lambda environment: subprocess.run(  # noqa: E731
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, env=environment, capture_output=True, text=True, timeout=60
    )

    with_redis, without_redis = run(env), run(without)

    assert with_redis.returncode == 0, with_redis.stderr
    assert with_redis.stdout.strip() == (
        f'["django.core.cache.backends.redis.RedisCache", "{REDIS}", "django.contrib.sessions.backends.cached_db"]'
    )
    assert without_redis.stdout.strip() == (
        '["django.core.cache.backends.db.DatabaseCache", "keel_cache", "django.contrib.sessions.backends.db"]'
    )
