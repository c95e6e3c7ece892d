"""Middleware that serves browsers, passed by for requests made with an API key.

A request to `/api/v1/` with `Authorization: Bearer ...` is authenticated by the
key alone: `credits.auth.ApiKeyAuthentication` comes first and either
authenticates it or refuses it (401), never falling back to the session. So the
middleware that exists for browsers has nothing to do for it: the session,
CSRF (a defence for cookie-authenticated requests; a key is not sent by the
browser on its own), the session's user and messages (docs/performance.md says
what running them cost).

What every request keeps: SecurityMiddleware (HTTPS redirect, HSTS and other
headers), WhiteNoise, CommonMiddleware (host validation against ALLOWED_HOSTS,
trailing slashes), X-Frame-Options, and the two cheap ones of Keel and axes.
Requests without a key, including every session-authenticated API request, go
through everything.

Each class below is the named middleware with one condition in front; in
settings.MIDDLEWARE it takes that middleware's place.
"""

from django.utils.module_loading import import_string

API_KEY_PREFIX = "/api/v1/"


def is_api_key_request(request) -> bool:
    """What `ApiKeyAuthentication` takes as its own (the same test on the header), on the API's routes."""
    if not request.path_info.startswith(API_KEY_PREFIX):
        return False
    scheme = request.META.get("HTTP_AUTHORIZATION", "").split(None, 1)[:1]
    return scheme == ["Bearer"] or [word.lower() for word in scheme] == ["bearer"]


HOOKS = ("process_view", "process_exception", "process_template_response")


def browser_only(wrapped: str) -> type:
    """A subclass of the middleware `wrapped` (so Django's checks still find it) that passes
    API-key requests by: its `__call__` and its hooks do nothing for them."""
    base = import_string(wrapped)

    def __call__(self, request):
        if is_api_key_request(request):
            return self.get_response(request)
        return base.__call__(self, request)

    def unless_api_key(method):
        def hook(self, request, *args, **kwargs):
            return None if is_api_key_request(request) else method(self, request, *args, **kwargs)

        return hook

    namespace = {
        "__module__": __name__,
        "__doc__": f"`{wrapped}`, except for API-key requests.",
        "__call__": __call__,
        **{hook: unless_api_key(getattr(base, hook)) for hook in HOOKS if hasattr(base, hook)},
    }
    return type(base.__name__, (base,), namespace)


SessionMiddleware = browser_only("django.contrib.sessions.middleware.SessionMiddleware")
CsrfViewMiddleware = browser_only("django.middleware.csrf.CsrfViewMiddleware")
AuthenticationMiddleware = browser_only("django.contrib.auth.middleware.AuthenticationMiddleware")
MessageMiddleware = browser_only("django.contrib.messages.middleware.MessageMiddleware")


class CommonMiddleware(import_string("django.middleware.common.CommonMiddleware")):
    """Django's, without APPEND_SLASH on the API: a page's address without its slash redirects
    (a browser follows it), but an API call to `/api/v1/orgs` is 404 in the error shape.
    Redirecting it would lose a POST's body (a 301 turns it into a GET), and with DEBUG on
    Django raises instead; every API path ends in a slash (docs/api.md)."""

    def should_redirect_with_slash(self, request):
        if request.path_info.startswith("/api/"):
            return False
        return super().should_redirect_with_slash(request)


# What Django renders as an HTML page for an /api/ path, in the API's error shape instead.
_API_ERRORS = {
    400: ("bad_request", "The request could not be understood."),
    403: ("permission_denied", "You do not have permission to do this."),
    404: ("not_found", "Not found."),
    500: ("server_error", "Something went wrong on our side."),
}


class ApiErrorShapeMiddleware:
    """Every /api/ answer is JSON in the one error shape, DEBUG or not.

    core.views' error handlers do it in production; with DEBUG on (`make run`)
    Django renders its technical 404 and 500 pages instead of calling them, so
    a client developed against the local site would get HTML where production
    answers JSON. First in MIDDLEWARE: it sees the response every other layer
    made. It replaces only an HTML error page, never a JSON answer.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code in _API_ERRORS
            and request.path_info.startswith("/api/")
            and response.get("Content-Type", "").startswith("text/html")
        ):
            from core.api import error_json  # core.api imports DRF, which loads its settings late

            code, detail = _API_ERRORS[response.status_code]
            return error_json(response.status_code, code, detail)
        return response


class RequestIdMiddleware:
    """First in MIDDLEWARE: every request gets an id (its trusted proxy's X-Request-ID, else a
    new uuid4 hex) and its client address, for the length of the request (core/context.py);
    every log line carries the id (core/logs.py) and the response says it in X-Request-ID."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from core import context

        context.request_start(request)
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response
