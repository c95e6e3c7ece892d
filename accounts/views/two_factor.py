"""Two-factor authentication: the account's page (turn on, recovery codes, turn off), the QR code,
and the second step of signing in (docs/accounts.md, "Two-factor sign-in")."""

import base64
import io

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice

from accounts.forms import TwoFactorCodeForm, TwoFactorConfirmForm, TwoFactorDisableForm
from accounts.ratelimit import RateLimited
from accounts.reauth import reauth_required
from accounts.services.two_factor import (
    two_factor_confirm,
    two_factor_enabled,
    two_factor_recovery_codes_left,
    two_factor_recovery_codes_regenerate,
    two_factor_setup_device,
    two_factor_setup_start,
    two_factor_turn_off,
    two_factor_verify,
)
from accounts.sessions import two_factor_pending_user, two_factor_sign_in
from accounts.views.auth import signed_in_message
from accounts.views.common import safe_next
from core.errors import ApplicationError

# Recovery codes wait here for the one page that shows them (post/redirect/get): a reload shows them no more.
NEW_CODES = "accounts_two_factor_new_codes"


def _page(next_url: str = "") -> str:
    url = reverse("accounts:two_factor")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


@never_cache
@login_required
@require_GET
def two_factor(request):
    user = request.user
    enabled = two_factor_enabled(user=user)
    new_codes = request.session.pop(NEW_CODES, None)
    context = {
        "enabled": enabled,
        "codes_left": two_factor_recovery_codes_left(user=user) if enabled else 0,
        "new_codes": new_codes,
        "codes_text": "\n".join(new_codes or []),
        "next": safe_next(request),
        "disable_form": TwoFactorDisableForm() if enabled else None,
    }
    return render(request, "accounts/two_factor.html", context)


@login_required
@require_POST
@reauth_required
def two_factor_setup_begin(request):
    next_url = safe_next(request)
    try:
        two_factor_setup_start(user=request.user)
    except ApplicationError as exc:
        messages.info(request, exc.detail)
        return redirect(_page(next_url))
    url = reverse("accounts:two_factor_setup")
    return redirect(f"{url}?{urlencode({'next': next_url})}" if next_url else url)


def _secret_text(device) -> str:
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor_setup(request):
    user = request.user
    next_url = safe_next(request)
    device = two_factor_setup_device(user=user)
    if device is None:
        return redirect(_page(next_url))
    form = TwoFactorConfirmForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            codes = two_factor_confirm(user=user, code=form.cleaned_data["code"])
        except RateLimited as exc:
            form.add_service_error(exc)
            status = 429
        except ApplicationError as exc:
            form.add_service_error(exc)
            status = 400
        else:
            device.refresh_from_db()
            # This session has just proved the device: it counts as verified (the admin's gate).
            otp_login(request, device)
            request.session[NEW_CODES] = codes
            messages.success(request, "Two-factor authentication is on. Keep your recovery codes somewhere safe.")
            return redirect(_page(next_url))
    elif form.errors:
        status = 400
    context = {"form": form, "secret": _secret_text(device), "next": next_url}
    return render(request, "accounts/two_factor_setup.html", context, status=status)


@never_cache
@login_required
@require_GET
def two_factor_qr(request):
    """The QR code of the setup in progress, as SVG from this site (no inline image or script)."""
    device = two_factor_setup_device(user=request.user)
    if device is None:
        raise Http404
    svg = io.BytesIO()
    # Black on white whatever the page's theme: scanners read dark modules on a light ground.
    segno.make(device.config_url, error="m").save(svg, kind="svg", scale=6, border=4, dark="#000", light="#fff")
    response = HttpResponse(svg.getvalue(), content_type="image/svg+xml")
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
@reauth_required
def two_factor_codes_regenerate(request):
    try:
        request.session[NEW_CODES] = two_factor_recovery_codes_regenerate(user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, "New recovery codes: the old ones no longer work.")
    return redirect(_page())


@login_required
@sensitive_post_parameters("confirmation")
@require_POST
def two_factor_off(request):
    user = request.user
    form = TwoFactorDisableForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            two_factor_turn_off(user=user, confirmation=form.cleaned_data["confirmation"])
        except RateLimited as exc:
            form.add_service_error(exc)
            status = 429
        except ApplicationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, "Two-factor authentication is off.")
            return redirect(_page())
    context = {
        "enabled": True,
        "codes_left": two_factor_recovery_codes_left(user=user),
        "disable_form": form,
        "next": "",
    }
    return render(request, "accounts/two_factor.html", context, status=status)


@never_cache
@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
def login_two_factor(request):
    """The second step of signing in: the password (or Google) passed, the session is not signed in yet."""
    found = two_factor_pending_user(request)
    if found is None:
        messages.info(request, "Sign in again to continue.")
        return redirect(settings.LOGIN_URL)
    user, pending = found
    form = TwoFactorCodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            device = two_factor_verify(user=user, code=form.cleaned_data["code"])
        except RateLimited as exc:
            form.add_service_error(exc)
            status = 429
        except ApplicationError as exc:
            form.add_service_error(exc)
            status = 400
        else:
            two_factor_sign_in(request, user, device, backend=pending["backend"])
            signed_in_message(request, user)
            if isinstance(device, StaticDevice):
                left = two_factor_recovery_codes_left(user=user)
                messages.warning(
                    request,
                    f"You used a recovery code: {left} left. "
                    "Make new ones on your two-factor page if you are running out.",
                )
            return redirect(pending.get("next") or settings.LOGIN_REDIRECT_URL)
    elif form.errors:
        status = 400
    return render(request, "accounts/login_two_factor.html", {"form": form}, status=status)
