"""Billing API: /api/v1/prices/ (public), /api/v1/orgs/{slug}/subscription/, invoices/,
checkout/ and billing-portal/.

Thin views, as elsewhere: the organization is resolved first (404 for anyone outside it,
another organization's API key included), then the input is validated and a service or
selector called. Checkout and the portal move money: they are for people signed in, and
refuse an API key (401 `api_key_not_allowed`) even inside its own organization.
"""

import logging

import stripe
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts.reauth import REAUTH_REQUIRED_DESCRIPTION as REAUTH
from accounts.reauth import reauth_check
from billing import links, selectors
from billing.serializers import (
    CheckoutInputSerializer,
    CheckoutSerializer,
    InvoiceSerializer,
    PortalSerializer,
    PriceSerializer,
    TenantPlanSerializer,
)
from billing.services.checkout import billing_portal_url, checkout_start
from billing.stripe_api import PaymentProviderError
from core.api import Pagination, error_responses
from credits.auth import ApiKeyNotAllowed
from credits.models import ApiKey
from organizations.tenancy import resolve_tenant

logger = logging.getLogger("keel.billing")

SLUG = OpenApiParameter("slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="The organization's slug.")
SESSION_ONLY = (
    "`not_authenticated`; `api_key_not_allowed`: paying and the billing portal are for people signed in, not API keys."
)


# `billing.stripe_api.StripeNotConfigured` answers the 503.
PROVIDER_ERRORS = {
    502: "`payment_provider_error`: Stripe could not be reached or refused; nothing was charged.",
    503: "`billing_unavailable`: payments are not configured on this site.",
}


def _session_only(request) -> None:
    """After the tenant (another organization's key is a 404 first, like everywhere)."""
    if isinstance(request.auth, ApiKey):
        raise ApiKeyNotAllowed("Paying and the billing portal are for people signed in: API keys cannot use them.")


def _stripe_call(function, **kwargs):
    try:
        return function(**kwargs)
    except stripe.StripeError as exc:
        logger.warning("stripe refused %s: %s", function.__name__, exc)
        raise PaymentProviderError() from exc


class PriceListView(GenericAPIView):
    # Public: the catalogue is what the pricing page shows to anyone; a key or a session is not used.
    authentication_classes = []
    permission_classes = [AllowAny]
    serializer_class = PriceSerializer
    pagination_class = None
    filter_backends = ()

    @extend_schema(
        operation_id="prices_list",
        summary="Everything for sale: subscription plans, credit packs, lifetime deals (no sign-in needed)",
        description="The whole catalogue, cheapest first (not paginated). Only prices whose metadata "
        "describes a plan are listed: those are the ones checkout sells.",
        responses={200: PriceSerializer(many=True)},
        tags=["billing"],
    )
    def get(self, request):
        return Response(PriceSerializer(selectors.sellable_prices().prices, many=True).data)


class TenantPlanView(GenericAPIView):
    serializer_class = TenantPlanSerializer

    @extend_schema(
        operation_id="billing_subscription_retrieve",
        summary="The organization's plan: its subscription, lifetime deal, or the free plan",
        parameters=[SLUG],
        responses={200: TenantPlanSerializer},
        tags=["billing"],
    )
    def get(self, request, slug):
        member = resolve_tenant(request, slug)
        return Response(TenantPlanSerializer(selectors.tenant_plan(member.tenant)).data)


class InvoicePagination(Pagination):
    # Invoices have no created_at: newest paid first (paid_at is epoch ms, as the cursor needs).
    ordering = ("-paid_at", "-id")


class InvoiceListView(GenericAPIView):
    serializer_class = InvoiceSerializer
    pagination_class = InvoicePagination
    filter_backends = ()

    @extend_schema(
        operation_id="billing_invoices_list",
        summary="The organization's paid invoices, newest first",
        parameters=[SLUG],
        responses={200: InvoiceSerializer(many=True)},
        tags=["billing"],
    )
    def get(self, request, slug):
        member = resolve_tenant(request, slug)
        page = self.paginate_queryset(selectors.tenant_invoices(member.tenant))
        return self.get_paginated_response(InvoiceSerializer(page, many=True).data)


class CheckoutView(GenericAPIView):
    serializer_class = CheckoutInputSerializer

    @extend_schema(
        operation_id="billing_checkout",
        summary="Buy a plan, a credit pack or the lifetime deal for the organization (signed-in session only)",
        description=(
            "Starts a Stripe Checkout Session: send the buyer to `url`; Stripe brings them back to the "
            "organization's billing success page, where the purchase is applied at once. When the "
            "organization already has a live subscription and the price is another subscription plan, "
            "the subscription changes plan instead (`kind` `upgrade`, invoiced now and prorated, or "
            "`downgrade`, at the period's end) and `url` is null. Needs the billing permission."
        ),
        parameters=[SLUG],
        request=CheckoutInputSerializer,
        responses={
            201: OpenApiResponse(CheckoutSerializer, description="Started (or the plan changed)."),
            **error_responses(
                {
                    400: "`price_kind_mismatch`: the price sells another kind; invalid input.",
                    401: SESSION_ONLY,
                    403: f"`permission_denied`: needs the billing permission (or the CSRF token). {REAUTH}",
                    404: "No such organization for you; `price_unavailable`: that price is not for sale.",
                    409: "`lifetime_owned`: the organization has the lifetime deal; "
                    "`already_on_plan`: its subscription is on this price.",
                    **PROVIDER_ERRORS,
                }
            ),
        },
        tags=["billing"],
    )
    def post(self, request, slug):
        member = resolve_tenant(request, slug)
        _session_only(request)
        reauth_check(request)
        serializer = CheckoutInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = _stripe_call(
            checkout_start,
            member=member,
            provider_price_id=data["price"],
            kind=data.get("kind"),
            success_url=links.checkout_success_url(member.tenant),
            cancel_url=links.checkout_cancel_url(member.tenant),
        )
        body = CheckoutSerializer({"id": result.id, "url": result.url, "kind": result.kind}).data
        return Response(body, status=status.HTTP_201_CREATED)


class BillingPortalView(GenericAPIView):
    serializer_class = PortalSerializer

    @extend_schema(
        operation_id="billing_portal",
        summary="A Stripe customer portal session: cards, invoices, cancellation (signed-in session only)",
        parameters=[SLUG],
        request=None,
        responses={
            200: PortalSerializer,
            **error_responses(
                {
                    401: SESSION_ONLY,
                    403: f"`permission_denied`: needs the billing permission (or the CSRF token). {REAUTH}",
                    **PROVIDER_ERRORS,
                }
            ),
        },
        tags=["billing"],
    )
    def post(self, request, slug):
        member = resolve_tenant(request, slug)
        _session_only(request)
        reauth_check(request)
        url = _stripe_call(billing_portal_url, member=member, return_url=links.billing_page_url(member.tenant))
        return Response(PortalSerializer({"url": url}).data)
