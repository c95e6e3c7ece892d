"""A shop whose webhooks are recorded rather than delivered, for the replay tests and
bench/webhooks.py: the example catalogue at the sandbox, synced, and dj-stripe's endpoint
row for a sandbox endpoint that is disabled (so the flows' events only pile up at Stripe)."""

import time
import uuid
from dataclasses import dataclass

import stripe
from django.test import Client
from djstripe import models as djstripe

from billing.models import Price
from billing.services import catalog_create, prices_sync
from stripe_sandbox.webhooks import sign


@dataclass(frozen=True)
class RecordingShop:
    prices: dict[str, str]  # lookup key -> provider price id
    url: str  # the webhook path on the site
    secret: str

    def deliver(self, payload: str) -> int:
        """Post one recorded event, signed now, to dj-stripe's view; its HTTP status."""
        response = Client(raise_request_exception=False).post(
            self.url,
            payload,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=sign(payload, self.secret, int(time.time())),
        )
        return response.status_code


def recording_shop() -> RecordingShop:
    endpoint_uuid = uuid.uuid4()
    created = stripe.WebhookEndpoint.create(
        url=f"http://keel.invalid/stripe/webhook/{endpoint_uuid}/",
        enabled_events=["*"],
        metadata={"djstripe_uuid": str(endpoint_uuid)},
    )
    djstripe.WebhookEndpoint.sync_from_stripe_data(created)
    stripe.WebhookEndpoint.modify(created.id, disabled=True)
    catalog_create()
    prices_sync()
    prices = {p.raw_data["lookup_key"]: p.provider_price_id for p in Price.objects.all()}
    return RecordingShop(prices=prices, url=f"/stripe/webhook/{endpoint_uuid}/", secret=created.secret)
