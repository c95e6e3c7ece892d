"""Staff reach the admin only with two-factor authentication (docs/accounts.md, "Staff and the admin").

Under the admin's URL, a staff member without a confirmed authenticator is sent to set one up;
one whose session has not proved it (signed in before turning it on, or through a path that
skipped the second step) is sent to re-authenticate with a code. The admin's own sign-in page
leads to Keel's, which has the second step. Everyone else meets the admin as before (a signed-in
member sees its "not authorised" page). Elsewhere this costs nothing: one prefix test.
"""

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from accounts.services.two_factor import two_factor_enabled
from accounts.sessions import two_factor_verified


class AdminTwoFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self._paths = None

    def paths(self) -> tuple[str, str, str]:
        if self._paths is None:  # the URLconf is not loaded yet when middleware is built
            self._paths = (reverse("admin:index"), reverse("admin:login"), reverse("admin:logout"))
        return self._paths

    def __call__(self, request):
        index, login, logout = self.paths()
        path = request.path_info
        if path.startswith(index) and path != logout and hasattr(request, "user"):
            response = self.gate(request, path=path, login=login, index=index)
            if response is not None:
                return response
        return self.get_response(request)

    def gate(self, request, *, path: str, login: str, index: str):
        user = request.user
        if path == login and not user.is_authenticated:
            back = request.GET.get("next") or index
            return redirect(f"{reverse('accounts:login')}?{urlencode({'next': back})}")
        if not (user.is_authenticated and user.is_staff):
            return None
        back = index if path == login else request.get_full_path()
        if not two_factor_enabled(user=user):
            messages.warning(request, "Staff need two-factor authentication to use the admin: turn it on first.")
            return redirect(f"{reverse('accounts:two_factor')}?{urlencode({'next': back})}")
        if not two_factor_verified(request, user):
            return redirect(f"{reverse('accounts:reauthenticate')}?{urlencode({'next': back})}")
        return None
