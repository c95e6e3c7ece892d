from django.db import transaction
from django.utils.text import slugify

from accounts.models import User
from organizations.models import MemberRole, Tenant, TenantMember, TenantMemberCreditLimit


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "org"
    slug, n = base, 1
    while Tenant.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def tenant_create(*, owner: User, name: str, slug: str | None = None, is_default: bool = False) -> Tenant:
    """Create an organization with `owner` as its first owner member."""
    tenant = Tenant.objects.create(name=name, slug=slug or _unique_slug(name), owner=owner, is_default=is_default)
    TenantMember.objects.create(tenant=tenant, user=owner, role=MemberRole.OWNER)
    TenantMemberCreditLimit.objects.create(tenant=tenant, user=owner)
    return tenant


def tenant_create_default(*, user: User) -> Tenant:
    """Sign-up hook: the user's personal default organization."""
    name = f"{user.first_name}'s organization" if user.first_name else f"{user.username}'s organization"
    return tenant_create(owner=user, name=name, is_default=True)
