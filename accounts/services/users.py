"""Users: creation, sign-up, profile, status, deletion."""

import re
import uuid
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.emails import email_send
from accounts.models import (
    SignupVia,
    SystemRole,
    User,
    UserEmail,
    UserEmailPreference,
    UserStatus,
    normalize_email,
)
from accounts.selectors import signup_invitation_get
from accounts.services.verification import email_verification_send
from core.errors import ApplicationError, Conflict, NotFound, Refusals, ValidationFailed
from core.locks import lock_rows
from core.time import now_ms

# No "@": the sign-in field treats anything with an "@" as an email address.
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,149}$")
DELETED_PREFIX = "deleted-"


@transaction.atomic
def user_create(
    *,
    username: str,
    email: str,
    password: str | None,
    email_verified: bool = False,
    via: str = SignupVia.EMAIL_PASSWORD,
    **fields,
) -> User:
    """Create a user and their primary email (no checks: callers validate).

    Passwords are hashed with the first of PASSWORD_HASHERS (argon2); a user
    created without one (Google sign-in) has an unusable password.
    """
    user = User(username=username.strip(), **fields)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    if email:
        UserEmail.objects.create(
            user=user, email=normalize_email(email), is_primary=True, verified=email_verified, via=via
        )
    return user


def username_clean(username: str, *, exclude: User | None = None) -> str:
    username = (username or "").strip()
    if not USERNAME_RE.match(username) or username.lower().startswith(DELETED_PREFIX):
        raise ApplicationError(
            "Use 3 to 150 letters, digits, dots, dashes or underscores, starting with a letter or digit.",
            code="invalid_username",
            field="username",
        )
    taken = User.objects.filter(username__iexact=username)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise Conflict("This username is already taken.", code="username_taken", field="username")
    return username


def email_address_clean(email: str, *, field: str = "email") -> str:
    """A syntactically valid address, as Keel stores it (stripped, lowercased): the one rule for
    every address Keel is given (sign-up, added addresses, invitations)."""
    email = normalize_email(email)
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationFailed("Enter a valid email address.", code="invalid_email", field=field) from None
    return email


def email_clean(email: str, *, field: str = "email") -> str:
    """`email_address_clean`, and not verified by any account: an address someone may claim."""
    email = email_address_clean(email, field=field)
    if UserEmail.objects.filter(email=email, verified=True).exists():
        raise Conflict("This email address is already in use by another account.", code="email_taken", field=field)
    return email


def password_check(password: str, *, username: str, email: str = "", field: str = "password", **names) -> None:
    """Django's validators (length >= 12, common passwords, similarity, numeric) as one domain error."""
    # The similarity validator only reads attributes (and `_meta` for labels):
    # an unsaved stand-in lets it compare against the email before it exists.
    candidate = SimpleNamespace(_meta=User._meta, username=username, email=email, **names)
    try:
        validate_password(password, candidate)
    except ValidationError as exc:
        raise ApplicationError(" ".join(exc.messages), code="weak_password", field=field) from None


def _run_hooks(paths: list[str], **kwargs) -> list:
    return [import_string(path)(**kwargs) for path in paths]


def _signup_clean(
    refusals: Refusals, *, username: str | None, email: str | None, password: str | None, **names
) -> tuple[str | None, str | None]:
    """The sign-up rules, each refusal kept in `refusals` (a None input is not checked)."""
    clean_username = refusals.check(username_clean, username) if username is not None else None
    clean_email = refusals.check(email_clean, email) if email is not None else None
    if password is not None:
        refusals.check(
            password_check,
            password,
            username=clean_username or username or "",
            email=clean_email or email or "",
            **names,
        )
    return clean_username, clean_email


def signup_errors(
    *, username: str | None, email: str | None, password: str | None, first_name: str = "", last_name: str = ""
) -> list[ApplicationError]:
    """Every sign-up rule these inputs break (None: not given, not checked), each on its field: the
    sign-up form shows them all at once, beside its own; `user_signup` checks again as it writes."""
    refusals = Refusals()
    _signup_clean(
        refusals, username=username, email=email, password=password, first_name=first_name, last_name=last_name
    )
    return refusals.errors


@transaction.atomic
def user_signup(
    *,
    username: str,
    email: str,
    password: str | None,
    via: str = SignupVia.EMAIL_PASSWORD,
    email_verified: bool = False,
    first_name: str = "",
    last_name: str = "",
    avatar_url: str = "",
    next_url: str = "",
    invitation_token: str = "",
) -> User:
    """Create an account, then run every KEEL_SIGNUP_HOOKS, all or nothing.

    The hooks (default organization, free credits) live in apps above
    `accounts`, so they are named in settings and called as `hook(user=user)`.
    An unverified address gets its verification mail once everything commits;
    `next_url` rides along in the link (an invitation to accept, for instance).

    `invitation_token` is the token of the invitation link the visitor came from. If it names a
    pending invitation to this very address, the address is recorded verified: that link was
    mailed to the address alone, so holding its token proves the visitor reads that mailbox, as
    following a verification link would (docs/accounts.md, "Sign-up from an invitation"). Any
    other address is verified by mail as usual.
    """
    refusals = Refusals()
    username, email = _signup_clean(
        refusals, username=username, email=email, password=password, first_name=first_name, last_name=last_name
    )
    refusals.raise_any()
    invitation = signup_invitation_get(token=invitation_token) if invitation_token else None
    if invitation is not None and invitation.email == email:
        email_verified = True
    try:
        user = user_create(
            username=username,
            email=email,
            password=password,
            email_verified=email_verified,
            via=via,
            first_name=first_name.strip(),
            last_name=last_name.strip(),
            avatar_url=avatar_url,
        )
    except IntegrityError:
        # Lost a race with a concurrent sign-up: re-run the checks for the message.
        username_clean(username)
        email_clean(email)
        raise
    _run_hooks(settings.KEEL_SIGNUP_HOOKS, user=user)
    if not email_verified:
        email_verification_send(user_email=user.emails.get(is_primary=True), next_url=next_url)
    return user


@transaction.atomic
def user_operator_create(*, username: str, email: str, password: str | None) -> User:
    """A site operator (system role `owner`: the admin): the sign-up rules for the username, the
    address (recorded verified and primary) and the password; no organization, no free credits.
    Without a password the account has an unusable one."""
    username = username_clean(username)
    email = email_clean(email)
    if password is not None:
        password_check(password, username=username, email=email)
    return user_create(username=username, email=email, password=password, email_verified=True, role=SystemRole.OWNER)


def avatar_url_clean(value: str, *, current: str = "") -> str:
    value = (value or "").strip()
    if not value or value == current:
        return value
    try:
        URLValidator(schemes=["https", "http"])(value)
    except ValidationError:
        raise ApplicationError(
            "Enter a full http(s) URL to an image.", code="invalid_avatar", field="avatar_url"
        ) from None
    return value


def _profile_clean(
    refusals: Refusals,
    *,
    user: User,
    username: str | None,
    first_name: str | None,
    last_name: str | None,
    avatar_url: str | None,
) -> dict[str, str]:
    """The profile fields to write, cleaned; each refusal kept in `refusals`. None: left as is."""
    values = {}
    if username is not None and username.strip() != user.username:
        values["username"] = refusals.check(username_clean, username, exclude=user)
    for field, value in (("first_name", first_name), ("last_name", last_name)):
        if value is not None:
            if len(value.strip()) > 255:
                refusals.errors.append(ApplicationError("At most 255 characters.", code="invalid", field=field))
            values[field] = value.strip()
    if avatar_url is not None:
        values["avatar_url"] = refusals.check(avatar_url_clean, avatar_url, current=user.avatar_url)
    return values


def profile_errors(
    *,
    user: User,
    username: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    avatar_url: str | None = None,
    avatar=None,
) -> list[ApplicationError]:
    """Every profile rule these inputs break (an upload too), each on its field, for the profile
    form to show at once; `user_update_profile` and `user_avatar_upload` check again as they write."""
    refusals = Refusals()
    _profile_clean(
        refusals, user=user, username=username, first_name=first_name, last_name=last_name, avatar_url=avatar_url
    )
    if avatar is not None:
        refusals.check(avatar_check, avatar)
    return refusals.errors


@transaction.atomic
def user_update_profile(
    *,
    user: User,
    username: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    avatar_url: str | None = None,
) -> User:
    """Change the given profile fields; fields left as None are untouched. Every refusal at once."""
    refusals = Refusals()
    values = _profile_clean(
        refusals, user=user, username=username, first_name=first_name, last_name=last_name, avatar_url=avatar_url
    )
    refusals.raise_any()
    for field, value in values.items():
        setattr(user, field, value)
    if values:
        try:
            with transaction.atomic():
                user.save(update_fields=list(values))
        except IntegrityError:
            raise Conflict("This username is already taken.", code="username_taken", field="username") from None
    return user


# Magic numbers of the image types an avatar may be; SVG is refused (it can carry script).
_IMAGE_SIGNATURES = [
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
]


def _image_extension(head: bytes) -> str | None:
    for signature, extension in _IMAGE_SIGNATURES:
        if head.startswith(signature):
            return extension
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def avatar_check(upload) -> str:
    """The file extension of an acceptable avatar upload (its type read from its first bytes)."""
    if upload.size > settings.AVATAR_MAX_BYTES:
        limit_kb = settings.AVATAR_MAX_BYTES // 1024
        raise ApplicationError(f"The image is larger than {limit_kb} KB.", code="invalid_avatar", field="avatar")
    upload.seek(0)
    extension = _image_extension(upload.read(16))
    upload.seek(0)
    if extension is None:
        raise ApplicationError("Upload a PNG, JPEG, GIF or WebP image.", code="invalid_avatar", field="avatar")
    return extension


def user_avatar_upload(*, user: User, upload) -> User:
    """Store an uploaded image through Django's storage API and point avatar_url at it."""
    extension = avatar_check(upload)
    name = default_storage.save(f"avatars/{user.pk.hex}/{uuid.uuid4().hex}.{extension}", upload)
    user.avatar_url = default_storage.url(name)
    user.save(update_fields=["avatar_url"])
    return user


def user_set_status(*, user: User, status: str) -> bool:
    """Enable or disable an account; True if it changed.

    A disabled user is locked out at once: the auth backend refuses to load
    them for any existing session, and API authentication goes through it.
    """
    if status not in UserStatus.values:
        raise ApplicationError("Unknown status.", code="invalid", field="status")
    changed = (
        User.objects.filter(pk=user.pk, deleted_at__isnull=True)
        .exclude(status=status)
        .update(status=status, updated_at=now_ms())
    )
    user.status = status
    return bool(changed)


@transaction.atomic
def user_delete(*, user: User) -> None:
    """Soft-delete and anonymise an account; every session of it ends.

    KEEL_ACCOUNT_DELETE_HOOKS run first, inside this transaction (organizations
    the user solely owns are deleted or handed over there). Then the personal
    data goes: names, avatar, emails (so the addresses can sign up again),
    preferences; the username becomes `deleted-<hex>` and the password
    unusable. Changing the password hash invalidates every session (Django
    checks it on each request), and the backend refuses deleted users anyway.
    """
    # The user first, then (in the hooks) their organizations: core/locks.py's order.
    locked = next(iter(lock_rows(User, [user.pk])), None)
    if locked is None or locked.deleted_at is not None:
        raise NotFound("This account does not exist.")
    _run_hooks(settings.KEEL_ACCOUNT_DELETE_HOOKS, user=locked)

    primary = UserEmail.objects.filter(user=locked, is_primary=True).first()
    if primary is not None:
        email_send(to=primary.email, template="account_deleted", context={"username": locked.username})
    UserEmail.objects.filter(user=locked).delete()
    UserEmailPreference.objects.filter(user=locked).delete()
    # Its two-factor secret and recovery codes: nothing signs in to a deleted account.
    TOTPDevice.objects.filter(user=locked).delete()
    StaticDevice.objects.filter(user=locked).delete()

    locked.username = f"{DELETED_PREFIX}{uuid.uuid4().hex}"
    locked.first_name = ""
    locked.last_name = ""
    locked.avatar_url = ""
    locked.set_unusable_password()
    locked.deleted_at = now_ms()
    locked.save()
    user.refresh_from_db()
