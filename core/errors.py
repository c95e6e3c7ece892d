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


class ApplicationErrors(ValidationFailed):
    """Several refusals of one request, raised together so that a form (or the API's `errors`)
    reports every one at once instead of the first alone. `code`, `detail`, `field` and `status`
    are the first refusal's."""

    def __init__(self, errors: list[ApplicationError]):
        first = errors[0]
        super().__init__(first.detail, code=first.code, field=first.field)
        self.status = first.status
        self.errors = list(errors)


class Refusals:
    """Runs independent checks and keeps every refusal, to raise them together (`raise_any`)."""

    def __init__(self):
        self.errors: list[ApplicationError] = []

    def check(self, clean, *args, **kwargs):
        """`clean(*args, **kwargs)`, or None (the refusal kept) if it raises an ApplicationError."""
        try:
            return clean(*args, **kwargs)
        except ApplicationError as error:
            self.errors.append(error)
            return None

    def raise_any(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise ApplicationErrors(self.errors)


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
