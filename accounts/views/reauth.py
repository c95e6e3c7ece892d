"""/accounts/reauthenticate/: prove it is you again before an action that matters
(docs/accounts.md, "Re-authentication").

One way per kind of account: a code (the app's or a recovery code) when two-factor is on, else
the password, else (an account made with Google, with no password) Google sign-in again. An
account with none of those (no password, Google sign-in turned off) sets a password by email.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from accounts.forms import ReauthPasswordForm, TwoFactorCodeForm
from accounts.oidc import google_enabled
from accounts.ratelimit import RateLimited
from accounts.services.two_factor import password_confirm, two_factor_enabled, two_factor_verify
from accounts.sessions import auth_stamp
from accounts.views.common import safe_next
from core.errors import ApplicationError


def reauth_method(user) -> str:
    """`code`, `password`, `google` or `reset`: how this account proves it is itself again."""
    if two_factor_enabled(user=user):
        return "code"
    if user.has_usable_password():
        return "password"
    if google_enabled():
        return "google"
    return "reset"


def reauthenticated(request) -> None:
    """The person proved it again: a new session key, and the time that makes it recent."""
    request.session.cycle_key()
    auth_stamp(request)


@never_cache
@login_required
@sensitive_post_parameters("password", "code")
@require_http_methods(["GET", "POST"])
def reauthenticate(request):
    user = request.user
    next_url = safe_next(request) or settings.LOGIN_REDIRECT_URL
    method = reauth_method(user)
    form = {"code": TwoFactorCodeForm, "password": ReauthPasswordForm}.get(method)
    form = form(request.POST or None) if form else None
    status = 200
    if request.method == "POST" and form is not None and form.is_valid():
        try:
            if method == "code":
                device = two_factor_verify(user=user, code=form.cleaned_data["code"])
            else:
                password_confirm(user=user, password=form.cleaned_data["password"])
                device = None
        except RateLimited as exc:
            form.add_service_error(exc)
            status = 429
        except ApplicationError as exc:
            form.add_service_error(exc)
            status = 400
        else:
            reauthenticated(request)
            if device is not None:
                otp_login(request, device)
            messages.success(request, "Thank you: go ahead.")
            return redirect(next_url)
    elif form is not None and form.errors:
        status = 400
    context = {"form": form, "method": method, "next": next_url}
    return render(request, "accounts/reauthenticate.html", context, status=status)
