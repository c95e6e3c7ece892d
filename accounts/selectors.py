"""Reads of the accounts app that more than one caller needs."""

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

from accounts.models import EmailType, SystemRole, User, UserEmail, UserEmailPreference, normalize_email
from core.errors import NotFound


def user_by_verified_email(email: str) -> User | None:
    """The live user who holds `email` verified (one at most: the database sees to it)."""
    return User.objects.alive().filter(emails__email=normalize_email(email), emails__verified=True).first()


def user_by_identifier(identifier: str) -> User | None:
    """What a person types to sign in: a username (any case) or one of their verified emails."""
    identifier = identifier.strip()
    if "@" in identifier:
        return user_by_verified_email(identifier)
    return User.objects.alive().filter(username__iexact=identifier).first()


def user_emails_list(*, user: User) -> list[UserEmail]:
    """The user's addresses, primary first."""
    return list(UserEmail.objects.filter(user=user).order_by("-is_primary", "email"))


def user_email_get(*, user: User, email_id) -> UserEmail:
    """One of the user's own addresses; another user's (or a malformed id) is NotFound."""
    try:
        pk = uuid.UUID(str(email_id))
    except ValueError:
        raise NotFound() from None
    user_email = UserEmail.objects.filter(user=user, pk=pk).first()
    if user_email is None:
        raise NotFound()
    return user_email


def user_has_verified_email(*, user: User) -> bool:
    """Unverified users may sign in but not accept invitations or change their primary email."""
    return UserEmail.objects.filter(user=user, verified=True).exists()


def email_preferences_get(*, user: User) -> dict[str, bool]:
    """Every email type with the user's choice; no row means subscribed."""
    preferences = dict.fromkeys(EmailType.values, True)
    preferences.update(UserEmailPreference.objects.filter(user=user).values_list("email_type", "subscribed"))
    return preferences


def impersonation_allowed(*, hijacker, hijacked) -> bool:
    """Whether staff member `hijacker` may sign in as `hijacked` for support (HIJACK_PERMISSION_CHECK).

    Never towards staff (a site operator, even a disabled one: taking over an operator would
    reach the admin as them), nor towards a disabled or deleted account, nor oneself.
    """
    if hijacked is None or hijacker is None or not hijacker.is_staff:
        return False
    return hijacked.pk != hijacker.pk and hijacked.role != SystemRole.OWNER and hijacked.is_active


def user_delete_notices(*, user: User) -> list[str]:
    """What deleting the account will do, from KEEL_ACCOUNT_DELETE_NOTICES, for the page."""
    notices: list[str] = []
    for path in settings.KEEL_ACCOUNT_DELETE_NOTICES:
        notices.extend(import_string(path)(user=user) or [])
    return notices


@dataclass(frozen=True)
class SignupInvitation:
    """A pending invitation as the sign-up and sign-in pages show it. Invitations live in an app
    above accounts: settings.KEEL_INVITATION_LOOKUP_HOOK makes these."""

    email: str  # the invited address, as stored (normalised)
    organization: str  # the name of what it invites to
    inviter: str  # who invited, as a name ("" when unknown)
    terms: str  # "as a member, with a limit of 15 credits"
    url: str  # the invitation's own page (where its link leads)


def signup_invitation_get(*, token: str) -> SignupInvitation | None:
    """The pending invitation an invitation link's token names, or None (no such token, not
    pending any more, or no lookup configured)."""
    path = settings.KEEL_INVITATION_LOOKUP_HOOK
    if not token or not path:
        return None
    return import_string(path)(token=token)
