"""Email preferences: which non-essential mail a user wants (no row = subscribed)."""

from django.db import IntegrityError, transaction

from accounts.models import EmailType, User, UserEmailPreference
from accounts.tokens import InvalidToken, unsubscribe_token_read
from core.errors import ApplicationError
from core.time import now_ms


def _preference_set(*, user: User, email_type: str, subscribed: bool) -> None:
    updated = UserEmailPreference.objects.filter(user=user, email_type=email_type).update(
        subscribed=subscribed, updated_at=now_ms()
    )
    if updated:
        return
    try:
        with transaction.atomic():
            UserEmailPreference.objects.create(user=user, email_type=email_type, subscribed=subscribed)
    except IntegrityError:  # a concurrent request created the row: the unique constraint decided
        UserEmailPreference.objects.filter(user=user, email_type=email_type).update(
            subscribed=subscribed, updated_at=now_ms()
        )


@transaction.atomic
def email_preferences_update(*, user: User, preferences: dict[str, bool]) -> None:
    unknown = set(preferences) - set(EmailType.values)
    if unknown:
        raise ApplicationError(f"Unknown email type: {', '.join(sorted(unknown))}.", code="invalid")
    for email_type, subscribed in preferences.items():
        _preference_set(user=user, email_type=email_type, subscribed=bool(subscribed))


def email_unsubscribe(*, token: str) -> tuple[User, str]:
    """Turn off the (user, email type) an unsubscribe link names; idempotent."""
    try:
        claim = unsubscribe_token_read(token)
    except InvalidToken:
        raise ApplicationError("This unsubscribe link is not valid.", code="invalid_token") from None
    user = User.objects.alive().filter(pk=claim.user_id).first()
    if user is None:
        raise ApplicationError("This unsubscribe link is not valid.", code="invalid_token")
    _preference_set(user=user, email_type=claim.email_type, subscribed=False)
    return user, claim.email_type
