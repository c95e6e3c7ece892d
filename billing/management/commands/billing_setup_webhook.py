"""dj-stripe's webhook endpoint row for this site, so `<SITE_URL>/stripe/webhook/<uuid>/`
accepts the events Stripe signs (docs/billing.md).

dj-stripe's view finds the row by the uuid in the URL and checks the Stripe-Signature
header with the row's `secret`; it does not read a secret from settings. Two ways to fill
the row:

- from `STRIPE_WEBHOOK_SECRET` (default): the endpoint exists at Stripe already (made in the
  Dashboard, by `stripe listen`, or by the sandbox's `--webhook`), and the variable holds
  its signing secret. Nothing is sent to Stripe.
- `--create-at-stripe`: the endpoint is created (or, when the row names one that Stripe
  still has, updated) at Stripe with the events Keel handles and the pinned API version,
  and the row stores the signing secret Stripe returns.

Re-running keeps the uuid, so the URL given to Stripe stays valid. The URL is the last
line printed.
"""

import uuid

import stripe
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.urls import reverse
from djstripe.enums import WebhookEndpointStatus, WebhookEndpointValidation
from djstripe.models import WebhookEndpoint

from billing.stripe_api import StripeNotConfigured, client

# The event types Keel handles; an endpoint created at Stripe receives these only.
KEEL_EVENTS = [
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
    "charge.refunded",
    "price.created",
    "price.updated",
    "price.deleted",
    "product.created",
    "product.updated",
    "product.deleted",
]
# The Stripe id of a row made from STRIPE_WEBHOOK_SECRET alone: Keel does not ask Stripe
# for the endpoint's real id (dj-stripe's view never uses it).
LOCAL_ID_PREFIX = "we_local_"
DESCRIPTION = "Keel: dj-stripe's webhook view (manage.py billing_setup_webhook)"


def webhook_url(endpoint_uuid: uuid.UUID) -> str:
    return settings.SITE_URL + reverse("djstripe:djstripe_webhook_by_uuid", kwargs={"uuid": endpoint_uuid})


def site_endpoint(endpoint_uuid: uuid.UUID | None) -> WebhookEndpoint | None:
    """The row to update: the one with `endpoint_uuid`, else the latest one for SITE_URL."""
    if endpoint_uuid is not None:
        return WebhookEndpoint.objects.filter(djstripe_uuid=endpoint_uuid).first()
    prefix = webhook_url(uuid.UUID(int=0)).removesuffix(f"{uuid.UUID(int=0)}/")
    rows = WebhookEndpoint.objects.filter(url__startswith=prefix, livemode=settings.STRIPE_LIVE_MODE)
    return rows.order_by("-djstripe_updated").first()


class Command(BaseCommand):
    help = (
        "Set up dj-stripe's webhook endpoint for SITE_URL: from STRIPE_WEBHOOK_SECRET, or with "
        "--create-at-stripe at Stripe itself. Idempotent; prints the webhook URL last."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--uuid",
            type=uuid.UUID,
            help="dj-stripe's uuid for the endpoint (the last part of its URL). Default: the one this "
            "site's endpoint already has, else a new one.",
        )
        parser.add_argument(
            "--create-at-stripe",
            action="store_true",
            help="Create the endpoint at Stripe (or update the one the row names) and store the "
            "signing secret Stripe returns; STRIPE_WEBHOOK_SECRET is not used.",
        )

    def handle(self, *args, **options):
        if not settings.SITE_URL.startswith(("http://", "https://")):
            raise CommandError(
                f"SITE_URL is {settings.SITE_URL or 'empty'}: set it to the site's base URL, e.g. "
                "https://app.example.com, which Stripe sends the webhooks to."
            )
        row = site_endpoint(options["uuid"])
        endpoint_uuid = options["uuid"] or (row.djstripe_uuid if row else uuid.uuid4())
        url = webhook_url(endpoint_uuid)
        with transaction.atomic():
            if options["create_at_stripe"]:
                self.at_stripe(row, endpoint_uuid, url)
            else:
                self.from_secret(row, endpoint_uuid, url)
        self.stdout.write(url)

    def from_secret(self, row, endpoint_uuid: uuid.UUID, url: str) -> WebhookEndpoint:
        secret = settings.STRIPE_WEBHOOK_SECRET
        if not secret:
            raise CommandError(
                "STRIPE_WEBHOOK_SECRET is not set: set it to the signing secret (whsec_...) of the endpoint "
                "Stripe sends to, or run with --create-at-stripe to create the endpoint at Stripe."
            )
        created = row is None
        if created:
            row = WebhookEndpoint(
                id=f"{LOCAL_ID_PREFIX}{endpoint_uuid.hex}",
                djstripe_uuid=endpoint_uuid,
                enabled_events=KEEL_EVENTS,
            )
        row.url = url
        row.secret = secret
        row.livemode = settings.STRIPE_LIVE_MODE
        row.api_version = settings.STRIPE_API_VERSION
        row.status = WebhookEndpointStatus.enabled
        row.metadata = {**(row.metadata or {}), "djstripe_uuid": str(endpoint_uuid)}
        row.djstripe_validation_method = WebhookEndpointValidation.verify_signature
        if row.id.startswith(LOCAL_ID_PREFIX):
            # What Stripe would answer for the endpoint (dj-stripe reads a few fields from it), no secret.
            row.stripe_data = {
                "id": row.id,
                "object": "webhook_endpoint",
                "api_version": row.api_version,
                "description": DESCRIPTION,
                "enabled_events": row.enabled_events,
                "livemode": row.livemode,
                "metadata": row.metadata,
                "status": row.status,
                "url": row.url,
            }
        row.save()
        self.stdout.write(
            f"{'Created' if created else 'Updated'} dj-stripe's webhook endpoint {endpoint_uuid}: it accepts events "
            "signed with STRIPE_WEBHOOK_SECRET. Give Stripe this URL:"
        )
        return row

    def at_stripe(self, row, endpoint_uuid: uuid.UUID, url: str) -> WebhookEndpoint:
        try:
            api = client().v1
        except StripeNotConfigured as exc:
            raise CommandError("STRIPE_SECRET_KEY is not set: --create-at-stripe needs the account's key.") from exc
        params = {
            "url": url,
            "enabled_events": KEEL_EVENTS,
            "metadata": {"djstripe_uuid": str(endpoint_uuid)},
            "description": DESCRIPTION,
        }
        endpoint = self.stripe_endpoint(api, row)
        if endpoint is not None:
            if endpoint.api_version and endpoint.api_version != settings.STRIPE_API_VERSION:
                raise CommandError(
                    f"Stripe's endpoint {endpoint.id} sends events of API version {endpoint.api_version}, not "
                    f"{settings.STRIPE_API_VERSION}, and Stripe cannot change it: delete it at Stripe and re-run."
                )
            endpoint = api.webhook_endpoints.update(endpoint.id, params={**params, "disabled": False})
            action = "Updated"
        else:
            endpoint = api.webhook_endpoints.create(params={**params, "api_version": settings.STRIPE_API_VERSION})
            action = "Created"
            if row is not None and row.id != endpoint.id:
                # dj-stripe's sync finds rows by Stripe id: let it find this one (and its uuid).
                row.id = endpoint.id
                row.save(update_fields=["id"])
        # The secret comes with the create response only; syncing without one keeps the row's.
        row = WebhookEndpoint.sync_from_stripe_data(endpoint)
        self.stdout.write(
            f"{action} webhook endpoint {endpoint.id} at Stripe ({len(KEEL_EVENTS)} event types, API version "
            f"{settings.STRIPE_API_VERSION}); dj-stripe's endpoint {row.djstripe_uuid} holds its signing secret. "
            "Stripe sends to:"
        )
        return row

    def stripe_endpoint(self, api, row):
        """Stripe's endpoint that the row names, if Stripe still has it."""
        if row is None or not row.id or row.id.startswith(LOCAL_ID_PREFIX):
            return None
        try:
            return api.webhook_endpoints.retrieve(row.id)
        except stripe.InvalidRequestError as exc:
            if exc.code == "resource_missing":
                return None
            raise
