"""Passwords: change (other sessions end), forgotten-password reset by email."""

from axes.utils import reset as axes_reset
from django.conf import settings
from django.db import transaction
from django.urls import reverse

from accounts.emails import email_send
from accounts.models import User, UserEmail, normalize_email
from accounts.ratelimit import account_key, rate_limit_check
from accounts.services.users import password_check
from accounts.tokens import InvalidToken, password_reset_token_make, password_reset_user
from core.errors import ApplicationError, Refusals


def _primary_address(user: User) -> str:
    return UserEmail.objects.filter(user=user, is_primary=True).values_list("email", flat=True).first() or ""


def _password_rules(*, user: User, new_password: str, field: str) -> None:
    password_check(
        new_password,
        username=user.username,
        email=_primary_address(user),
        first_name=user.first_name,
        last_name=user.last_name,
        field=field,
    )


def _password_set(*, user: User, new_password: str, field: str) -> None:
    _password_rules(user=user, new_password=new_password, field=field)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    # Changing the hash also changes the session auth hash: every other
    # session of this user fails verification on its next request.
    address = _primary_address(user)
    if address:
        email_send(to=address, template="password_changed", context={"username": user.username}, user=user)


@transaction.atomic
def user_password_change(*, user: User, old_password: str | None, new_password: str) -> User:
    """Change the password; an account without one (Google sign-up) sets its first. A wrong current
    password and a weak new one are refused together."""
    refusals = Refusals()
    if user.has_usable_password() and not user.check_password(old_password or ""):
        refusals.errors.append(
            ApplicationError("Your current password is incorrect.", code="wrong_password", field="old_password")
        )
    refusals.check(_password_rules, user=user, new_password=new_password, field="new_password")
    refusals.raise_any()
    _password_set(user=user, new_password=new_password, field="new_password")
    return user


def password_reset_request(*, email: str, ip: str) -> None:
    """Mail a reset link to the account holding `email` verified, if any.

    The caller answers the same whether or not an account exists. Limited per
    client IP and per account (or, when none matches, per address), so the
    form can neither be used to flood a mailbox nor to probe at volume.
    """
    address = normalize_email(email)
    rate_limit_check(
        checks=[
            ("reset-ip", ip, settings.PASSWORD_RESET_LIMIT_PER_IP),
            ("reset-account", account_key(address) or address, settings.PASSWORD_RESET_LIMIT_PER_ACCOUNT),
        ]
    )
    user = User.objects.can_authenticate().filter(emails__email=address, emails__verified=True).first()
    if user is None:
        return
    uidb64, token = password_reset_token_make(user=user)
    email_send(
        to=address,
        template="password_reset",
        context={
            "reset_url": settings.SITE_URL + reverse("accounts:password_reset_confirm", args=[uidb64, token]),
            "username": user.username,
            "valid_minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
        },
        user=user,
    )


def password_reset_check(*, uidb64: str, token: str) -> User:
    try:
        return password_reset_user(uidb64=uidb64, token=token)
    except InvalidToken:
        raise ApplicationError(
            "This password reset link is invalid, has expired or has already been used. Ask for a new one.",
            code="invalid_token",
        ) from None


@transaction.atomic
def password_reset_complete(*, uidb64: str, token: str, new_password: str) -> User:
    """Set a new password from a reset link; the link stops working (the token hashes the password)."""
    user = password_reset_check(uidb64=uidb64, token=token)
    _password_set(user=user, new_password=new_password, field="new_password")
    # Whoever holds the mailbox has proven it: lift any sign-in lockout.
    transaction.on_commit(lambda: axes_reset(username=account_key(user.username)))
    return user
