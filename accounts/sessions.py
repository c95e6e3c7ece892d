"""What a browser session carries about how it signed in (docs/accounts.md, "Two-factor sign-in",
"Re-authentication"): when it last authenticated, and a sign-in waiting for its second step.

Not services: they write the session, never a table.
"""

from django.contrib.auth import login
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login
from django_otp.models import Device

from accounts.models import User
from core.time import now_ms

AUTH_AT = "accounts_auth_at"
PENDING = "accounts_two_factor_pending"
# A password (or Google) accepted this long ago still waits for its code; after, start again.
PENDING_MAX_AGE_MS = 5 * 60 * 1000


def auth_stamp(request) -> None:
    """This session authenticated now: at every sign-in (`user_logged_in`) and re-authentication."""
    request.session[AUTH_AT] = now_ms()


def auth_age_ms(request) -> int | None:
    stamp = request.session.get(AUTH_AT)
    return None if not isinstance(stamp, int) else now_ms() - stamp


def on_user_logged_in(sender, request, user, **kwargs) -> None:
    # Every sign-in passes through django.contrib.auth.login (password, Google, sign-up, the
    # second step, the admin's own form, the test client's force_login): the one place to stamp.
    if request is None or not hasattr(request, "session"):
        return
    auth_stamp(request)
    # A user carrying the device it just proved (django-otp's convention, `user.otp_device`) signs in
    # verified with it. django-otp's own receiver does this only when the request already has a
    # `user`, which a request built in code (the test client's force_login) has not.
    device = getattr(user, "otp_device", None)
    if device is not None and device.user_id == user.pk:
        request.session[DEVICE_ID_SESSION_KEY] = device.persistent_id


def two_factor_pending_start(request, user: User, *, backend: str, next_url: str) -> None:
    """The first factor passed: the session is still signed out, and remembers whom the second
    step is for. A new session key, so a key known before the password is worth nothing."""
    request.session.cycle_key()
    request.session[PENDING] = {"user": str(user.pk), "backend": backend, "next": next_url, "at": now_ms()}


def two_factor_pending_user(request) -> tuple[User, dict] | None:
    pending = request.session.get(PENDING)
    if not isinstance(pending, dict) or now_ms() - pending.get("at", 0) > PENDING_MAX_AGE_MS:
        request.session.pop(PENDING, None)
        return None
    user = User.objects.can_authenticate().filter(pk=pending["user"]).first()
    return (user, pending) if user is not None else None


def two_factor_sign_in(request, user: User, device: Device, *, backend: str) -> None:
    """The second step passed: signed in (a new session key again), verified with `device`."""
    request.session.pop(PENDING, None)
    login(request, user, backend=backend)
    otp_login(request, device)


def two_factor_verified(request, user: User) -> bool:
    """This session proved a confirmed device of `user` (second step, re-authentication, setup)."""
    persistent_id = request.session.get(DEVICE_ID_SESSION_KEY)
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    return device is not None and device.user_id == user.pk and device.confirmed
