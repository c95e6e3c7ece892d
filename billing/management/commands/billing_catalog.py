from django.core.management.base import BaseCommand, CommandError
from djstripe.settings import djstripe_settings

from billing.services import catalog_create


class Command(BaseCommand):
    help = (
        "Create the example catalogue (docs/billing.md) in the configured Stripe account: the sandbox "
        "or test mode, never live. Existing products and prices are left alone; then run sync_prices."
    )

    def handle(self, *args, **options):
        if djstripe_settings.STRIPE_LIVE_MODE:
            raise CommandError("STRIPE_LIVE_MODE is on: create a live catalogue in the Stripe Dashboard instead.")
        created = catalog_create()
        self.stdout.write(f"Created {len(created)} catalogue objects: {', '.join(created) or 'none (all there)'}.")
