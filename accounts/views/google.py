"""Sign in with Google (OpenID Connect, authorization code flow through Authlib)."""

import logging

import requests
from authlib.integrations.base_client import OAuthError
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from joserfc.errors import JoseError

from accounts.forms import SignInForm
from accounts.oidc import google_client, google_enabled
from accounts.selectors import google_identity_user
from accounts.services import google_sign_in
from accounts.services.two_factor import two_factor_enabled
from accounts.sessions import two_factor_pending_start
from accounts.views.auth import signed_in_message
from accounts.views.common import SIGN_IN_BACKEND, safe_next
from accounts.views.reauth import reauthenticated
from core.errors import ApplicationError

logger = logging.getLogger(__name__)
NEXT_SESSION_KEY = "accounts_google_next"
# Set when the round trip re-authenticates the signed-in account (docs/accounts.md, "Re-authentication").
REAUTH_SESSION_KEY = "accounts_google_reauth"


def _callback_url() -> str:
    # From SITE_URL, not the Host header: it must equal the redirect URI
    # registered with Google, whatever proxy the request came through.
    return settings.SITE_URL + reverse("accounts:google_callback")


def _failed(request, error: str):
    context = {"form": SignInForm(request), "google_enabled": True, "google_error": error}
    return render(request, "accounts/login.html", context, status=400)


def _reauth_failed(request, next_url: str):
    messages.error(request, "That Google account is not the one signed in here: nothing was confirmed.")
    url = reverse("accounts:reauthenticate")
    return redirect(f"{url}?{urlencode({'next': next_url})}" if next_url else url)


def google_login(request):
    if not google_enabled():
        raise Http404
    request.session[NEXT_SESSION_KEY] = safe_next(request)
    extra = {}
    if request.GET.get("reauth") and request.user.is_authenticated:
        request.session[REAUTH_SESSION_KEY] = str(request.user.pk)
        extra["prompt"] = "login"  # Google asks for the Google password again, not only the session
    else:
        request.session.pop(REAUTH_SESSION_KEY, None)
    try:
        return google_client().authorize_redirect(request, _callback_url(), **extra)
    except (requests.RequestException, OAuthError, ValueError) as exc:
        logger.warning("google sign-in: discovery failed (%s)", type(exc).__name__)
        return _failed(request, "Google sign-in is unavailable right now. Try again later.")


def google_callback(request):
    if not google_enabled():
        raise Http404
    next_url = request.session.pop(NEXT_SESSION_KEY, "")
    reauth_of = request.session.pop(REAUTH_SESSION_KEY, None)
    try:
        token = google_client().authorize_access_token(request)
        claims = token.get("userinfo")
        if not claims:
            raise OAuthError(description="no ID token")
        if reauth_of is not None and request.user.is_authenticated and str(request.user.pk) == reauth_of:
            # Re-authentication: the same account again, never another one signed in or created.
            if google_identity_user(claims=claims) != request.user:
                return _reauth_failed(request, next_url)
            reauthenticated(request)
            messages.success(request, "Thank you: go ahead.")
            return redirect(next_url or settings.LOGIN_REDIRECT_URL)
        user, created = google_sign_in(claims=claims, next_url=next_url)
    except ApplicationError as exc:
        return _failed(request, exc.detail)
    except (OAuthError, JoseError) as exc:
        # State mismatch (CSRF or an expired attempt), a refused code, or an ID
        # token whose signature, issuer, audience, expiry or nonce is wrong.
        logger.warning("google sign-in refused (%s)", type(exc).__name__)
        return _failed(request, "Google sign-in could not be verified. Please try again.")
    except (requests.RequestException, ValueError) as exc:
        logger.warning("google sign-in failed (%s)", type(exc).__name__)
        return _failed(request, "Google sign-in is unavailable right now. Try again later.")
    if not created and two_factor_enabled(user=user):
        # Google is the first factor only: the second step asks for a code, signed out until then.
        two_factor_pending_start(
            request, user, backend=SIGN_IN_BACKEND, next_url=next_url or settings.LOGIN_REDIRECT_URL
        )
        return redirect("accounts:login_two_factor")
    login(request, user, backend=SIGN_IN_BACKEND)
    if created:
        messages.success(request, f"Welcome to Keel, {user.username}!")
    else:
        signed_in_message(request, user)
    return redirect(next_url or settings.LOGIN_REDIRECT_URL)
