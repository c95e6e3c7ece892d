"""Send a marketing or product-update announcement to every active user.

Every mail goes through `email_send`, so each recipient's preferences are
honoured and each mail carries its own one-click unsubscribe link.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.emails import email_send
from accounts.models import EmailType, UserEmail, UserStatus

ANNOUNCEMENT_TYPES = [EmailType.MARKETING.value, EmailType.PRODUCT_UPDATES.value]


class Command(BaseCommand):
    help = "Email an announcement (marketing or product_updates) to every active user who has not unsubscribed."

    def add_arguments(self, parser):
        parser.add_argument("--type", required=True, choices=ANNOUNCEMENT_TYPES, dest="email_type")
        parser.add_argument("--subject", required=True)
        body = parser.add_mutually_exclusive_group(required=True)
        body.add_argument("--message", help="The message text.")
        body.add_argument("--message-file", help="A UTF-8 text file holding the message.")

    def handle(self, *args, email_type, subject, message=None, message_file=None, **options):
        if message_file:
            try:
                message = Path(message_file).read_text(encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"cannot read {message_file}: {exc.strerror}") from None
        if not message.strip() or not subject.strip():
            raise CommandError("subject and message must not be empty")

        recipients = (
            UserEmail.objects.filter(
                is_primary=True,
                verified=True,
                user__deleted_at__isnull=True,
                user__status=UserStatus.ACTIVE,
            )
            .select_related("user")
            .order_by("user_id")
        )
        sent = skipped = 0
        for address in recipients.iterator(chunk_size=500):
            delivered = email_send(
                to=address.email,
                template="announcement",
                context={"subject": subject.strip(), "message": message.strip()},
                email_type=email_type,
                user=address.user,
            )
            sent, skipped = (sent + 1, skipped) if delivered else (sent, skipped + 1)
        self.stdout.write(f"Sent {sent}, skipped {skipped} (unsubscribed).")
