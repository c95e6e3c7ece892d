from django.core.management.base import CommandError

from accounts.models import User
from audit.commands import AuditedCommand
from core.errors import ApplicationError
from credits.services import api_key_create
from organizations.models import Tenant


class Command(AuditedCommand):
    help = "Create an API key acting as USER inside organization SLUG; prints the key once (it is stored hashed)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="The organization's slug.")
        parser.add_argument("--user", required=True, help="Username of a member of that organization.")
        parser.add_argument("--name", default="Command-line key", help="A name to recognise the key by.")

    def handle(self, *args, org: str, user: str, name: str, **options):
        tenant = Tenant.objects.alive().filter(slug=org).first()
        if tenant is None:
            raise CommandError(f"No organization with slug {org!r}.")
        member = User.objects.alive().filter(username__iexact=user).first()
        if member is None:
            raise CommandError(f"No user {user!r}.")
        try:
            api_key, raw_key = api_key_create(tenant=tenant, user=member, name=name)
        except ApplicationError as error:
            raise CommandError(error.detail) from error
        self.stderr.write(
            f"Created API key {api_key.name!r} (keel_{api_key.prefix}…) for {member.username} in {tenant.slug}."
        )
        self.stderr.write("Copy the key now; it cannot be shown again:")
        self.stdout.write(raw_key)
