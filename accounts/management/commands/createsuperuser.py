"""`createsuperuser`: a site operator (system role `owner`), made through the accounts services.

    manage.py createsuperuser [--username NAME] [--email ADDRESS] [--noinput]

Keel's users keep their addresses in `user_emails`, so Django's own command
(which only knows model fields and calls the model manager) is replaced: this
one asks for what is missing, or with --noinput reads DJANGO_SUPERUSER_USERNAME,
DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD, and calls
`accounts.services.user_operator_create`: the sign-up rules for the username,
address and password, the address recorded verified and primary. Without a
password the account has an unusable one (set it with a password reset).
"""

import getpass
import os

from django.core.management import BaseCommand, CommandError

from accounts.services import user_operator_create
from core.errors import ApplicationError


class Command(BaseCommand):
    help = "Create a site operator (Django admin, system role owner)."

    def add_arguments(self, parser):
        parser.add_argument("--username", help="Username of the new site operator.")
        parser.add_argument("--email", help="Email address of the new site operator (recorded as verified).")
        parser.add_argument(
            "--noinput", "--no-input", action="store_false", dest="interactive", help="Ask nothing (see the env vars)."
        )

    def handle(self, *args, username=None, email=None, interactive=True, **options):
        username = username or os.environ.get("DJANGO_SUPERUSER_USERNAME", "")
        email = email or os.environ.get("DJANGO_SUPERUSER_EMAIL", "")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD") or None
        if interactive:
            username = username or input("Username: ").strip()
            email = email or input("Email address: ").strip()
            if password is None:
                password = getpass.getpass("Password: ")
                if password != getpass.getpass("Password (again): "):
                    raise CommandError("The two passwords differ.")
        if not username or not email:
            raise CommandError("Give --username and --email (or DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_EMAIL).")
        try:
            user = user_operator_create(username=username, email=email, password=password)
        except ApplicationError as error:
            raise CommandError(error.detail) from None
        if options.get("verbosity", 1):
            self.stdout.write(f"Site operator {user.username} created.")
