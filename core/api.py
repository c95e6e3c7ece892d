"""API plumbing shared by every app: one error shape (and its schema), one pagination."""

import re
from collections.abc import Iterable, Mapping
from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema_field, extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ApplicationError


@extend_schema_serializer(component_name="ApiError")
class ErrorSerializer(serializers.Serializer):
    """The shape of every API error (`exception_handler` below), for the OpenAPI schema."""

    code = serializers.CharField(help_text="Stable machine-readable code, e.g. `email_taken`, `insufficient_credits`.")
    detail = serializers.CharField(help_text="What went wrong, for people.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Invalid input only: the messages per field, keyed by the field's path "
        "(`email`; `permissions.0` for an item of a list; `items.2.amount` inside nested objects); "
        "`non_field_errors` for the body as a whole.",
    )


# An http(s) URL with a DNS name, spaces around it trimmed, or only spaces (blank once trimmed; ""
# itself is the `maxLength: 0` that drf-spectacular adds beside a blank-allowing field): for the
# schema, the part of what Django's URLValidator accepts that a `pattern` can state (ASCII names,
# no IP addresses; up to six labels of at most 40 characters, the last of letters, so that a host
# stays under the 253 characters Django allows).
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}[A-Za-z0-9])?"
OPTIONAL_HTTP_URL_PATTERN = (
    rf"^(?:\s+|\s*https?://{_LABEL}(?:\.{_LABEL}){{0,4}}\.[A-Za-z]{{2,24}}(?::[0-9]{{1,4}})?(?:[/?#][!-~]*)?\s*)$"
)


# An email address, spaces around it trimmed: for the schema, the part of what Django's
# validate_email accepts that a `pattern` can state (a dot-atom local part, ASCII names, a TLD of
# letters), at most 320 characters as it allows.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
EMAIL_PATTERN = rf"^\s*{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}\s*$"
EMAIL_MAX_LENGTH = 320


def documented(field_class: type[serializers.Field], schema: dict, **kwargs) -> serializers.Field:
    """A `field_class(**kwargs)` whose schema is stated as `{"type": "string", **schema}`: the
    pattern (or bounds) that the service behind it checks, which the field itself cannot say.
    The service stays the check: it refuses with its own codes, every refused field at once.
    (A subclass carries the statement: DRF copies fields by re-creating them from their class.)"""
    subclass = type(f"Documented{field_class.__name__}", (field_class,), {"__module__": __name__})
    return extend_schema_field({"type": "string", **schema})(subclass)(**kwargs)


def _json_type_fits(field: serializers.Field, value) -> bool:
    """Whether a JSON value has the type the schema gives `field` (null is the field's own business)."""
    if value is None:
        return True
    if isinstance(field, serializers.BooleanField):
        return isinstance(value, bool)
    if isinstance(field, serializers.IntegerField):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(field, serializers.CharField | serializers.ChoiceField | serializers.UUIDField):
        return isinstance(value, str)
    if isinstance(field, serializers.ListField):
        return isinstance(value, list) and all(_json_type_fits(field.child, item) for item in value)
    return True


# A request body's serializer that takes JSON types as the schema states them. DRF coerces: `0`
# for a boolean is false, `5` for a string is "5". The schema says `boolean`, `string`, `integer`,
# and clients are generated from it, so a value of another JSON type is 400 `invalid` here, before
# the fields' own validation. (A comment, not a docstring: drf-spectacular would print a
# docstring as the description of every request body.)
class InputSerializer(serializers.Serializer):
    default_error_messages = {"wrong_type": "Expected a {type}, as the schema says."}
    TYPE_NAMES = (
        (serializers.BooleanField, "boolean"),
        (serializers.IntegerField, "whole number"),
        (serializers.ListField, "list"),
    )

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            errors = {
                name: [ErrorDetail(self._wrong_type(field), code="invalid")]
                for name, field in self.fields.items()
                if not field.read_only and name in data and not _json_type_fits(field, data[name])
            }
            if errors:
                raise exceptions.ValidationError(errors)
        return super().to_internal_value(data)

    def _wrong_type(self, field) -> str:
        name = next((name for kind, name in self.TYPE_NAMES if isinstance(field, kind)), "string")
        return self.error_messages["wrong_type"].format(type=name)


# What each status means on any Keel operation; an operation's own description says more.
ERROR_DESCRIPTIONS = {
    400: "Invalid input: `code` says which, `errors` has the messages per field.",
    401: "`not_authenticated`: no credentials; `invalid_api_key`: an invalid or revoked key, or its user "
    "disabled; `api_key_not_allowed`: a key outside its organization's routes.",
    403: "`permission_denied`: not allowed here (or a session request without its CSRF token).",
    404: "`not_found`: no such object, or not one you may see.",
    409: "Conflicts with the current state; `code` says how.",
    413: "`payload_too_large`: the body is over the size limit.",
    415: "`unsupported_media_type`: the body must be JSON (`Content-Type: application/json`).",
    429: "`rate_limited`: too many requests; try again later.",
}


def error_responses(statuses: Mapping[int, str | None] | Iterable[int]) -> dict[int, OpenApiResponse]:
    """`{status: OpenApiResponse(ErrorSerializer)}` for `extend_schema(responses=...)`.

    `error_responses({400: "`email_taken`, ...", 404: None})`: a description per status,
    or None (or a bare list of statuses) for the default above.
    """
    if not isinstance(statuses, Mapping):
        statuses = dict.fromkeys(statuses)
    return {
        code: OpenApiResponse(
            ErrorSerializer, description=description or ERROR_DESCRIPTIONS.get(code) or HTTPStatus(code).phrase
        )
        for code, description in statuses.items()
    }


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"

    def __init__(self):
        super().__init__(f"The request body is over the {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,}-byte limit.")


def is_api_path(request) -> bool:
    return request.path_info.startswith("/api/")


def error_json(status_code: int, code: str, detail: str) -> JsonResponse:
    """The error shape outside DRF: Django's error handlers (`core.views`) answer `/api/` paths with it."""
    return JsonResponse({"code": code, "detail": detail}, status=status_code)


def flatten_errors(detail) -> dict[str, list[str]]:
    """DRF's nested validation errors as `{"field.path": [messages]}`.

    A ListField's `{0: [...]}`, a nested serializer's dict and a list serializer's
    per-item dicts all become dotted paths (`permissions.0`, `address.city`,
    `items.2.amount`); errors of the body as a whole are `non_field_errors`.
    """
    flat: dict[str, list[str]] = {}

    def walk(node, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, dict | list):
                    walk(item, f"{path}.{index}" if path else str(index))
                else:
                    walk(item, path)
        else:
            flat.setdefault(path or api_settings.NON_FIELD_ERRORS_KEY, []).append(node)

    walk(detail, "")
    return flat


def _first(flat: dict[str, list]) -> tuple[str, str, str]:
    """(path, message, code) of the first error: it speaks for the whole in `code` and `detail`."""
    for path, messages in flat.items():
        if messages:
            return path, str(messages[0]), getattr(messages[0], "code", None) or "invalid"
    return api_settings.NON_FIELD_ERRORS_KEY, "Invalid input.", "invalid"


def exception_handler(exc, context):
    """Every API error is `{"code": "...", "detail": "..."}` (+ `errors`, messages per field path)."""
    if isinstance(exc, ApplicationError):
        body = {"code": exc.code, "detail": exc.detail}
        fields: dict[str, list[str]] = {}
        for one in getattr(exc, "errors", None) or [exc]:  # several at once: ApplicationErrors
            if one.field:
                fields.setdefault(one.field, []).append(one.detail)
        if fields:
            body["errors"] = fields
        return Response(body, status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, RequestDataTooBig):  # reading the body, in the JSON parser
        exc = PayloadTooLarge()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # not an API error: Django's handler500 (core.views.server_error) answers
    flat = flatten_errors(exc.detail)
    path, message, code = _first(flat)
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "code": code,
            "detail": message if path == api_settings.NON_FIELD_ERRORS_KEY else f"{path}: {message}",
            "errors": {field: [str(m) for m in messages] for field, messages in flat.items()},
        }
    else:
        response.data = {"code": code, "detail": message}
    return response


BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
INTEGER = re.compile(r"-?[0-9]{1,19}")
_PAGE_SIZE = re.compile(r"[0-9]{1,4}")


def invalid_cursor() -> exceptions.ValidationError:
    message = "Not a cursor this API gave out; follow a page's `next` or `previous` link."
    return exceptions.ValidationError({"cursor": [ErrorDetail(message, "invalid_cursor")]})


class Pagination(CursorPagination):
    """Cursor pagination: stable under inserts, constant cost deep into history.

    Every list is ordered by `created_at` first (BIGINT epoch ms, subclasses may add a
    tiebreaker): a cursor's position is that integer. A client can forge a cursor
    (it is base64 of `o=&r=&p=`), so anything else is 400 `invalid_cursor` before it
    reaches the database (a position like `abc` or `1e400` was a 500 there), and so is
    what DRF itself refuses (its 404 "Invalid cursor").
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-created_at"

    def get_page_size(self, request):
        """`page_size`, strictly: one whole number from 1 to `max_page_size`, else 400 `invalid_page_size`
        (DRF's own quietly falls back to the default, so a typo was never noticed)."""
        values = request.query_params.getlist(self.page_size_query_param)
        if not values:
            return self.page_size
        if len(values) > 1 or not _PAGE_SIZE.fullmatch(values[0]) or not 1 <= int(values[0]) <= self.max_page_size:
            message = f"A whole number from 1 to {self.max_page_size}, once."
            raise exceptions.ValidationError({self.page_size_query_param: [ErrorDetail(message, "invalid_page_size")]})
        return int(values[0])

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
                parameter["description"] = f"Results per page, 1 to {self.max_page_size} (default {self.page_size})."
            elif parameter["name"] == self.cursor_query_param:
                parameter["description"] = (
                    "Opaque: a `next` or `previous` link's cursor, as given; anything else is 400 `invalid_cursor`."
                )
        return parameters

    def get_paginated_response_schema(self, schema):
        page = super().get_paginated_response_schema(schema)
        page["required"] = ["next", "previous", "results"]  # always there; the links null at the ends
        return page

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            raise invalid_cursor() from None
        position = None if cursor is None else cursor.position
        if position is not None and not (INTEGER.fullmatch(position) and BIGINT_MIN <= int(position) <= BIGINT_MAX):
            raise invalid_cursor()
        return cursor
