"""The Content Security Policy: its report endpoint and its middleware (docs/deploy.md,
"Security settings").

Browsers POST a violation of the policy (settings.CONTENT_SECURITY_POLICY) to
/csp-report/ (`report-uri`) as `application/csp-report` JSON, or as a Reporting API list
(`application/reports+json`). Each is logged at WARNING on `keel.csp` with what was refused
and where, and nothing personal: the directive, the blocked resource's origin (or
`inline`, `eval`...), the page's route name rather than its URL (a URL can carry a token or
a slug), the source file's origin and line. CSRF-exempt (a browser sends no token),
anonymous, POST only, at most CSP_REPORT_MAX_BYTES (413 beyond); always 204 otherwise.
"""

import json
import logging
from urllib.parse import urlsplit

from csp import middleware as csp_middleware
from django.conf import settings
from django.http import HttpResponse, HttpResponseNotAllowed
from django.urls import Resolver404, resolve
from django.utils.module_loading import import_string
from django.views.decorators.csrf import csrf_exempt

from core.middleware import is_api_key_request

logger = logging.getLogger("keel.csp")

CSP_REPORT_MAX_BYTES = 16 * 1024


def _origin(url: object) -> str:
    if not isinstance(url, str) or not url:
        return "-"
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return url[:32]  # `inline`, `eval`, `data`, `self`: keywords, not addresses
    return f"{parts.scheme}://{parts.netloc}"


def _route(url: object) -> str:
    if not isinstance(url, str) or not url:
        return "-"
    try:
        match = resolve(urlsplit(url).path or "/")
    except Resolver404:
        return "unknown"
    return match.view_name or "unknown"


def _violations(payload: object) -> list[dict]:
    """The reports of either format, as dicts with the CSP 2 (report-uri) field names."""
    if isinstance(payload, dict) and isinstance(payload.get("csp-report"), dict):
        return [payload["csp-report"]]
    if isinstance(payload, list):
        found = []
        for report in payload:
            body = report.get("body") if isinstance(report, dict) else None
            if isinstance(body, dict) and report.get("type") == "csp-violation":
                found.append(
                    {
                        "effective-directive": body.get("effectiveDirective"),
                        "blocked-uri": body.get("blockedURL"),
                        "document-uri": body.get("documentURL"),
                        "source-file": body.get("sourceFile"),
                        "line-number": body.get("lineNumber"),
                        "disposition": body.get("disposition"),
                    }
                )
        return found
    return []


@csrf_exempt
def csp_report(request):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > CSP_REPORT_MAX_BYTES:
        return HttpResponse(status=413)
    body = request.read(CSP_REPORT_MAX_BYTES + 1)
    if len(body) > CSP_REPORT_MAX_BYTES:
        return HttpResponse(status=413)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return HttpResponse(status=400)
    for violation in _violations(payload)[:20]:
        line = violation.get("line-number")
        logger.warning(
            "CSP violation: %s refused %s on %s (%s%s)",
            str(violation.get("effective-directive") or violation.get("violated-directive") or "-")[:64],
            _origin(violation.get("blocked-uri")),
            _route(violation.get("document-uri")),
            _origin(violation.get("source-file")),
            f":{line}" if isinstance(line, int) else "",
        )
    return HttpResponse(status=204)


class CSPMiddleware(csp_middleware.CSPMiddleware):
    """django-csp's, with `form-action` extended per response by KEEL_CSP_FORM_ACTION_HOOKS:
    each `hook() -> list[str]` of origins (billing's: Stripe's hosted pages, or the sandbox's
    origin), read when the response is made, so that it follows where Keel's Stripe client
    points at that moment rather than at start-up.

    A request made with an API key is answered with JSON, never a page: it gets a fixed policy
    that allows nothing (OWASP's advice for APIs), without building the site's per response.
    """

    API_POLICY = "default-src 'none'; frame-ancestors 'none'"

    def process_request(self, request):
        if not is_api_key_request(request):
            super().process_request(request)

    def process_response(self, request, response):
        if is_api_key_request(request):
            response.headers.setdefault("Content-Security-Policy", self.API_POLICY)
            return response
        return super().process_response(request, response)

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only=report_only)
        if report_only:
            return parts
        origins = [origin for path in settings.KEEL_CSP_FORM_ACTION_HOOKS for origin in import_string(path)()]
        if origins:
            base = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"].get("form-action", [])
            update = dict(parts.update or {})
            # django-csp's update appends to the configured list; keep each origin once.
            update["form-action"] = [origin for origin in dict.fromkeys(origins) if origin not in base] + list(
                update.get("form-action", [])
            )
            parts.update = update
        return parts
