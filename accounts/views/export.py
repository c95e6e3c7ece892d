"""The user's own data as one JSON download (docs/accounts.md, "Your data")."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.context_processors import impersonation
from accounts.exports import user_export_chunks
from accounts.ratelimit import RateLimited, rate_limit_check
from core.time import ms_to_datetime, now_ms


def export_filename(user, at_ms: int) -> str:
    # Usernames are letters, digits, ".", "-" and "_": safe in a file name as they are.
    return f"keel-export-{user.username}-{ms_to_datetime(at_ms):%Y-%m-%d}.json"


def _page(request, *, error: str = "", status: int = 200):
    return render(request, "accounts/export.html", {"export_error": error}, status=status)


@login_required
@never_cache  # Cache-Control: no-store (and private): a download of personal data is never kept
@require_http_methods(["GET", "POST"])
def data_export(request):
    if request.method == "GET":
        return _page(request)
    if impersonation(request).get("impersonating"):
        return _page(request, error="Support cannot download a user's data while signed in as them.", status=403)
    user = request.user
    try:
        rate_limit_check(checks=[("account_export", str(user.pk), settings.ACCOUNT_EXPORT_LIMIT_PER_HOUR)])
    except RateLimited as exc:
        return _page(request, error=exc.detail, status=exc.status)
    response = StreamingHttpResponse(user_export_chunks(user=user), content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, export_filename(user, now_ms()))
    return response
