"""Brute-force protection: django-axes' hooks and a cache-backed limiter.

Sign-in is guarded by django-axes (settings `AXES_*`): the lockout key is the
pair (account, client IP). Axes does not see password-reset requests, so those
go through `rate_limit_hit`, a fixed-window counter in Django's cache.
Cache keys and log lines carry hashes, never an address or a username. The client address is
`core.context.client_ip` (the proxies Keel trusts, TRUSTED_PROXIES).
"""

import hashlib
import math
import time

from django.core.cache import cache

from accounts.selectors import user_by_identifier
from core.context import client_ip  # noqa: F401  (re-exported for callers that import it from here)
from core.errors import ApplicationError


class RateLimited(ApplicationError):
    code = "rate_limited"
    status = 429
    default_detail = "Too many attempts. Try again later."


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:24]


def account_key(identifier: str | None) -> str:
    """One key per account, whatever the person typed: `ADA`, `ada`, `Ada@Example.com`.

    Without this, case variants and each verified address would each get their
    own allowance of failures.
    """
    identifier = (identifier or "").strip()
    if not identifier:
        return ""
    user = user_by_identifier(identifier)
    return f"user:{user.pk.hex}" if user else f"name:{identifier.lower()}"


def axes_username(request, credentials) -> str:
    identifier = (credentials or {}).get("username")
    if identifier is None:
        identifier = getattr(request, "POST", {}).get("username")
    return account_key(identifier)


def axes_client_str(username, ip_address, user_agent, path_info, request) -> str:
    # Axes logs this string on every failure: no username, address or IP in it.
    if isinstance(path_info, (tuple, list)):
        path_info = path_info[0] if path_info else ""
    return f'{{account: "{_digest(username or "")}", path_info: "{path_info}"}}'


def rate_limit_hit(*, scope: str, key: str, limit: int, window_seconds: int = 3600) -> int:
    """Count one event for (scope, key); 0 if allowed, else seconds until the window resets."""
    now = time.time()
    window = int(now // window_seconds)
    cache_key = f"rl:{scope}:{_digest(key)}:{window}"
    cache.add(cache_key, 0, timeout=window_seconds)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=window_seconds)
        count = 1
    if count <= limit:
        return 0
    return max(1, math.ceil((window + 1) * window_seconds - now))


def rate_limit_wait(*, scope: str, key: str, limit: int, window_seconds: int = 3600) -> int:
    """Seconds until the window resets if (scope, key) has already counted `limit` events in it,
    else 0. Counts nothing: for limits on failures only, counted by `rate_limit_hit` when one
    happens (wrong two-factor codes)."""
    now = time.time()
    window = int(now // window_seconds)
    if (cache.get(f"rl:{scope}:{_digest(key)}:{window}") or 0) < limit:
        return 0
    return max(1, math.ceil((window + 1) * window_seconds - now))


def rate_limited(wait: int) -> RateLimited:
    minutes = max(1, math.ceil(wait / 60))
    return RateLimited(f"Too many requests. Try again in {minutes} minute{'s' if minutes != 1 else ''}.")


def rate_limit_check(*, checks: list[tuple[str, str, int]], window_seconds: int = 3600) -> None:
    """Count every (scope, key, limit) check; raise `RateLimited` if any is over."""
    wait = 0
    for scope, key, limit in checks:
        wait = max(wait, rate_limit_hit(scope=scope, key=key, limit=limit, window_seconds=window_seconds))
    if wait:
        raise rate_limited(wait)
