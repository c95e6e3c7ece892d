"""The one domain error type.

Services raise `ApplicationError` subclasses with a stable machine-readable
`code`; the API maps them once to `{"code", "detail"}` responses with the
subclass's `status`, HTML views turn them into form errors or messages.
"""


class ApplicationError(Exception):
    code = "error"
    status = 400
    default_detail = "The request could not be completed."

    def __init__(self, detail: str | None = None, *, code: str | None = None, field: str | None = None):
        self.detail = detail or self.default_detail
        if code:
            self.code = code
        self.field = field
        super().__init__(self.detail)


class ValidationFailed(ApplicationError):
    code = "invalid"
    status = 400


class PermissionDenied(ApplicationError):
    code = "permission_denied"
    status = 403
    default_detail = "You do not have permission to do this."


class NotFound(ApplicationError):
    code = "not_found"
    status = 404
    default_detail = "Not found."


class Conflict(ApplicationError):
    code = "conflict"
    status = 409
