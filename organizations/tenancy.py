"""Tenant resolution: the one place a request becomes (tenant, membership).

Pages and the API name the organization by slug in the URL; an API key is
bound to one organization. Anything else answers 404, never 403: another
tenant's objects must be indistinguishable from objects that do not exist.
"""

from django.http import Http404

from core.errors import PermissionDenied
from organizations.models import MemberRole, Permission, TenantMember


def membership_for(*, user, slug: str) -> TenantMember:
    """The signed-in user's membership in the live organization `slug`, or 404."""
    if not getattr(user, "is_authenticated", False):
        raise Http404
    member = (
        TenantMember.objects.select_related("tenant")
        .filter(user=user, tenant__slug=slug, tenant__deleted_at__isnull=True)
        .first()
    )
    if member is None:
        raise Http404
    return member


def resolve_tenant(request, slug: str) -> TenantMember:
    """Membership for a request; an API key bound to another organization gets 404."""
    member = membership_for(user=request.user, slug=slug)
    bound_tenant_id = getattr(getattr(request, "auth", None), "tenant_id", None)
    if bound_tenant_id is not None and bound_tenant_id != member.tenant_id:
        raise Http404
    return member


def member_can(member: TenantMember, permission: Permission | str) -> bool:
    """One permission check for pages, API and admin actions alike."""
    if member.role == MemberRole.OWNER:
        return True
    if member.role == MemberRole.CUSTOM:
        return permission in (member.permissions or [])
    return False


def member_require(member: TenantMember, permission: Permission | str) -> None:
    if not member_can(member, permission):
        raise PermissionDenied()
