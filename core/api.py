"""API plumbing shared by every app: one error shape, one pagination."""

import re

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
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
        help_text="Messages per field, for invalid input.",
    )


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


def _first_code(codes) -> str:
    if isinstance(codes, dict):
        return _first_code(next(iter(codes.values()), "invalid"))
    if isinstance(codes, list):
        return _first_code(codes[0]) if codes else "invalid"
    return str(codes)


def exception_handler(exc, context):
    """Every API error is `{"code": "...", "detail": "..."}` (+ `errors` per field)."""
    if isinstance(exc, ApplicationError):
        body = {"code": exc.code, "detail": exc.detail}
        if exc.field:
            body["errors"] = {exc.field: [exc.detail]}
        return Response(body, status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, RequestDataTooBig):  # reading the body, in a parser or the CSRF check
        exc = PayloadTooLarge()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        first_field, first_messages = next(iter(errors.items()), ("", ["Invalid input."]))
        message = first_messages[0] if isinstance(first_messages, list) and first_messages else str(first_messages)
        response.data = {
            "code": _first_code(exc.get_codes()),
            "detail": f"{first_field}: {message}" if first_field != "non_field_errors" else str(message),
            "errors": errors,
        }
        response.status_code = status.HTTP_400_BAD_REQUEST
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        response.data = {"code": _first_code(code), "detail": str(detail)}
    return response


BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
_INTEGER = re.compile(r"-?[0-9]{1,19}")


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

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            raise invalid_cursor() from None
        position = None if cursor is None else cursor.position
        if position is not None and not (_INTEGER.fullmatch(position) and BIGINT_MIN <= int(position) <= BIGINT_MAX):
            raise invalid_cursor()
        return cursor
