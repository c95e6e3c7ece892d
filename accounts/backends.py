from axes.backends import AxesStandaloneBackend
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
