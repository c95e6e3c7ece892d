from audit.context import serving


class AuditContextMiddleware:
    """Makes the request being served the audit log's actor (audit/context.py)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with serving(request):
            return self.get_response(request)
