"""The API's schema class (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]).

Its own module, not core.api: drf_spectacular.openapi imports DRF's generic
views, which import the pagination class from core.api while being defined.
"""

from drf_spectacular import openapi
from rest_framework import serializers
from rest_framework.permissions import SAFE_METHODS

from core.api import EMAIL_MAX_LENGTH, EMAIL_PATTERN, error_responses

_UNDECLARED = object()


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's, plus the errors every operation of a kind can answer.

    A view declares its own errors (`error_responses`); these come from the plumbing
    around every view, so they are added here, once, where the view does not say
    more: 401 wherever credentials are required, 403 on unsafe methods (a session's
    CSRF check), 404 on any path with a parameter (the organization, the object),
    400/413/415 wherever there is a body, 400 `invalid_cursor` on paginated lists.
    """

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        for code, response in error_responses(self._plumbing_errors(operation)).items():
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(response, str(code))
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        """A request's email is the pattern Django checks it against; a request's non-blank string
        that DRF trims (`trim_whitespace`) must hold more than spaces: `pattern: \\S` says so
        beside drf-spectacular's `minLength: 1`."""
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction == "request" and isinstance(field, serializers.EmailField) and schema.get("type") == "string":
            schema.update(
                pattern=EMAIL_PATTERN, maxLength=min(schema.get("maxLength", EMAIL_MAX_LENGTH), EMAIL_MAX_LENGTH)
            )
            return schema
        if (
            direction == "request"
            and isinstance(field, serializers.CharField)
            and not field.allow_blank
            and field.trim_whitespace
            and "type" in schema
            and "pattern" not in schema
        ):
            schema["pattern"] = r"\S"
        return schema

    def _insert_field_validators(self, field, schema):
        super()._insert_field_validators(field, schema)
        if schema.get("pattern") == EMAIL_PATTERN:
            # `format: email` admits what Django refuses (`a@b.c`) and refuses what it takes (spaces
            # around, trimmed): the pattern it is checked against instead.
            schema.pop("format", None)

    def _get_request_body(self, direction="request"):
        """drf-spectacular documents bodies of POST, PUT and PATCH only; a DELETE that reads one
        (`extend_schema(request=...)`: deleting an organization takes `confirm_name`) has it
        documented too. A DELETE that declares none keeps none (not its view's serializer)."""
        if self.method != "DELETE":
            return super()._get_request_body(direction)
        if self._declared_request() is None:
            return None
        self.method = "POST"
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"

    def _declared_request(self):
        """The request serializer an `extend_schema(request=...)` names, else None (never the view's own)."""
        self._get_serializer = lambda: _UNDECLARED  # what get_request_serializer falls back to
        try:
            serializer = self.get_request_serializer()
        finally:
            del self._get_serializer
        return None if serializer is _UNDECLARED else serializer

    def _plumbing_errors(self, operation) -> dict[int, str | None]:
        errors: dict[int, str | None] = {}
        if {} not in operation.get("security", [{}]):
            errors[401] = None
        if self.method not in SAFE_METHODS:
            errors[403] = None
        if "{" in self.path:
            errors[404] = None
        if "requestBody" in operation:
            errors[400] = (
                "`parse_error`: the body is not JSON, or nests too deeply; else invalid input: "
                "`code` says which, `errors` has the messages per field."
            )
            errors[413] = errors[415] = None
        if self._is_list_view() and self._get_paginator() is not None:
            errors.setdefault(400, "`invalid_cursor`: not a cursor this API gave out.")
        return errors
