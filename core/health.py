"""/healthz and /readyz for load balancers and orchestrators (docs/deploy.md, "Health and logs").

/healthz: the process answers (no database, no cache): 200 `{"status": "ok"}`.
/readyz: the database answers `SELECT 1` and the cache a set and a get: 200
`{"status": "ok", "checks": {"database": "ok", "cache": "ok"}}`, else 503 with the failed one
`"failed"`.

`HealthCheckMiddleware`, right after the request id, answers both before any other middleware
runs: no session, CSRF, axes, HTTPS redirect (a balancer probes over plain HTTP) or database
work beyond the check itself. The Host header is still checked against ALLOWED_HOSTS (400
otherwise): a balancer's probe must send one of the site's names. The URL patterns in
config/urls.py name the same views (for `reverse`, and in case the middleware is removed).
"""

import logging
import uuid

from django.core.cache import cache
from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpResponseBadRequest, JsonResponse
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)


@require_safe
def healthz(request):
    return JsonResponse({"status": "ok"})


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.exception("readyz: the database did not answer")
        return False


def _cache_ok() -> bool:
    key, value = f"keel:readyz:{uuid.uuid4().hex}", uuid.uuid4().hex
    try:
        cache.set(key, value, timeout=10)
        ok = cache.get(key) == value
        cache.delete(key)
        return ok
    except Exception:
        logger.exception("readyz: the cache did not answer")
        return False


@require_safe
def readyz(request):
    checks = {
        "database": "ok" if _database_ok() else "failed",
        "cache": "ok" if _cache_ok() else "failed",
    }
    ready = all(state == "ok" for state in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)


PROBES = {"/healthz": healthz, "/readyz": readyz}


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path_info)
        if probe is None or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        try:
            request.get_host()
        except DisallowedHost:
            return HttpResponseBadRequest("Bad host", content_type="text/plain")
        return probe(request)
