"""Organization-scoped API keys: created, shown once, stored hashed, revocable.

A key is `keel_<prefix>.<secret>`: the prefix (8 characters, shown in lists)
finds the row, the secret (32 random characters, ~190 bits) is checked against
a SHA-512 hash with djangorestframework-api-key's hasher. A fast hash is right
for high-entropy random keys (nothing to brute-force) and keeps each request
cheap; argon2 is for passwords people choose.
"""

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from rest_framework_api_key.crypto import KeyGenerator

from audit.services import audit_event, audit_record, audit_records
from core.errors import PermissionDenied, ValidationFailed
from core.time import now_ms
from credits.models import ApiKey
from organizations.models import MemberRole, Tenant, TenantMember
from organizations.tenancy import OwnerOnly, member_can

KEY_PREFIX = "keel_"
# last_used_at is written at most once a minute per key, not on every request.
LAST_USED_RESOLUTION_MS = 60_000

key_generator = KeyGenerator(prefix_length=8, secret_key_length=32)


def api_key_split(raw_key: str) -> tuple[str, str] | None:
    """(prefix, whole key) of a presented key, or None if it is not shaped like one."""
    if not raw_key.startswith(KEY_PREFIX):
        return None
    prefix, dot, secret = raw_key[len(KEY_PREFIX) :].partition(".")
    if not dot or not prefix or not secret or len(prefix) > 16:
        return None
    return prefix, raw_key


def _key_audit(action: str, api_key: ApiKey, **fields) -> None:
    audit_record(action=action, tenant_id=api_key.tenant_id, target=api_key, target_type="api_key", **fields)


@transaction.atomic
def api_key_create(*, tenant: Tenant, user, name: str) -> tuple[ApiKey, str]:
    """Create a key acting as `user` in `tenant`; returns (key row, the key: shown once, never stored)."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("Give the key a name, so you can tell it apart later.", field="name")
    if len(name) > 100:
        raise ValidationFailed("The name is at most 100 characters.", field="name")
    if not user.is_active:
        raise ValidationFailed("This user cannot use API keys (disabled or deleted).", field="user")
    if not TenantMember.objects.filter(tenant=tenant, user=user).exists():
        raise ValidationFailed("The user is not a member of this organization.", field="user")
    for _attempt in range(3):
        prefix = key_generator.get_prefix()
        raw_key = f"{KEY_PREFIX}{prefix}.{key_generator.get_secret_key()}"
        api_key = ApiKey(tenant=tenant, user=user, name=name, prefix=prefix, hashed_key=key_generator.hash(raw_key))
        try:
            with transaction.atomic():
                api_key.save(force_insert=True)
        except IntegrityError:
            continue  # a prefix collision (about 1 in 10^14): draw again
        _key_audit("api_key.created", api_key, after={"name": name, "prefix": prefix, "user": str(user.pk)})
        return api_key, raw_key
    raise RuntimeError("could not draw a unique API key prefix")


def api_key_verify(*, api_key: ApiKey, raw_key: str) -> bool:
    return key_generator.verify(raw_key, api_key.hashed_key)


def api_key_owner_protected(*, api_key: ApiKey, actor: TenantMember | None) -> bool:
    """Whether `actor` may not revoke `api_key`: it is an owner's key, and the actor is another,
    non-owner member (`manage_api_keys` covers members' keys, not the owners')."""
    if actor is None or member_can(actor, OwnerOnly.GRANT_OWNER) or api_key.user_id == actor.user_id:
        return False
    return TenantMember.objects.filter(
        tenant_id=api_key.tenant_id, user_id=api_key.user_id, role=MemberRole.OWNER
    ).exists()


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: TenantMember | None = None, now: int | None = None) -> bool:
    """Revoke a key for good; False if it already was.

    `actor` is the acting membership (None: a site operator in the admin); only
    an owner may revoke another owner's key.
    """
    if api_key_owner_protected(api_key=api_key, actor=actor):
        raise PermissionDenied("Only an owner can revoke an owner's API key.")
    at_ms = now if now is not None else now_ms()
    revoked = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=at_ms)
    if revoked:
        api_key.revoked_at = at_ms
        _key_audit("api_key.revoked", api_key, after={"revoked_at": at_ms})
    return bool(revoked)


def api_keys_revoke_for_member(*, tenant_id, user_id, now: int | None = None) -> int:
    """Revoke a user's live keys in one organization (their membership ended); returns how many.

    Run by `KEEL_MEMBERSHIP_END_HOOKS` inside the removal's transaction. Such a
    key already stopped working (it acts only through a membership); revoking
    it says so on the keys page and keeps it from coming back if the user
    rejoins.
    """
    at_ms = now if now is not None else now_ms()
    # One UPDATE that says which keys it revoked (RETURNING), and one INSERT of their audit rows.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {ApiKey._meta.db_table} SET revoked_at = %s"
            " WHERE tenant_id = %s AND user_id = %s AND revoked_at IS NULL RETURNING id, name, prefix",
            [at_ms, tenant_id, user_id],
        )
        revoked = cursor.fetchall()
    audit_records(
        [
            audit_event(
                action="api_key.revoked",
                tenant_id=tenant_id,
                target_type="api_key",
                target_id=str(key_id),
                target_label=f"{name} ({prefix}…)",
                after={"revoked_at": at_ms, "reason": "membership_ended"},
            )
            for key_id, name, prefix in revoked
        ]
    )
    return len(revoked)


def api_key_touch(*, api_key: ApiKey, now: int | None = None) -> None:
    """Record use, at most once per LAST_USED_RESOLUTION_MS (no write on most requests)."""
    at_ms = now if now is not None else now_ms()
    stale_before = at_ms - LAST_USED_RESOLUTION_MS
    if api_key.last_used_at is not None and api_key.last_used_at >= stale_before:
        return
    ApiKey.objects.filter(pk=api_key.pk).filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale_before)).update(
        last_used_at=at_ms
    )
    api_key.last_used_at = at_ms
