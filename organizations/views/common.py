"""What every organization page shares: sign-in, tenant resolution first, one way to refuse."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseNotAllowed
from django.shortcuts import render

from core.errors import PermissionDenied
from organizations.tenancy import member_can, resolve_tenant


def forbidden(request, member, detail: str):
    return render(request, "organizations/forbidden.html", {"member": member, "detail": detail}, status=403)


def tenant_page(*, methods=("GET", "POST"), permission: str | None = None, denied: str = ""):
    """Decorate a page `view(request, member, **kwargs)` under /o/<slug>/.

    The tenant is resolved before anything else, the HTTP method included, so
    another organization's pages answer 404 whatever is asked of them.
    """

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, slug, **kwargs):
            member = resolve_tenant(request, slug)
            if request.method not in methods:
                return HttpResponseNotAllowed(methods)
            if permission and not member_can(member, permission):
                return forbidden(request, member, denied or "You do not have permission to see this page.")
            try:
                return view(request, member, **kwargs)
            except PermissionDenied as error:
                return forbidden(request, member, error.detail)

        return wrapped

    return decorator
