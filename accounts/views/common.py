from django.utils.http import url_has_allowed_host_and_scheme

SIGN_IN_BACKEND = "accounts.backends.EmailOrUsernameBackend"


def safe_next(request, default: str = "") -> str:
    """The `next` the request carries (POST first), if it stays on this site; else `default`.

    This is what lets an invitation link send someone through sign-up, sign-in
    or verification and back.
    """
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default
