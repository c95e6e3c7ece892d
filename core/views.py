from django.core.exceptions import RequestDataTooBig
from django.views import defaults

from core.api import PayloadTooLarge, error_json, is_api_path

# Django's error handlers (config/urls.py): `/api/` answers in the API's error shape, pages as
# Django does. They serve what happens outside a DRF view (no route matched, a malformed id in
# a path, a body too large for the CSRF check, an unhandled exception); inside one,
# `core.api.exception_handler` answers first.


def bad_request(request, exception):
    if not is_api_path(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        too_large = PayloadTooLarge()
        return error_json(too_large.status_code, too_large.default_code, str(too_large.detail))
    return error_json(400, "bad_request", "The request could not be understood.")


def page_not_found(request, exception):
    if not is_api_path(request):
        return defaults.page_not_found(request, exception)
    return error_json(404, "not_found", "Not found.")


def server_error(request):
    if not is_api_path(request):
        return defaults.server_error(request)
    # Nothing of the failure itself: it is logged (django.request), not shown.
    return error_json(500, "server_error", "Something went wrong on our side.")
