from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from django.contrib.auth.backends import ModelBackend

from accounts.models import User
from accounts.selectors import user_by_identifier


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check, first in AUTHENTICATION_BACKENDS.

    Axes refuses calls without a request; `authenticate()` from a shell or a
    management command has none and cannot be brute-forced over HTTP, so it is
    let through to the password check.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class EmailOrUsernameBackend(ModelBackend):
    """Sign in with the username or any *verified* email, case-insensitively.

    Soft-deleted and disabled users never authenticate (`is_active` is derived
    from both), and every lookup also runs the password hasher so that timing
    does not reveal which accounts exist.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if not username or password is None:
            return None
        user = user_by_identifier(username)
        if user is None:
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    def get_user(self, user_id):
        user = User.objects.alive().filter(pk=user_id).first()
        return user if user and self.user_can_authenticate(user) else None


# Set on the request while staff impersonation signs someone in (accounts/views/impersonation.py):
# receivers of `user_logged_in` that take it for the person's own sign-in leave it alone.
IMPERSONATION_FLAG = "keel_impersonation"


def is_impersonation_login(request) -> bool:
    return bool(getattr(request, IMPERSONATION_FLAG, False))


class AxesHandler(AxesDatabaseHandler):
    """Axes' database handler (AXES_HANDLER), except that staff signing in as a user for support
    is not that user's sign-in: it does not clear their failed attempts."""

    def user_logged_in(self, sender, request, user, **kwargs):
        if is_impersonation_login(request):
            return None
        return super().user_logged_in(sender, request, user, **kwargs)
