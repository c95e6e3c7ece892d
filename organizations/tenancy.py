"""Tenant resolution: the one place a request becomes (tenant, membership).

Pages and the API name the organization by slug in the URL; an API key is
bound to one organization. Anything else answers 404, never 403: another
tenant's objects must be indistinguishable from objects that do not exist.

A slug the organization used before still resolves: pages redirect (GET/HEAD)
to the current slug, the API answers as if the current slug had been used, so
that clients keep working across a rename.
"""

from django.http import Http404
from django.urls import NoReverseMatch, reverse
from rest_framework.request import Request

from core.errors import PermissionDenied
from organizations.models import MemberRole, Permission, TenantMember, TenantSlug
from organizations.selectors import user_memberships_list

SESSION_KEY = "keel_current_tenant"


class OwnerOnly:
    """Actions no `custom` permission grants: they pass `member_can` for owners only.

    A custom member's permissions are validated against `Permission`, so these
    values can never be in their list.
    """

    MANAGE_ORGANIZATION = "manage_organization"  # rename, change slug, logo
    DELETE_ORGANIZATION = "delete_organization"
    MANAGE_CREDIT_LIMITS = "manage_credit_limits"
    TRANSFER_OWNERSHIP = "transfer_ownership"
    GRANT_OWNER = "grant_owner"  # make someone an owner, or change/remove an owner
    VIEW_AUDIT_LOG = "view_audit_log"  # the organization's audit log (docs/audit.md)


class TenantMoved(Http404):
    """A page asked for an organization by a slug it no longer uses.

    `organizations.middleware.TenantSlugRedirectMiddleware` turns it into a
    redirect; being an Http404, it degrades to a 404 anywhere else.
    """

    def __init__(self, location: str):
        super().__init__("This organization has moved.")
        self.location = location


def membership_for(*, user, slug: str) -> TenantMember:
    """The signed-in user's membership in the live organization `slug` (current or former), or 404."""
    if not getattr(user, "is_authenticated", False):
        raise Http404
    member = user_memberships_list(user=user).filter(tenant__slug=slug).first()
    if member is None:
        # Only a miss pays for the history lookup.
        tenant_id = TenantSlug.objects.filter(slug=slug).values_list("tenant_id", flat=True).first()
        if tenant_id is not None:
            member = user_memberships_list(user=user, tenant_id=tenant_id).first()
    if member is None:
        raise Http404
    return member


def _is_api_request(request) -> bool:
    # DRF views pass their wrapper around the HttpRequest.
    return isinstance(request, Request)


def _moved_location(request, new_slug: str, old_slug: str) -> str:
    match = getattr(request, "resolver_match", None)
    location = None
    if match is not None and match.view_name and match.kwargs.get("slug") == old_slug:
        try:
            location = reverse(match.view_name, args=match.args, kwargs={**match.kwargs, "slug": new_slug})
        except NoReverseMatch:
            location = None
    if location is None:
        location = request.path.replace(f"/{old_slug}/", f"/{new_slug}/", 1)
    query = request.META.get("QUERY_STRING")
    return f"{location}?{query}" if query else location


def resolve_tenant(request, slug: str) -> TenantMember:
    """Membership for a request; an API key bound to another organization gets 404.

    For pages, also remembers the organization as the session's current one.
    """
    auth = getattr(request, "auth", None)
    # An API key's authentication loaded its user's membership in its organization
    # (`credits.auth`): when the URL names that organization by its current slug
    # and it is alive, that is exactly what `membership_for` would find.
    member = getattr(auth, "membership", None)
    if not (
        member is not None
        and member.user_id == getattr(request.user, "pk", None)
        and member.tenant.slug == slug
        and member.tenant.deleted_at is None
    ):
        member = membership_for(user=request.user, slug=slug)
    bound_tenant_id = getattr(auth, "tenant_id", None)
    if bound_tenant_id is not None and bound_tenant_id != member.tenant_id:
        raise Http404
    if _is_api_request(request):
        return member
    if member.tenant.slug != slug and request.method in ("GET", "HEAD"):
        raise TenantMoved(_moved_location(request, member.tenant.slug, slug))
    session = getattr(request, "session", None)
    if session is not None and session.get(SESSION_KEY) != str(member.tenant_id):
        session[SESSION_KEY] = str(member.tenant_id)
    return member


def member_can(member: TenantMember, permission: Permission | str) -> bool:
    """One permission check for pages, API and admin actions alike."""
    if member.role == MemberRole.OWNER:
        return True
    if member.role == MemberRole.CUSTOM:
        return permission in (member.permissions or [])
    return False


def member_sees_all_usage(member: TenantMember) -> bool:
    """The one rule for seeing other members' usage (credits used, limits, their ledger rows):
    owners and members granted `view_all_usage`. Everyone sees their own."""
    return member_can(member, Permission.VIEW_ALL_USAGE)


def member_require(member: TenantMember, permission: Permission | str, detail: str | None = None) -> None:
    if not member_can(member, permission):
        raise PermissionDenied(detail)
