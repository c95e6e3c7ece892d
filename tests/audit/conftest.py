from contextlib import contextmanager

from django.test import RequestFactory

from audit.context import HIJACK_HISTORY_KEY, serving
from audit.models import AuditEvent
from tests.organizations.conftest import join, membership, org, outsider, owner, owner_member, token_from_last_email

__all__ = ["join", "membership", "org", "outsider", "owner", "owner_member", "token_from_last_email"]

ADDRESS = "203.0.113.7"


@contextmanager
def signed_in(user, *, path="/o/acme/", impersonator=None):
    """Services called inside run as `user`'s request would (AuditContextMiddleware)."""
    request = RequestFactory().post(path, REMOTE_ADDR=ADDRESS)
    request.user = user
    request.session = {HIJACK_HISTORY_KEY: [str(impersonator.pk)]} if impersonator else {}
    with serving(request):
        yield


def events(**filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(**filters).order_by("created_at", "id"))


def only_event(**filters) -> AuditEvent:
    found = events(**filters)
    assert len(found) == 1, [(e.action, e.target_label) for e in found]
    return found[0]
