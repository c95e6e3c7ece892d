"""Signed tokens carried by links in emails.

- Email verification: signed and timestamped (expires after
  EMAIL_VERIFICATION_MAX_AGE), bound to one `user_emails` row *and* its address,
  so a link stops working once that row is removed.
- Unsubscribe: signed, no expiry (a footer link must keep working), bound to
  (user, email type). Forging one needs SECRET_KEY.
- Password reset: Django's `PasswordResetTokenGenerator`, which hashes the
  password and last login into the token, so a link works once and expires
  after PASSWORD_RESET_TIMEOUT.

Each kind has its own salt: a token of one kind is worthless as another.
"""

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.exceptions import ValidationError
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from accounts.models import EmailType, User

VERIFY_SALT = "keel.accounts.verify-email"
UNSUBSCRIBE_SALT = "keel.accounts.unsubscribe"


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class VerificationClaim:
    user_email_id: str
    email_digest: str

    def matches(self, user_email) -> bool:
        return constant_time_compare(self.email_digest, _email_digest(user_email.email))


def _email_digest(email: str) -> str:
    # The token is readable (signed, not encrypted) and travels in URLs, which
    # end up in access logs: it carries a digest of the address, not the address.
    return hashlib.sha256(email.encode()).hexdigest()[:16]


def verification_token_make(*, user_email) -> str:
    return signing.dumps({"id": str(user_email.pk), "e": _email_digest(user_email.email)}, salt=VERIFY_SALT)


def verification_token_read(token: str) -> VerificationClaim:
    """The claim in a verification token; `InvalidToken` if forged, malformed or expired."""
    try:
        data = signing.loads(token, salt=VERIFY_SALT, max_age=settings.EMAIL_VERIFICATION_MAX_AGE)
        return VerificationClaim(user_email_id=str(data["id"]), email_digest=str(data["e"]))
    except (signing.BadSignature, KeyError, TypeError) as exc:  # SignatureExpired is a BadSignature
        raise InvalidToken from exc


@dataclass(frozen=True)
class UnsubscribeClaim:
    user_id: str
    email_type: str


def unsubscribe_token_make(*, user, email_type: str) -> str:
    return signing.dumps({"u": str(user.pk), "t": str(email_type)}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_token_read(token: str) -> UnsubscribeClaim:
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
        claim = UnsubscribeClaim(user_id=str(data["u"]), email_type=str(data["t"]))
    except (signing.BadSignature, KeyError, TypeError) as exc:
        raise InvalidToken from exc
    if claim.email_type not in EmailType.values:
        raise InvalidToken
    return claim


def password_reset_token_make(*, user) -> tuple[str, str]:
    """(uidb64, token) for the reset link."""
    return urlsafe_base64_encode(force_bytes(user.pk.hex)), default_token_generator.make_token(user)


def password_reset_user(*, uidb64: str, token: str) -> User:
    """The alive, active user a reset link is for; `InvalidToken` if used, expired or forged."""
    try:
        user_id = force_str(urlsafe_base64_decode(uidb64))
        user = User.objects.alive().filter(pk=user_id).first()
    except (ValueError, TypeError, OverflowError, ValidationError):
        user = None
    if user is None or not user.is_active or not default_token_generator.check_token(user, token):
        raise InvalidToken
    return user
