import secrets

from django.db import transaction

from accounts.models import SystemRole, User
from accounts.services import user_create
from audit.commands import AuditedCommand
from credits.services import credits_grant_free
from organizations.models import Tenant
from organizations.services import tenant_create

DEMO_USERNAME = "demo"
DEMO_EMAIL = "demo@keel.localhost"


class Command(AuditedCommand):
    help = (
        "Load demo data: a demo site owner (password printed) and an organization. Safe to re-run. Prices come "
        "from Stripe or the sandbox (billing_catalog, sync_prices), never from here."
    )

    def add_arguments(self, parser):
        parser.add_argument("--password", help="Use this password instead of a random one.")

    @transaction.atomic
    def handle(self, *args, **options):
        password = options["password"] or secrets.token_urlsafe(12)
        user = User.objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            user = user_create(
                username=DEMO_USERNAME,
                email=DEMO_EMAIL,
                password=password,
                email_verified=True,
                role=SystemRole.OWNER,
                first_name="Demo",
                last_name="Owner",
            )
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
        if not Tenant.objects.filter(owner=user, slug="demo").exists():
            tenant_create(owner=user, name="Demo Org", slug="demo", is_default=True)
        credits_grant_free(user=user)  # idempotent: one free grant per organization

        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"  Sign in at /admin/ as  username: {DEMO_USERNAME}  password: {password}")
        self.stdout.write("  Organization: demo")
