"""The signed-in user's own pages: profile, emails, email preferences, deletion."""

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import DeleteAccountForm, EmailAddForm, EmailPreferencesForm, ProfileForm
from accounts.reauth import reauth_required
from accounts.selectors import (
    email_preferences_get,
    user_delete_notices,
    user_email_get,
    user_emails_list,
)
from accounts.services import (
    email_add,
    email_make_primary,
    email_preferences_update,
    email_remove,
    email_verification_resend,
    user_avatar_upload,
    user_delete,
    user_update_profile,
)
from accounts.services.addresses import MAX_EMAILS_PER_USER
from core.errors import ApplicationError


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    user = request.user
    initial = {f: getattr(user, f) for f in ("username", "first_name", "last_name", "avatar_url")}
    form = ProfileForm(request.POST or None, request.FILES or None, initial=initial, user=user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            # One transaction: a refused upload leaves the name fields untouched too.
            with transaction.atomic():
                user_update_profile(
                    user=user,
                    username=data["username"],
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                    avatar_url=None if data["avatar"] else data["avatar_url"],
                )
                if data["avatar"]:
                    user_avatar_upload(user=user, upload=data["avatar"])
        except ApplicationError as exc:
            user.refresh_from_db()
            form.add_service_error(exc)
        else:
            messages.success(request, "Your profile has been saved.")
            return redirect("accounts:profile")
    addresses = user_emails_list(user=user)
    return render(
        request,
        "accounts/profile.html",
        {
            "form": form,
            "primary": next((e for e in addresses if e.is_primary), None),
            "verified": any(e.verified for e in addresses),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def emails(request):
    form = EmailAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            added = email_add(user=request.user, email=form.cleaned_data["email"])
        except ApplicationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, f"We sent a verification link to {added.email}.")
            return redirect("accounts:emails")
    return render(
        request,
        "accounts/emails.html",
        {"form": form, "emails": user_emails_list(user=request.user), "max_emails": MAX_EMAILS_PER_USER},
    )


def _email_action(request, email_id, action, success: str):
    try:
        user_email = user_email_get(user=request.user, email_id=email_id)
        action(user=request.user, user_email=user_email)
    except ApplicationError as exc:
        if exc.status == 404:
            raise Http404 from None
        messages.error(request, exc.detail)
    else:
        messages.success(request, success.format(email=user_email.email))
    return redirect("accounts:emails")


@login_required
@require_POST
def email_resend(request, email_id):
    return _email_action(request, email_id, email_verification_resend, "We sent a new verification link to {email}.")


@login_required
@require_POST
@reauth_required
def email_primary(request, email_id):
    return _email_action(request, email_id, email_make_primary, "{email} is now your primary email.")


@login_required
@require_POST
def email_delete(request, email_id):
    return _email_action(request, email_id, email_remove, "{email} has been removed.")


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    form = EmailPreferencesForm(request.POST or None, initial=email_preferences_get(user=request.user))
    if request.method == "POST" and form.is_valid():
        email_preferences_update(user=request.user, preferences=form.cleaned_data)
        messages.success(request, "Your email preferences have been saved.")
        return redirect("accounts:preferences")
    return render(request, "accounts/preferences.html", {"form": form})


@login_required
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
@reauth_required
def delete(request):
    user = request.user
    form = DeleteAccountForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            user_delete(user=user)
        except ApplicationError as exc:
            form.add_service_error(exc)
        else:
            logout(request)
            messages.success(request, "Your account has been deleted.")
            return redirect("home")
    return render(request, "accounts/delete.html", {"form": form, "notices": user_delete_notices(user=user)})
