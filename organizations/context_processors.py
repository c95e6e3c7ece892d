"""The current organization, and every organization of the user for the switcher, on every page."""

from django.utils.functional import SimpleLazyObject

from organizations.selectors import user_current_membership, user_memberships_list
from organizations.tenancy import SESSION_KEY

SWITCHER_SIZE = 20


def _navigation(request) -> dict:
    memberships = list(user_memberships_list(user=request.user)[:SWITCHER_SIZE])
    current_id = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    current = user_current_membership(user=request.user, tenant_id=current_id, listed=memberships)
    listed = [m.tenant for m in memberships]
    if current is not None and all(t.pk != current.tenant_id for t in listed):
        listed.insert(0, current.tenant)  # chosen, but beyond the first SWITCHER_SIZE
    return {
        "current": current.tenant if current else None,
        "current_member": current,
        "all": listed,
    }


def current_tenant(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Lazy: pages that never show the nav do not pay for the query.
    return {"org_nav": SimpleLazyObject(lambda: _navigation(request))}
