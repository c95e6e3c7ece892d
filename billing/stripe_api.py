"""The one way Keel talks to Stripe: a `stripe.StripeClient` on the pinned API version,
with the account's secret key, pointed at `STRIPE_API_BASE` (the sandbox) when it is set
(docs/billing.md)."""

from functools import cache
from urllib.parse import urlsplit

import stripe
from django.conf import settings
from djstripe.settings import djstripe_settings

from core.errors import ApplicationError


class StripeNotConfigured(ApplicationError):
    status = 503
    code = "billing_unavailable"


class PaymentProviderError(ApplicationError):
    status = 502
    code = "payment_provider_error"
    default_detail = "Stripe could not be reached or refused the request; nothing was charged. Try again."


def configure_library() -> None:
    """Point the `stripe` module, which dj-stripe uses, at the same API as Keel's client."""
    stripe.api_version = settings.STRIPE_API_VERSION
    if settings.STRIPE_API_BASE:
        stripe.api_base = settings.STRIPE_API_BASE


def client() -> stripe.StripeClient:
    """Keel's client, on the API the `stripe` module (and so dj-stripe) is pointed at."""
    key = djstripe_settings.STRIPE_SECRET_KEY
    if not key:
        raise StripeNotConfigured("Payments are not configured on this site.")
    return _client(key, settings.STRIPE_API_VERSION, stripe.api_base)


@cache
def _client(key: str, version: str, base: str) -> stripe.StripeClient:
    return stripe.StripeClient(key, stripe_version=version, base_addresses={"api": base}, max_network_retries=2)


STRIPE_API = "https://api.stripe.com"
STRIPE_HOSTED_PAGES = ["https://checkout.stripe.com", "https://billing.stripe.com"]


def hosted_page_origins() -> list[str]:
    """Where the checkout and billing-portal forms are redirected to (Stripe's hosted pages), for
    the Content Security Policy's form-action (settings.KEEL_CSP_FORM_ACTION_HOOKS): the origin of
    the API Keel talks to when it is not Stripe's (the sandbox serves its pages there), else
    Stripe's checkout and billing hosts."""
    base = (stripe.api_base or STRIPE_API).rstrip("/")
    if base == STRIPE_API:
        return STRIPE_HOSTED_PAGES
    parts = urlsplit(base)
    return [f"{parts.scheme}://{parts.netloc}"]
