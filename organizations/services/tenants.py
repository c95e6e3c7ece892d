"""Organizations: create, rename, change slug, delete."""

import logging
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string
from django.utils.text import slugify

from accounts.models import User
from audit.services import audit_record
from core.errors import Conflict, ValidationFailed
from core.locks import lock_row
from core.time import now_ms
from organizations.models import (
    InvitationStatus,
    MemberRole,
    Tenant,
    TenantInvitation,
    TenantMember,
    TenantMemberCreditLimit,
    TenantSlug,
)
from organizations.tenancy import OwnerOnly, member_require

logger = logging.getLogger(__name__)

# Slugs that name (or may one day name) a part of the site rather than an
# organization: top-level paths, and words a user could mistake for one.
RESERVED_SLUGS = frozenset(
    {
        "about", "account", "accounts", "admin", "api", "app", "assets", "auth", "billing", "blog", "checkout",
        "credits", "dashboard", "docs", "help", "healthz", "invitations", "invite", "keel", "login", "logout",
        "media", "new", "null", "o", "org", "orgs", "organizations", "pricing", "root", "settings", "signin",
        "signup", "static", "status", "stripe", "support", "system", "undefined", "webhooks", "www",
    }
)  # fmt: skip
SLUG_MIN, SLUG_MAX = 2, 50
SLUG_RE = re.compile(rf"^[a-z0-9][a-z0-9-]{{{SLUG_MIN - 2},{SLUG_MAX - 2}}}[a-z0-9]$")
NAME_MAX = 255

_url_validator = URLValidator(schemes=["http", "https"])


def tenant_name_clean(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("Give the organization a name.", code="name_required", field="name")
    if len(name) > NAME_MAX:
        raise ValidationFailed(f"Keep the name under {NAME_MAX} characters.", code="name_too_long", field="name")
    return name


def tenant_slug_clean(slug: str) -> str:
    slug = (slug or "").strip().lower()
    if not SLUG_RE.match(slug):
        raise ValidationFailed(
            f"Use {SLUG_MIN} to {SLUG_MAX} lowercase letters, digits or hyphens, "
            "starting and ending with a letter or digit.",
            code="slug_invalid",
            field="slug",
        )
    if slug in RESERVED_SLUGS:
        raise ValidationFailed(f"“{slug}” is reserved; choose another slug.", code="slug_reserved", field="slug")
    return slug


def tenant_logo_clean(logo_url: str) -> str:
    logo_url = (logo_url or "").strip()
    if logo_url:
        try:
            _url_validator(logo_url)
        except ValidationError:
            raise ValidationFailed(
                "The logo must be an http(s) URL of an image.", code="logo_invalid", field="logo_url"
            ) from None
    return logo_url


def tenant_slug_is_taken(slug: str, *, tenant: Tenant | None = None) -> bool:
    """Taken by another organization, now or as one of its former slugs (even if deleted)."""
    current = Tenant.objects.filter(slug=slug)
    former = TenantSlug.objects.filter(slug=slug)
    if tenant is not None:
        current = current.exclude(pk=tenant.pk)
        former = former.exclude(tenant=tenant)
    return current.exists() or former.exists()


def _slug_taken_error(slug: str) -> ValidationFailed:
    return Conflict(f"The slug “{slug}” is already taken.", code="slug_taken", field="slug")


def tenant_slug_suggest(name: str) -> str:
    """A free slug derived from `name`: lowercase ASCII words joined by hyphens, numbered if taken."""
    base = slugify(name)[: SLUG_MAX - 6].strip("-")
    if len(base) < SLUG_MIN or base in RESERVED_SLUGS:
        base = f"{base}-org" if base else "org"
    slug, n = base, 1
    while tenant_slug_is_taken(slug):
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def tenant_create(
    *, owner: User, name: str, slug: str | None = None, is_default: bool = False, logo_url: str = ""
) -> Tenant:
    """Create an organization with `owner` as its first owner member (and their credit limit row)."""
    name = tenant_name_clean(name)
    logo_url = tenant_logo_clean(logo_url)
    if slug:
        slug = tenant_slug_clean(slug)
        if tenant_slug_is_taken(slug):
            raise _slug_taken_error(slug)
    if is_default and Tenant.objects.alive().filter(owner=owner, is_default=True).exists():
        raise Conflict("This user already has a personal organization.", code="default_exists")
    for _attempt in range(5):
        candidate = slug or tenant_slug_suggest(name)
        try:
            # A savepoint: losing the race for a slug must not poison the outer transaction.
            with transaction.atomic():
                tenant = Tenant.objects.create(
                    name=name, slug=candidate, owner=owner, is_default=is_default, logo_url=logo_url
                )
            break
        except IntegrityError:
            if not tenant_slug_is_taken(candidate):
                raise
            if slug:
                raise _slug_taken_error(slug) from None
            # Someone took the suggested slug in between: suggest again.
    else:
        raise Conflict("Could not find a free slug; choose one.", code="slug_taken", field="slug")
    TenantMember.objects.create(tenant=tenant, user=owner, role=MemberRole.OWNER)
    TenantMemberCreditLimit.objects.create(tenant=tenant, user=owner)
    audit_record(
        action="tenant.created",
        tenant=tenant,
        target=tenant,
        after={"name": tenant.name, "slug": tenant.slug, "is_default": is_default, "owner": str(owner.pk)},
    )
    return tenant


def tenant_create_default(*, user: User) -> Tenant:
    """Sign-up hook: the user's personal default organization."""
    name = f"{user.first_name}'s organization" if user.first_name else f"{user.username}'s organization"
    return tenant_create(owner=user, name=name, is_default=True)


@transaction.atomic
def tenant_update(
    *,
    tenant: Tenant,
    actor: TenantMember | None,
    name: str | None = None,
    slug: str | None = None,
    logo_url: str | None = None,
) -> Tenant:
    """Rename, change slug or logo. A changed slug is kept as a former slug, so old links keep working.

    `actor` is the acting membership (None: a site operator in the admin).
    """
    if actor is not None:
        member_require(actor, OwnerOnly.MANAGE_ORGANIZATION, "Only an owner can change the organization's settings.")
    tenant = lock_row(Tenant, tenant.pk)
    if tenant.deleted_at is not None:
        raise Conflict("This organization is deleted.", code="already_deleted")
    fields = []
    before = {"name": tenant.name, "slug": tenant.slug, "logo_url": tenant.logo_url}
    if name is not None:
        tenant.name = tenant_name_clean(name)
        fields.append("name")
    if logo_url is not None:
        tenant.logo_url = tenant_logo_clean(logo_url)
        fields.append("logo_url")
    if slug is not None:
        slug = tenant_slug_clean(slug)
        if slug != tenant.slug:
            if tenant_slug_is_taken(slug, tenant=tenant):
                raise _slug_taken_error(slug)
            # Returning to one of its own former slugs frees that history row.
            TenantSlug.objects.filter(tenant=tenant, slug=slug).delete()
            TenantSlug.objects.create(tenant=tenant, slug=tenant.slug)
            tenant.slug = slug
            fields.append("slug")
    if fields:
        try:
            with transaction.atomic():
                tenant.save(update_fields=fields)
        except IntegrityError:
            raise _slug_taken_error(tenant.slug) from None
        after = {"name": tenant.name, "slug": tenant.slug, "logo_url": tenant.logo_url}
        changed = [field for field in after if after[field] != before[field]]
        if changed:
            audit_record(
                action="tenant.updated",
                tenant=tenant,
                target=tenant,
                before={field: before[field] for field in changed},
                after={field: after[field] for field in changed},
            )
    return tenant


def tenant_soft_delete(*, tenant: Tenant) -> bool:
    """Soft delete once (a conditional update), revoke pending invitations, run the delete hooks on commit.

    The caller holds the organization's lock and has checked who may delete it
    (`tenant_delete`, account deletion).
    """
    now = now_ms()
    if not Tenant.objects.filter(pk=tenant.pk, deleted_at__isnull=True).update(deleted_at=now, updated_at=now):
        return False
    tenant.deleted_at = now
    audit_record(action="tenant.deleted", tenant=tenant, target=tenant, before={"slug": tenant.slug})
    TenantInvitation.objects.filter(tenant=tenant, status=InvitationStatus.PENDING).update(
        status=InvitationStatus.REVOKED
    )
    for path in getattr(settings, "KEEL_TENANT_DELETE_HOOKS", []):
        hook = import_string(path)
        transaction.on_commit(lambda hook=hook: hook(tenant=tenant))
    logger.info("tenant soft-deleted: tenant=%s", tenant.pk)
    return True


@transaction.atomic
def tenant_delete(*, tenant: Tenant, actor: TenantMember | None, confirm_name: str) -> Tenant:
    """Soft-delete an organization after its name was typed to confirm. Owner only.

    The personal default organization stays while its user exists.
    """
    if actor is not None:
        member_require(actor, OwnerOnly.DELETE_ORGANIZATION, "Only an owner can delete the organization.")
    tenant = lock_row(Tenant, tenant.pk)
    if tenant.deleted_at is not None:
        raise Conflict("This organization is already deleted.", code="already_deleted")
    if (confirm_name or "").strip() != tenant.name:
        raise Conflict(
            "Type the organization's name exactly to confirm.", code="confirmation_mismatch", field="confirm_name"
        )
    if tenant.is_default and tenant.owner.deleted_at is None:
        raise Conflict(
            "This is the personal organization of its creator; it cannot be deleted while their account exists.",
            code="default_organization",
        )
    tenant_soft_delete(tenant=tenant)
    return tenant
