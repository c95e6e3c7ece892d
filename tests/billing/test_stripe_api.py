"""One Stripe API version for Keel's client, dj-stripe and the `stripe` module."""

import stripe
from django.conf import settings
from djstripe.settings import djstripe_settings
from stripe._api_version import _ApiVersion

from billing import stripe_api


def test_the_installed_stripe_librarys_pin_is_one_keel_decided_on():
    # A new `stripe` release moves its pin: decide (docs/billing.md) and record it here.
    assert _ApiVersion.CURRENT in (settings.STRIPE_API_VERSION, settings.STRIPE_LIBRARY_API_VERSION_REVIEWED)


def test_keel_dj_stripe_and_the_stripe_module_speak_the_pinned_version():
    assert settings.STRIPE_API_VERSION == "2026-05-27.dahlia"
    assert djstripe_settings.STRIPE_API_VERSION == settings.STRIPE_API_VERSION
    assert stripe.api_version == settings.STRIPE_API_VERSION


def test_keels_client_sends_the_pinned_version_to_the_configured_api(stripe_sandbox, settings):
    settings.STRIPE_TEST_SECRET_KEY = stripe.api_key

    customer = stripe_api.client().v1.customers.create(params={"email": "pin@example.com"})

    assert customer.email == "pin@example.com"
    assert customer.last_response.headers["Stripe-Version"] == "2026-05-27.dahlia"
    assert stripe.Customer.retrieve(customer.id).email == "pin@example.com"  # the same sandbox
