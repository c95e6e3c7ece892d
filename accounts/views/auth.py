"""Sign-up, sign-in, sign-out, password change and reset."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
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
from accounts.ratelimit import RateLimited
from accounts.reauth import reauth_required
from accounts.selectors import signup_invitation_get, user_has_verified_email
from accounts.services import (
    password_reset_check,
    password_reset_complete,
    password_reset_request,
    signup_invitation_accept,
    user_password_change,
    user_signup,
)
from accounts.services.two_factor import two_factor_enabled
from accounts.sessions import two_factor_pending_start
from accounts.views.common import SIGN_IN_BACKEND, safe_next
from core.context import client_ip
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


def _invitation(request):
    """The pending invitation the visitor came from (`?invitation=<token>`, or the form's hidden
    field): its token and what the page shows of it; ("", None) without one."""
    token = (request.POST.get("invitation") or request.GET.get("invitation") or "").strip()[:200]
    invitation = signup_invitation_get(token=token) if token else None
    return (token, invitation) if invitation else ("", None)


def _links(*, next_url: str, token: str) -> str:
    """The query string that carries `next` and the invitation from sign-up to sign-in and back."""
    return urlencode({key: value for key, value in (("next", next_url), ("invitation", token)) if value})


@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def signup(request):
    next_url = safe_next(request)
    if request.user.is_authenticated:
        return redirect(next_url or settings.LOGIN_REDIRECT_URL)
    token, invitation = _invitation(request)
    if invitation is not None:
        # Where the invitation's link leads, should the visitor sign up with another address.
        next_url = next_url or invitation.url
    # Pre-filled from the invitation the token names: the address never travels in a URL.
    form = SignupForm(request.POST or None, initial={"email": invitation.email} if invitation else None)
    if request.method == "POST" and form.is_valid():
        try:
            user = user_signup(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                next_url=next_url,
                invitation_token=token,
            )
        except ApplicationError as exc:
            form.add_service_error(exc)
        else:
            login(request, user, backend=SIGN_IN_BACKEND)
            return _signed_up(request, user, next_url=next_url, token=token)
    return render(
        request,
        "accounts/signup.html",
        {
            "form": form,
            "next": next_url,
            "invitation": invitation,
            "invitation_token": token,
            "links": _links(next_url=next_url, token=token),
            "google_enabled": google_enabled(),
        },
    )


def _signed_up(request, user, *, next_url: str, token: str):
    address = user.email
    if user_has_verified_email(user=user):
        # Signed up from an invitation with the invited address: its link verified it, and the
        # invitation is accepted at once (its own rules decide; a refusal leads to its page).
        messages.success(request, f"Welcome to Keel, {user.username}! {address} is verified by your invitation.")
        joined = signup_invitation_accept(token=token, user=user)
        if joined is not None:
            messages.success(request, joined.message)
            return redirect(joined.url)
        return redirect(next_url or settings.LOGIN_REDIRECT_URL)
    sent = f"Welcome to Keel, {user.username}! We sent a verification link to {address}."
    if settings.DEBUG and settings.EMAIL_BACKEND.endswith("console.EmailBackend"):
        # Development (`make run`): no mail leaves the machine; say where it went.
        sent += " (Development: emails are not sent, they are printed in the terminal that runs the site.)"
    messages.success(request, sent)
    return redirect(next_url or settings.LOGIN_REDIRECT_URL)


class SignInView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.invitation_token, self.invitation = _invitation(request)

    def get_redirect_url(self):
        # From an invitation: back to its page, where an account holding its address accepts.
        return super().get_redirect_url() or (self.invitation.url if self.invitation else "")

    def get_initial(self):
        initial = super().get_initial()
        if self.invitation is not None:
            initial["username"] = self.invitation.email  # the form takes a verified email too
        return initial

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            google_enabled=google_enabled(),
            invitation=self.invitation,
            invitation_token=self.invitation_token,
            links=_links(next_url=self.get_redirect_url(), token=self.invitation_token),
        )
        return context

    def form_valid(self, form):
        user = form.get_user()
        if two_factor_enabled(user=user):
            # Not signed in yet: the second step asks for a code (docs/accounts.md, "Two-factor sign-in").
            next_url = self.get_redirect_url() or settings.LOGIN_REDIRECT_URL
            two_factor_pending_start(self.request, user, backend=user.backend, next_url=next_url)
            return redirect("accounts:login_two_factor")
        response = super().form_valid(form)
        signed_in_message(self.request, user)
        return response


class SignOutView(auth_views.LogoutView):
    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.info(request, "You are signed out.")
        return response


@login_required
@sensitive_post_parameters("old_password", "new_password")
@require_http_methods(["GET", "POST"])
@reauth_required
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
        context = {
            "title": "Reset your password",
            "error": exc.detail,
            "retry_url": reverse("accounts:password_reset"),
            "retry_label": "Send a new link",
        }
        return render(request, "accounts/link_invalid.html", context, status=400)
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
