"""The current organization, and the user's others for the switcher, on every page."""

from django.utils.functional import SimpleLazyObject

from organizations.selectors import user_memberships_list
from organizations.tenancy import SESSION_KEY

SWITCHER_SIZE = 20


def _navigation(request) -> dict:
    memberships = list(user_memberships_list(user=request.user)[:SWITCHER_SIZE])
    current_id = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    current = next((m for m in memberships if str(m.tenant_id) == current_id), None)
    if current is None and current_id:
        current = user_memberships_list(user=request.user, tenant_id=current_id).first()
    if current is None and memberships:
        # Nothing chosen yet (or it is gone): the personal organization, listed first.
        current = memberships[0]
    return {
        "current": current.tenant if current else None,
        "current_member": current,
        "others": [m.tenant for m in memberships if current is None or m.tenant_id != current.tenant_id],
    }


def current_tenant(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Lazy: pages that never show the nav do not pay for the query.
    return {"org_nav": SimpleLazyObject(lambda: _navigation(request))}
