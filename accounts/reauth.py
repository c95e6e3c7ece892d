"""Re-authentication before the actions that matter (docs/accounts.md, "Re-authentication").

Changing the password or the primary email, deleting the account or an organization, creating
API keys and changing billing ask the person to prove it is them again when the session's last
authentication (`accounts.sessions.AUTH_AT`) is older than REAUTH_MAX_AGE_SECONDS. Pages use
`reauth_required`: a redirect to /accounts/reauthenticate/?next=<the page>, then back. The API
calls `reauth_check` after resolving the organization: 403 `reauthentication_required`.
"""

from functools import wraps
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from accounts.sessions import auth_age_ms
from core.errors import ApplicationError

REAUTH_REQUIRED_DESCRIPTION = (
    "`reauthentication_required`: the session's last sign-in is older than the site allows for this "
    "(`REAUTH_MAX_AGE_SECONDS`); confirm it is you at /accounts/reauthenticate/, then retry."
)


class ReauthenticationRequired(ApplicationError):
    code = "reauthentication_required"
    status = 403
    default_detail = (
        "Confirm it is you first: your last sign-in is too old for this. "
        "Re-authenticate at /accounts/reauthenticate/ (or sign in again), then retry."
    )


def reauth_needed(request) -> bool:
    """A signed-in session whose last authentication is missing or older than the setting."""
    if not request.user.is_authenticated:
        return False
    age = auth_age_ms(request)
    return age is None or age > settings.REAUTH_MAX_AGE_SECONDS * 1000


def reauth_check(request) -> None:
    """For API views (a DRF request). An API key is not a session and has no sign-in to be
    recent: it is let through (the operations that move money or delete refuse keys anyway)."""
    if request.auth is not None:
        return
    if reauth_needed(request):
        raise ReauthenticationRequired()


def _page_back(request) -> str:
    """Where to come back to: this page (GET), else the page the form was on (a safe Referer)."""
    if request.method in ("GET", "HEAD"):
        return request.get_full_path()
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        parts = urlsplit(referer)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return settings.LOGIN_REDIRECT_URL


def reauth_redirect(request):
    back = _page_back(request)
    if request.method not in ("GET", "HEAD"):
        messages.info(request, "Confirm it is you, then do it again: nothing was changed yet.")
    return redirect(f"{reverse('accounts:reauthenticate')}?{urlencode({'next': back})}")


def reauth_required(view=None, *, methods: tuple[str, ...] | None = None):
    """A page that asks to re-authenticate first (for `methods` only, if given). Place it inside
    `login_required` or `tenant_page`, so that sign-in, the organization and permissions come first."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if (methods is None or request.method in methods) and reauth_needed(request):
                return reauth_redirect(request)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator(view) if view is not None else decorator
