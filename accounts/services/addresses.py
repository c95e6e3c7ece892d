"""A user's email addresses: add, verify, resend, make primary, remove.

Invariants, held by the database as well as here: one primary per user
(partial unique index), an address verified by one account only (partial
unique index), addresses stored lowercased (check constraint).
"""

from django.db import IntegrityError, transaction

from accounts.models import User, UserEmail, normalize_email
from accounts.ratelimit import rate_limit_check
from accounts.services.users import email_clean
from accounts.services.verification import email_verification_send
from accounts.tokens import InvalidToken, verification_token_read
from core.errors import ApplicationError, Conflict, NotFound
from core.locks import lock_rows
from core.time import now_ms

MAX_EMAILS_PER_USER = 10
VERIFICATION_RESENDS_PER_HOUR = 5


def _lock_user(user: User) -> None:
    # Every change to a user's set of addresses holds the user row (core/locks.py):
    # two concurrent "make primary"/"remove" requests cannot interleave.
    lock_rows(User, [user.pk], fields=["id"])


@transaction.atomic
def email_add(*, user: User, email: str, next_url: str = "") -> UserEmail:
    """Add an unverified address and mail it a verification link."""
    _lock_user(user)
    if UserEmail.objects.filter(user=user, email=normalize_email(email)).exists():
        raise Conflict("You have already added this address.", code="email_taken", field="email")
    address = email_clean(email)
    if UserEmail.objects.filter(user=user).count() >= MAX_EMAILS_PER_USER:
        raise Conflict(
            f"An account can hold at most {MAX_EMAILS_PER_USER} addresses. Remove one first.",
            code="too_many_emails",
            field="email",
        )
    user_email = UserEmail.objects.create(user=user, email=address, is_primary=False, verified=False)
    email_verification_send(user_email=user_email, next_url=next_url)
    return user_email


def email_verification_resend(*, user: User, user_email: UserEmail, next_url: str = "") -> None:
    if user_email.user_id != user.pk:
        raise NotFound()
    if user_email.verified:
        raise Conflict("This address is already verified.", code="already_verified")
    rate_limit_check(checks=[("verify-resend", user.pk.hex, VERIFICATION_RESENDS_PER_HOUR)])
    email_verification_send(user_email=user_email, next_url=next_url)


def email_verify(*, token: str) -> UserEmail:
    """Mark the address a verification link names as verified (idempotent).

    Refused if the link is forged, expired, or its address was removed; and
    if another account verified the same address first (the database's
    partial unique index decides that race).
    """
    try:
        claim = verification_token_read(token)
    except InvalidToken:
        raise ApplicationError(
            "This verification link is invalid or has expired. Ask for a new one from your account's emails page.",
            code="invalid_token",
        ) from None
    user_email = (
        UserEmail.objects.select_related("user").filter(pk=claim.user_email_id, user__deleted_at__isnull=True).first()
    )
    if user_email is None or not claim.matches(user_email):
        raise ApplicationError("This verification link is no longer valid.", code="invalid_token")
    if user_email.verified:
        return user_email
    try:
        with transaction.atomic():
            UserEmail.objects.filter(pk=user_email.pk, verified=False).update(verified=True, updated_at=now_ms())
    except IntegrityError:
        raise Conflict("Another account has already verified this address.", code="email_taken") from None
    user_email.refresh_from_db()
    return user_email


@transaction.atomic
def email_make_primary(*, user: User, user_email: UserEmail) -> UserEmail:
    """Make a verified address primary (an unverified one never is: docs/accounts.md)."""
    _lock_user(user)
    current = UserEmail.objects.filter(pk=user_email.pk, user=user).first()
    if current is None:
        raise NotFound()
    if not current.verified:
        raise Conflict("Verify this address before making it your primary email.", code="email_unverified")
    if current.is_primary:
        return current
    # Unset first: the one-primary index is not deferrable.
    UserEmail.objects.filter(user=user, is_primary=True).update(is_primary=False, updated_at=now_ms())
    UserEmail.objects.filter(pk=current.pk).update(is_primary=True, updated_at=now_ms())
    current.refresh_from_db()
    return current


@transaction.atomic
def email_remove(*, user: User, user_email: UserEmail) -> None:
    """Remove an address: never the last one, never the primary."""
    _lock_user(user)
    current = UserEmail.objects.filter(pk=user_email.pk, user=user).first()
    if current is None:
        raise NotFound()
    if UserEmail.objects.filter(user=user).count() <= 1:
        raise Conflict("You cannot remove your only email address.", code="last_email")
    if current.is_primary:
        raise Conflict("Make another verified address primary before removing this one.", code="primary_email")
    current.delete()
