"""Two-factor authentication: an authenticator app (a TOTP device of django-otp) and ten one-time
recovery codes (a static device), and proving who you are again (docs/accounts.md, "Two-factor
sign-in", "Re-authentication").

A TOTP device is created unconfirmed and counts only once a code from the app confirms it.
Recovery codes are stored as an HMAC of the code under SECRET_KEY, so a reader of the database
cannot use them; django-otp deletes a code's row when it is used, so it works once. A TOTP code
is accepted once: django-otp keeps the time step of the last accepted one (`last_t`) and only
accepts later steps. Every write here first locks the user's row (`core.locks`, the `users` kind):
two requests with the same code at once are one success and one failure, never two successes.
"""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import transaction
from django_otp import devices_for_user
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from accounts.ratelimit import rate_limit_hit, rate_limit_wait, rate_limited
from core.errors import ApplicationError, Conflict
from core.locks import lock_row

RECOVERY_CODE_COUNT = 10
# No 0/o, 1/l/i: a code is copied by hand from paper. 10 characters of 31: 49 bits.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
FAILURE_WINDOW_SECONDS = 15 * 60
FAILURE_SCOPE = "second-factor"


class InvalidCode(ApplicationError):
    code = "invalid_code"
    default_detail = "That code is not valid. Enter the current code from your app, or an unused recovery code."


class InvalidPassword(ApplicationError):
    code = "invalid_password"
    default_detail = "Your password is incorrect."


class TwoFactorOff(Conflict):
    code = "two_factor_off"
    default_detail = "Two-factor authentication is off for this account."


class TwoFactorOn(Conflict):
    code = "two_factor_on"
    default_detail = "Two-factor authentication is already on."


class SetupExpired(Conflict):
    code = "two_factor_setup_expired"
    default_detail = "Start again: turn two-factor authentication on to get a new QR code."


def _normalized(code: str) -> str:
    """What the person typed, without spaces or dashes, lowercased (`ABCDE-FGHIJ` = `abcdefghij`)."""
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())[:64]


def recovery_code_digest(code: str) -> str:
    """The stored form of a recovery code (StaticToken.token holds 16 characters)."""
    key = f"keel-recovery-code:{settings.SECRET_KEY}".encode()
    return hmac.new(key, _normalized(code).encode(), hashlib.sha256).hexdigest()[:16]


def _recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def _recovery_codes_replace(*, user: User) -> list[str]:
    """New codes in place of the old ones (which stop working at once); the codes, in clear, once."""
    device, _created = StaticDevice.objects.get_or_create(user=user, name="Recovery codes")
    StaticDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.token_set.all().delete()
    codes = [_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=recovery_code_digest(code)) for code in codes)
    return codes


def two_factor_enabled(*, user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


@transaction.atomic
def two_factor_setup_start(*, user: User) -> TOTPDevice:
    """A new unconfirmed authenticator device (a fresh secret), replacing an earlier unconfirmed one."""
    lock_row(User, user.pk, fields=("id",))
    if two_factor_enabled(user=user):
        raise TwoFactorOn()
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def two_factor_setup_device(*, user: User) -> TOTPDevice | None:
    """The unconfirmed device a setup in progress shows (its QR code and secret)."""
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()


def _failure_check(user: User) -> None:
    wait = rate_limit_wait(
        scope=FAILURE_SCOPE,
        key=str(user.pk),
        limit=settings.TWO_FACTOR_FAILURE_LIMIT,
        window_seconds=FAILURE_WINDOW_SECONDS,
    )
    if wait:
        raise rate_limited(wait)


def _failure_count(user: User) -> None:
    # Outside any transaction of ours: the counter lives in the (database) cache, and a
    # rolled-back transaction would take the count back with it.
    rate_limit_hit(
        scope=FAILURE_SCOPE,
        key=str(user.pk),
        limit=settings.TWO_FACTOR_FAILURE_LIMIT,
        window_seconds=FAILURE_WINDOW_SECONDS,
    )


def two_factor_confirm(*, user: User, code: str) -> list[str]:
    """Turn two-factor on: the code from the app confirms the device set up; the recovery codes
    (in clear, to show once) are returned. Wrong codes count towards the throttle."""
    _failure_check(user)
    with transaction.atomic():
        lock_row(User, user.pk, fields=("id",))
        device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
        if device is None:
            raise TwoFactorOn() if two_factor_enabled(user=user) else SetupExpired()
        accepted = _normalized(code).isdigit() and device.verify_token(_normalized(code))
        if accepted:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
            return _recovery_codes_replace(user=user)
    _failure_count(user)
    raise InvalidCode("That code is not valid. Enter the six digits your app shows now.", field="code")


@transaction.atomic
def two_factor_recovery_codes_regenerate(*, user: User) -> list[str]:
    lock_row(User, user.pk, fields=("id",))
    if not two_factor_enabled(user=user):
        raise TwoFactorOff()
    return _recovery_codes_replace(user=user)


def two_factor_recovery_codes_left(*, user: User) -> int:
    return StaticToken.objects.filter(device__user=user).count()


@transaction.atomic
def two_factor_disable(*, user: User) -> None:
    """Remove the authenticator and the recovery codes. The caller has checked the password or a code."""
    lock_row(User, user.pk, fields=("id",))
    if not two_factor_enabled(user=user):
        raise TwoFactorOff()
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


def _matching_device(user: User, code: str) -> Device | None:
    """The device that accepts `code` (six digits from the app, or a recovery code, used up)."""
    typed = _normalized(code)
    if not typed:
        return None
    with transaction.atomic():
        lock_row(User, user.pk, fields=("id",))
        for device in devices_for_user(user, confirmed=True):
            if isinstance(device, TOTPDevice):
                matched = typed.isdigit() and device.verify_token(typed)
            else:  # StaticDevice: the recovery codes
                matched = device.verify_token(recovery_code_digest(typed))
            if matched:
                return device
    return None


def two_factor_verify(*, user: User, code: str, field: str = "code") -> Device:
    """The device that accepts `code`, or `InvalidCode`; `RateLimited` once TWO_FACTOR_FAILURE_LIMIT
    wrong codes were tried in 15 minutes."""
    _failure_check(user)
    device = _matching_device(user, code)
    if device is None:
        _failure_count(user)
        raise InvalidCode(field=field)
    return device


def two_factor_turn_off(*, user: User, confirmation: str, field: str = "confirmation") -> None:
    """Turn two-factor off for the person who proves it again with the password or a code (one
    failure counted for a wrong one, whichever it was meant to be)."""
    _failure_check(user)
    password_ok = bool(confirmation) and user.has_usable_password() and user.check_password(confirmation)
    if not password_ok and _matching_device(user, confirmation) is None:
        _failure_count(user)
        raise InvalidCode("That is neither your password nor a valid code.", field=field)
    two_factor_disable(user=user)


def password_confirm(*, user: User, password: str, field: str = "password") -> None:
    """The account's password, again (re-authentication, turning two-factor off); wrong ones count
    towards the same throttle as wrong codes."""
    _failure_check(user)
    if not (password and user.has_usable_password() and user.check_password(password)):
        _failure_count(user)
        raise InvalidPassword(field=field)
