import time

from audit.commands import AuditedCommand
from billing.services.reconcile import RECENT, billing_reconcile


class Command(AuditedCommand):
    help = (
        "Read recent subscriptions, paid invoices, paid checkout sessions and refunds from Stripe "
        "and repair what a lost webhook left undone; prints each repair. Safe to run at any time "
        "(cron, e.g. hourly): a second run changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since",
            type=int,
            help=f"Unix time: look at objects created since (default: {RECENT // 86400} days ago).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Print what would be repaired; change nothing.")

    def handle(self, *args, since, dry_run, **options):
        report = billing_reconcile(since=since if since is not None else int(time.time()) - RECENT, dry_run=dry_run)
        for line in report.repaired:
            self.stdout.write(line)
        for line in report.skipped:
            self.stdout.write(f"skipped {line}")
        verb = "to repair" if dry_run else "repaired"
        self.stdout.write(f"{len(report.repaired)} {verb}, {len(report.skipped)} skipped.")
