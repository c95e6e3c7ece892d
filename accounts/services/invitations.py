"""Joining an invitation right after signing up from its link with the invited address.

Invitations live in an app above accounts, so the acceptance is named in settings
(`KEEL_INVITATION_ACCEPT_HOOK`); its own rules decide (pending, unexpired, the invited address
verified on this account), exactly as for the invitation page's "Accept and join" button.
"""

from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

from accounts.models import User
from core.errors import ApplicationError


@dataclass(frozen=True)
class InvitationJoined:
    """What the accept hook answers: where the new member goes, and what to tell them."""

    url: str
    message: str


def signup_invitation_accept(*, token: str, user: User) -> InvitationJoined | None:
    """Accept the invitation `token` names for `user`, or None when its rules refuse (revoked or
    accepted meanwhile, or another address): its page, where the sign-up then leads, says why."""
    path = settings.KEEL_INVITATION_ACCEPT_HOOK
    if not token or not path:
        return None
    try:
        return import_string(path)(token=token, user=user)
    except ApplicationError:
        return None
