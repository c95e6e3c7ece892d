"""Sign-up, sign-in, sign-out, password change and reset."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from accounts.forms import (
    PasswordChangeForm,
    PasswordResetConfirmForm,
    PasswordResetRequestForm,
    SignInForm,
    SignupForm,
)
from accounts.oidc import google_enabled
from accounts.ratelimit import RateLimited, client_ip
from accounts.selectors import user_has_verified_email
from accounts.services import (
    password_reset_check,
    password_reset_complete,
    password_reset_request,
    user_password_change,
    user_signup,
)
from accounts.views.common import SIGN_IN_BACKEND, safe_next
from core.errors import ApplicationError


def signed_in_message(request, user) -> None:
    """What a sign-in says: welcome back, or (an unverified account) what is still to do."""
    if user_has_verified_email(user=user):
        messages.success(request, f"Welcome back, {user.get_short_name()}.")
    else:
        messages.warning(
            request,
            "Your email address is not verified yet: follow the link we sent you. "
            "Until then you cannot accept invitations or change your primary email.",
        )


@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def signup(request):
    next_url = safe_next(request)
    if request.user.is_authenticated:
        return redirect(next_url or settings.LOGIN_REDIRECT_URL)
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = user_signup(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                next_url=next_url,
            )
        except ApplicationError as exc:
            form.add_service_error(exc)
        else:
            login(request, user, backend=SIGN_IN_BACKEND)
            sent = f"Welcome to Keel, {user.username}! We sent a verification link to {form.cleaned_data['email']}."
            if settings.DEBUG and settings.EMAIL_BACKEND.endswith("console.EmailBackend"):
                # Development (`make run`): no mail leaves the machine; say where it went.
                sent += " (Development: emails are not sent, they are printed in the terminal that runs the site.)"
            messages.success(request, sent)
            return redirect(next_url or settings.LOGIN_REDIRECT_URL)
    return render(request, "accounts/signup.html", {"form": form, "next": next_url, "google_enabled": google_enabled()})


class SignInView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["google_enabled"] = google_enabled()
        return context

    def form_valid(self, form):
        response = super().form_valid(form)
        signed_in_message(self.request, form.get_user())
        return response


class SignOutView(auth_views.LogoutView):
    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.info(request, "You are signed out.")
        return response


@login_required
@sensitive_post_parameters("old_password", "new_password")
@require_http_methods(["GET", "POST"])
def password_change(request):
    form = PasswordChangeForm(request.POST or None, has_password=request.user.has_usable_password())
    if request.method == "POST" and form.is_valid():
        try:
            user = user_password_change(
                user=request.user,
                old_password=form.cleaned_data.get("old_password"),
                new_password=form.cleaned_data["new_password"],
            )
        except ApplicationError as exc:
            form.add_service_error(exc)
        else:
            # Keep this session; every other session of the user ends.
            update_session_auth_hash(request, user)
            messages.success(request, "Your password has been changed. Your other sessions are signed out.")
            return redirect("accounts:profile")
    return render(request, "accounts/password_change.html", {"form": form})


@require_http_methods(["GET", "POST"])
def password_reset(request):
    form = PasswordResetRequestForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            password_reset_request(email=form.cleaned_data["email"], ip=client_ip(request) or "unknown")
        except RateLimited as exc:
            form.add_service_error(exc)
            status = 429
        else:
            return redirect("accounts:password_reset_sent")
    return render(request, "accounts/password_reset.html", {"form": form}, status=status)


def password_reset_sent(request):
    return render(request, "accounts/password_reset_sent.html")


@sensitive_post_parameters("new_password")
@require_http_methods(["GET", "POST"])
def password_reset_confirm(request, uidb64, token):
    try:
        password_reset_check(uidb64=uidb64, token=token)
    except ApplicationError as exc:
        return render(
            request, "accounts/link_invalid.html", {"title": "Reset your password", "error": exc.detail}, status=400
        )
    form = PasswordResetConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            password_reset_complete(uidb64=uidb64, token=token, new_password=form.cleaned_data["new_password"])
        except ApplicationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, "Your password has been changed. Sign in with your new password.")
            return redirect(reverse("accounts:login"))
    return render(request, "accounts/password_reset_confirm.html", {"form": form})
