import uuid

import pytest
import stripe
from djstripe import models as djstripe

from billing.models import Price
from billing.services import catalog_create, prices_sync
from organizations.models import TenantMember
from organizations.services import tenant_create
from stripe_sandbox import testing
from tests.factories import UserFactory

stripe_sandbox_server = testing.stripe_sandbox_server
stripe_sandbox = testing.stripe_sandbox
webhook_receiver = testing.webhook_receiver


@pytest.fixture
def catalogue(settings, stripe_sandbox):
    """The example catalogue at the sandbox and synced into `prices`, with no webhook endpoint:
    nothing is delivered, so whatever Keel knows it learnt by asking Stripe itself.
    Returns {lookup key: provider price id}."""
    settings.STRIPE_TEST_SECRET_KEY = stripe.api_key
    catalog_create()
    prices_sync()
    return {p.raw_data["lookup_key"]: p.provider_price_id for p in Price.objects.all()}


@pytest.fixture
def shop(catalogue, stripe_sandbox, live_server):
    """The catalogue, and the sandbox's webhooks going to dj-stripe's view on the live server
    (tests using it need `django_db(transaction=True)`: the server's thread writes)."""
    endpoint_uuid = uuid.uuid4()
    created = stripe.WebhookEndpoint.create(
        url=f"{live_server.url}/stripe/webhook/{endpoint_uuid}/",
        enabled_events=["*"],
        metadata={"djstripe_uuid": str(endpoint_uuid)},
    )
    djstripe.WebhookEndpoint.sync_from_stripe_data(created)
    return catalogue


@pytest.fixture
def owner(db):
    """The owner's membership of an organization of its own."""
    user = UserFactory(first_name="Ada", last_name="Lovelace")
    tenant = tenant_create(owner=user, name="Analytical Engines")
    return TenantMember.objects.select_related("tenant", "user").get(tenant=tenant, user=user)
