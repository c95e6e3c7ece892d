from audit.commands import AuditedCommand
from core.time import now_ms
from credits.services import credits_expire, idempotency_keys_purge
from credits.services.idempotency import KEEP_MS


class Command(AuditedCommand):
    help = (
        "Write the ledger rows that zero expired grants (in batches; safe to run twice and beside "
        "live consumption), then delete idempotency keys older than 24 hours. Run it from cron, e.g. every 10 minutes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="Grants per transaction (default 500).")

    def handle(self, *args, batch_size: int, **options):
        at_ms = now_ms()
        expired = credits_expire(now=at_ms, batch_size=max(batch_size, 1))
        purged = idempotency_keys_purge(older_than_ms=at_ms - KEEP_MS)
        grants = "grant" if expired == 1 else "grants"
        keys = "idempotency key" if purged == 1 else "idempotency keys"
        self.stdout.write(f"Expired {expired} {grants}; purged {purged} {keys}.")
