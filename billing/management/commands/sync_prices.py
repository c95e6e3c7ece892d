from audit.commands import AuditedCommand
from billing.services import prices_sync


class Command(AuditedCommand):
    help = (
        "Read every Stripe price (and its product) into the prices table; prices gone from Stripe "
        "become inactive. Idempotent: run it from cron (e.g. hourly) beside the price.*/product.* webhooks."
    )

    def handle(self, *args, **options):
        on_terminal = self.stdout.isatty()

        def progress(count: int) -> None:
            if on_terminal:
                self.stdout.write(f"\r{count} prices read", ending="")
                self.stdout.flush()

        report = prices_sync(progress=progress)
        if on_terminal:
            self.stdout.write("")
        for price_id, problem in sorted(report.problems.items()):
            self.stderr.write(f"{price_id} is not for sale: {problem}")
        self.stdout.write(
            f"Synced {len(report.synced)} prices; {len(report.deactivated)} no longer at Stripe made inactive; "
            f"{len(report.problems)} with metadata that is not a plan."
        )
