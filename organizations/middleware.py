from django.http import HttpResponseRedirect

from organizations.tenancy import TenantMoved


class TenantSlugRedirectMiddleware:
    """Pages asked for by a former slug redirect to the organization's current slug.

    A temporary redirect: the organization may take the old slug back, and a
    cached permanent one would then loop.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, TenantMoved):
            return HttpResponseRedirect(exception.location)
        return None
