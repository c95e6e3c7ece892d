"""The credits API: /api/v1/orgs/{slug}/credits/... (balance, consume, transactions, grants).

Thin views: resolve the organization (404 for anyone outside it, including
another organization's API key), validate input, call a service or selector,
render. Errors are `{"code", "detail"}` through `core.api.exception_handler`.
"""

import json
import re

import django_filters
from django import forms
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import APIException
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import BIGINT_MAX, BIGINT_MIN, INTEGER, Pagination, error_responses, exception_handler
from core.errors import ApplicationError, PermissionDenied, ValidationFailed
from core.middleware import is_api_key_request
from core.time import now_ms
from credits import selectors
from credits.auth import ApiKeyAuthentication
from credits.models import MAX_CREDITS, Credit, CreditTransaction, TransactionType
from credits.serializers import (
    ConsumeInputSerializer,
    ConsumeOutputSerializer,
    CreditSummarySerializer,
    GrantSerializer,
    TransactionSerializer,
)
from credits.services import credits_consume
from credits.services.consumption import MAX_DESCRIPTION_LENGTH
from credits.services.idempotency import MAX_KEY_LENGTH
from organizations.tenancy import member_sees_all_usage, resolve_tenant

REPLAYED_HEADER = "Idempotent-Replayed"
# An Idempotency-Key, as the schema states it: visible ASCII with spaces only inside, 1 to 255
# characters (HTTP itself trims the spaces around a header's value).
IDEMPOTENCY_KEY_PATTERN = rf"^[!-~](?:[ -~]{{0,{MAX_KEY_LENGTH - 2}}}[!-~])?$"
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)

# 401, and 404/413/415 where a slug or a body makes them possible, are declared for every
# operation by core.schema.AutoSchema; these are the credits routes' own.
ERRORS = error_responses(
    {
        400: "Invalid input (`code` says which).",
        402: "`insufficient_credits`: not enough credits and no room on overdraft.",
        403: "`member_credit_limit_exceeded`, or `permission_denied`.",
        404: "No such organization for this user or key.",
        409: "`idempotency_conflict`: the key was used with a different request.",
    }
)


class NewestFirst(Pagination):
    # Rows of one consumption share created_at: the id makes the order total, so
    # the cursor never skips or repeats a row at a page boundary.
    ordering = ("-created_at", "-id")


class OrganizationAPIView(APIView):
    # API keys first: an unauthenticated request gets 401 with a Bearer challenge.
    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]

    def member(self):
        if not hasattr(self, "_member"):
            self._member = resolve_tenant(self.request, self.kwargs["slug"])
        return self._member


class CreditSummaryView(OrganizationAPIView):
    @extend_schema(
        operation_id="credits_summary",
        summary="Balance, overdraft, usable grants and your own limit",
        responses={200: CreditSummarySerializer, 404: ERRORS[404]},
        tags=["credits"],
    )
    def get(self, request, slug):
        member = self.member()
        summary = selectors.credits_summary(tenant=member.tenant, user=request.user)
        return Response(CreditSummarySerializer(summary).data)


def consume_output(result) -> dict:
    """`ConsumeOutputSerializer(result).data`, built directly: the serializer machinery was a
    noticeable part of a consumption's cost. The serializer stays the schema (`extend_schema`),
    and a test checks that both give the same body.
    """
    return {
        "consumed": result.consumed,
        "balance": result.balance,
        "overdraft": result.overdraft,
        "transactions": [
            {
                "id": str(tx.id),
                "type": str(tx.type),
                "credits": tx.credits,
                "credit": None if tx.credit_id is None else str(tx.credit_id),
                "user": str(tx.user_id),
                "username": tx.user.username,
                "description": tx.description,
                "created_at": tx.created_at,
            }
            for tx in result.transactions
        ],
    }


def consume_input(data) -> tuple[int, str] | None:
    """(amount, description) of a well-formed consume body, read without the serializer; else None.

    The serializer is the contract (and the schema): it validates anything this
    does not accept, and words the errors. A test checks that whatever this
    accepts, the serializer accepts with the same values. It exists because
    the serializer machinery was a noticeable part of a consumption's cost.
    """
    if type(data) is not dict:
        return None
    amount, description = data.get("amount"), data.get("description", "")
    if type(amount) is not int or not 1 <= amount <= MAX_CREDITS or type(description) is not str:
        return None
    description = description.strip()
    if len(description) > MAX_DESCRIPTION_LENGTH or not description.isprintable():
        return None  # the serializer decides (and may accept: tabs, newlines, other scripts' spaces)
    return amount, description


class ConsumeView(OrganizationAPIView):
    # JSON out only: no browsable-API rendering or content negotiation among renderers on the hot path.
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="credits_consume",
        summary="Consume credits, idempotently",
        description=(
            "Spends `amount` credits of the organization for the calling member, all or nothing. "
            "Send an `Idempotency-Key` (a unique string of visible ASCII, at most 255 characters): repeating a request "
            "with the same key returns the first response with `Idempotent-Replayed: true` and spends "
            "nothing; the same key with a different body is a 409. Keys are kept at least 24 hours."
        ),
        request=ConsumeInputSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": IDEMPOTENCY_KEY_PATTERN},
                OpenApiParameter.HEADER,
                required=True,
                description="Unique per request: visible ASCII, spaces only inside, at most 255 characters.",
            )
        ],
        responses={
            201: OpenApiResponse(ConsumeOutputSerializer, description="Consumed (or replayed: see the header)."),
            **{code: ERRORS[code] for code in (400, 402, 403, 404, 409)},
        },
        tags=["credits"],
    )
    def post(self, request, slug):
        member = self.member()
        # META rather than `request.headers`, which builds a dict of every header for this one.
        key = request.META.get("HTTP_IDEMPOTENCY_KEY", "").strip()
        if not key:
            raise ValidationFailed(
                "Send an Idempotency-Key header with every consumption.", code="idempotency_key_required"
            )
        if not _IDEMPOTENCY_KEY.match(key):
            raise ValidationFailed(
                f"The Idempotency-Key is 1 to {MAX_KEY_LENGTH} visible ASCII characters (spaces only inside).",
                code="invalid_idempotency_key",
            )
        body = consume_input(request.data)
        if body is None:
            data = ConsumeInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            body = data.validated_data["amount"], data.validated_data["description"]
        amount, description = body
        result = credits_consume(
            tenant=member.tenant, user=request.user, amount=amount, description=description, idempotency_key=key
        )
        response = Response(consume_output(result), status=status.HTTP_201_CREATED)
        if result.replayed:
            response[REPLAYED_HEADER] = "true"
        return response


# --- the consume route's lane --------------------------------------------------------------
#
# A consumption is the one request every API client makes in a loop, and DRF's dispatch
# (the Request wrapper's negotiation and parsing, `initial`, `finalize_response`) was a fifth
# of its Python (docs/performance.md). The route answers the common request here, with the
# same parts ConsumeView uses, and hands anything else to ConsumeView untouched:
#
# * the same authentication (`ApiKeyAuthentication`) and tenant resolution (`resolve_tenant`);
# * the same input rules: `consume_input` accepts only what the serializer accepts, and the
#   Idempotency-Key checks are ConsumeView's; a body or key they do not accept goes to ConsumeView,
#   which words the error;
# * the same service, and its refusals answered by the same exception handler;
# * the same rendering (a DRF Response with ConsumeView's renderer and headers).
#
# Only a POST with an API key, a JSON body and an `Accept` that can only mean JSON takes the
# lane. `tests/credits/test_consume_lane.py` sends the same requests both ways and compares
# status, headers and body, and checks that ordinary requests take the lane.

_CONSUME_VIEW = ConsumeView.as_view()
_JSON = JSONRenderer()
_ALLOW = ", ".join(ConsumeView().allowed_methods)
_PLAIN_ACCEPTS = ("", "*/*", "application/json")


def _lane_input(request) -> tuple[str, int, str] | None:
    """(idempotency key, amount, description) of a request the lane can take, else None."""
    meta = request.META
    if request.method != "POST" or meta.get("CONTENT_TYPE", "") != "application/json":
        return None
    if meta.get("HTTP_ACCEPT", "") not in _PLAIN_ACCEPTS or not is_api_key_request(request):
        return None
    key = meta.get("HTTP_IDEMPOTENCY_KEY", "").strip()
    if not _IDEMPOTENCY_KEY.match(key):
        return None
    try:
        data = json.loads(request.body.decode())  # UTF-8, as DRF's parser reads it
    except (RequestDataTooBig, ValueError, RecursionError):
        return None
    body = consume_input(data)
    return None if body is None else (key, *body)


def _render(response: Response, request) -> Response:
    # What ConsumeView's finalize_response gives it: the one renderer, and the Allow header.
    response.accepted_renderer, response.accepted_media_type = _JSON, _JSON.media_type
    response.renderer_context = {"request": request, "response": response}
    response["Allow"] = _ALLOW
    return response


@csrf_exempt
def consume(request, slug):
    """POST /api/v1/orgs/{slug}/credits/consume/: the lane above, or ConsumeView."""
    lane_input = _lane_input(request)
    if lane_input is None:
        return _CONSUME_VIEW(request, slug=slug)
    key, amount, description = lane_input
    drf_request = Request(request)
    try:
        authenticated = ApiKeyAuthentication().authenticate(drf_request)
        if authenticated is None:
            return _CONSUME_VIEW(request, slug=slug)
        drf_request.user, drf_request.auth = authenticated
        member = resolve_tenant(drf_request, slug)
    except (APIException, Http404):
        return _CONSUME_VIEW(request, slug=slug)  # it answers (401, 404) in the one shape
    try:
        result = credits_consume(
            tenant=member.tenant, user=drf_request.user, amount=amount, description=description, idempotency_key=key
        )
    except ApplicationError as error:
        return _render(exception_handler(error, {"request": drf_request}), drf_request)
    response = _render(Response(consume_output(result), status=status.HTTP_201_CREATED), drf_request)
    if result.replayed:
        response[REPLAYED_HEADER] = "true"
    return response


# drf-spectacular documents the route from its view class, as it does for `as_view()`.
consume.cls, consume.initkwargs = ConsumeView, {}


class EpochMsField(forms.IntegerField):
    """A whole number of epoch milliseconds as the schema says (`integer`, BIGINT's range):
    `5.0`, `1e3` and `0.5` are refused (Django's IntegerField takes `5.0` as 5)."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if not INTEGER.fullmatch(str(value)) or not BIGINT_MIN <= int(value) <= BIGINT_MAX:
            raise forms.ValidationError("A whole number of epoch milliseconds.", code="invalid")
        return int(value)


class EpochMsFilter(django_filters.NumberFilter):
    field_class = EpochMsField


class TransactionFilter(django_filters.FilterSet):
    type = django_filters.MultipleChoiceFilter(choices=TransactionType.choices, help_text="Repeat to allow several.")
    member = django_filters.UUIDFilter(field_name="user_id", help_text="A member's user id.")
    credit = django_filters.UUIDFilter(field_name="credit_id", help_text="A grant's id.")
    created_after = EpochMsFilter(field_name="created_at", lookup_expr="gte", help_text="Epoch ms, inclusive.")
    created_before = EpochMsFilter(field_name="created_at", lookup_expr="lt", help_text="Epoch ms, exclusive.")

    def is_valid(self):
        """django-filter reads `?credit=` as no filter at all; the schema says a filter is a UUID, an
        integer or a type, so an empty one is 400 `invalid` (leave it out instead)."""
        valid = super().is_valid()
        for name in self.filters:
            if "" in self.data.getlist(name) and name not in self.form.errors:
                self.form.add_error(name, forms.ValidationError("Give a value, or leave it out.", code="invalid"))
        return valid and not self.form.errors


class TransactionListView(OrganizationAPIView, generics.ListAPIView):
    """The organization's ledger, newest first.

    Members who may not see all usage see their own rows only.
    """

    serializer_class = TransactionSerializer
    filterset_class = TransactionFilter
    pagination_class = NewestFirst

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request to resolve
            return CreditTransaction.objects.none()
        member = self.member()
        if member_sees_all_usage(member):
            return selectors.credit_transactions_for(tenant=member.tenant)
        asked = self.request.query_params.get("member")
        if asked and asked != str(self.request.user.pk):
            raise PermissionDenied("You may see your own usage only.")
        return selectors.credit_transactions_for(tenant=member.tenant, user=self.request.user)

    @extend_schema(
        operation_id="credits_transactions_list",
        tags=["credits"],
        responses={
            200: TransactionSerializer(many=True),
            **error_responses(
                {
                    400: "A bad filter (`invalid_choice`, `invalid`), or `invalid_cursor`.",
                    403: "`permission_denied`: `member` is someone else, and you may see your own usage only.",
                }
            ),
            404: ERRORS[404],
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class GrantListView(OrganizationAPIView, generics.ListAPIView):
    """Every grant of the organization, newest first, with its state now."""

    serializer_class = GrantSerializer
    pagination_class = NewestFirst

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Credit.objects.none()
        return selectors.credit_grants_for(tenant=self.member().tenant)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": now_ms()}

    @extend_schema(
        operation_id="credits_grants_list",
        tags=["credits"],
        responses={200: GrantSerializer(many=True), 404: ERRORS[404]},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
