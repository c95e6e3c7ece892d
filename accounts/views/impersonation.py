"""Staff impersonation for support, on django-hijack's views (docs/accounts.md, "Impersonation").

Starting is an admin page (UserAdmin mounts `ImpersonationStartView` behind the admin's own
access check, so whatever the admin demands of staff applies), POST only, from the user's page.
Stopping is the banner's button on every page (the user signed in as is no staff member, so it
cannot live in the admin).

Transactions: hijack's views run inside one transaction (they lock the staff member's row
first). The audit row is written in it, and so is the switched session when sessions live in
the database (Django's default, Keel's): the session switch and its audit row commit together
or not at all. With sessions elsewhere (a cache) the session is saved by the session middleware
after the commit, so the row can exist without the switch (the save failed), never the switch
without its row.
"""

import uuid

from django.contrib.sessions.backends.cached_db import SessionStore as CachedDbSessionStore
from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from django.http import Http404
from hijack.views import AcquireUserView, ReleaseUserView

from accounts.backends import IMPERSONATION_FLAG
from accounts.models import User
from accounts.services.impersonation import impersonation_record_end, impersonation_record_start


def _save_session_in_transaction(session) -> None:
    if isinstance(session, DbSessionStore) and not isinstance(session, CachedDbSessionStore):
        session.save()


class ImpersonationStartView(AcquireUserView):
    model = User

    def get_object(self, queryset=None):
        # A malformed id is a 404, not the 500 of a UUID lookup that raises.
        try:
            pk = uuid.UUID(str(self.request.POST.get("user_pk", "")))
        except ValueError:
            raise Http404 from None
        if not hasattr(self, "_hijacked"):
            self._hijacked = User.objects.filter(pk=pk).first()
        if self._hijacked is None:
            raise Http404
        return self._hijacked

    def post(self, request, *args, **kwargs):
        staff, user = request.user, self.get_object()
        # Before the switch, so that the row's actor is the staff member alone.
        impersonation_record_start(staff=staff, user=user)
        setattr(request, IMPERSONATION_FLAG, True)
        response = super().post(request, *args, **kwargs)
        _save_session_in_transaction(request.session)
        return response


class ImpersonationStopView(ReleaseUserView):
    # Signed out, it is the sign-in page, like every page of one's own (hijack answers 403).
    raise_exception = False

    def post(self, request, *args, **kwargs):
        user = request.user
        setattr(request, IMPERSONATION_FLAG, True)
        response = super().post(request, *args, **kwargs)
        impersonation_record_end(staff=request.user, user=user)
        _save_session_in_transaction(request.session)
        return response
