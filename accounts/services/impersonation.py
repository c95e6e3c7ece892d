"""Staff signed in as a user for support (django-hijack; docs/accounts.md, "Impersonation").

The session switch itself is django-hijack's (accounts/views/impersonation.py); these write the
audit rows that go with it, inside the switch's transaction.
"""

from django.db import transaction

from accounts.models import User
from audit.context import acting_as
from audit.models import ActorKind
from audit.services import audit_record

STARTED = "impersonation.started"
ENDED = "impersonation.ended"


def _record(*, action: str, staff: User, user: User) -> None:
    # The staff member acts (not the user they appear as), towards the user; no organization.
    with acting_as(kind=ActorKind.STAFF, user=staff):
        audit_record(action=action, target=user, target_type="user", target_label=user.username)


@transaction.atomic
def impersonation_record_start(*, staff: User, user: User) -> None:
    _record(action=STARTED, staff=staff, user=user)


@transaction.atomic
def impersonation_record_end(*, staff: User, user: User) -> None:
    _record(action=ENDED, staff=staff, user=user)
