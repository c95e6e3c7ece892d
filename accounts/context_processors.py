"""Whether staff are signed in as this user for support, for the banner on every page."""

from audit.context import HIJACK_HISTORY_KEY


def impersonation(request) -> dict:
    # The session only (already loaded for the signed-in user): no query on any page.
    user = getattr(request, "user", None)
    session = getattr(request, "session", None)
    if user is None or session is None or not user.is_authenticated:
        return {}
    return {"impersonating": bool(session.get(HIJACK_HISTORY_KEY))}
