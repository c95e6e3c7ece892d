from audit.commands import AuditedCommand
from organizations.services import invitations_expire


class Command(AuditedCommand):
    help = "Mark pending invitations past their expiry as expired (for cron). Safe to run again."

    def handle(self, *args, **options):
        expired = invitations_expire()
        for invitation in expired:
            # Ids and slugs only: invitee addresses stay out of cron logs.
            self.stdout.write(f"expired invitation {invitation.pk} of {invitation.tenant.slug}")
        noun = "invitation" if len(expired) == 1 else "invitations"
        self.stdout.write(self.style.SUCCESS(f"Expired {len(expired)} pending {noun}."))
