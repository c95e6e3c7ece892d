"""Google sign-in: turn the claims of a validated ID token into a signed-in user.

The token itself (signature against Google's JWKS, issuer, audience, expiry,
nonce) is validated by Authlib in `accounts.oidc` before this runs.
"""

import re
import secrets
from collections.abc import Mapping

from accounts.models import SignupVia, User, UserEmail, UserStatus, normalize_email
from accounts.services.users import DELETED_PREFIX, user_signup
from core.errors import ApplicationError


def _username_base(email: str) -> str:
    local = re.sub(r"[^a-z0-9_.-]", "", email.split("@", 1)[0].lower()).strip("._-")
    if local.startswith(DELETED_PREFIX):
        local = f"user-{local}"
    return (local or "user")[:40].ljust(3, "0")


def _free_username(email: str) -> str:
    base = _username_base(email)
    if not User.objects.filter(username__iexact=base).exists():
        return base
    while True:
        candidate = f"{base}-{secrets.token_hex(3)}"
        if not User.objects.filter(username__iexact=candidate).exists():
            return candidate


def _verified_holder(email: str) -> User | None:
    holder = UserEmail.objects.select_related("user").filter(email=email, verified=True).first()
    return holder.user if holder else None


def google_sign_in(*, claims: Mapping, next_url: str = "") -> tuple[User, bool]:
    """(user, created) for a Google identity.

    Links only through an address verified on both sides: Google must say
    `email_verified`, and an existing account is used only if it holds that
    address verified. An account holding it unverified is never signed in to;
    a new account (via = google, address verified) is created instead.
    """
    if claims.get("email_verified") not in (True, "true"):
        raise ApplicationError(
            "Google did not confirm that this email address is yours, so it cannot be used to sign in.",
            code="email_unverified",
        )
    email = normalize_email(claims.get("email", ""))
    if not email or "@" not in email:
        raise ApplicationError("Google did not send an email address.", code="invalid_token")

    user = _verified_holder(email)
    created = False
    if user is None:
        picture = str(claims.get("picture") or "")
        try:
            user = user_signup(
                username=_free_username(email),
                email=email,
                password=None,
                via=SignupVia.GOOGLE,
                email_verified=True,
                first_name=str(claims.get("given_name") or "")[:255],
                last_name=str(claims.get("family_name") or "")[:255],
                avatar_url=picture if picture.startswith("https://") else "",
                next_url=next_url,
            )
            created = True
        except ApplicationError as exc:
            # A concurrent callback for the same new address created it first.
            user = _verified_holder(email) if exc.code == "email_taken" else None
            if user is None:
                raise
    if user.deleted_at is not None or user.status != UserStatus.ACTIVE:
        raise ApplicationError("This account is disabled.", code="account_disabled")
    return user, created
