"""`createsuperuser` that also records the operator's email.

Keel's users keep their addresses in `user_emails`, so Django's command (which
only knows model fields) cannot ask for one. This wraps it: `--email` (or
DJANGO_SUPERUSER_EMAIL, or a prompt) becomes the new owner's verified primary
email, and the user is created with the system role `owner`.
"""

import os

from django.contrib.auth.management.commands import createsuperuser
from django.core.management import CommandError
from django.db.models.signals import post_save

from accounts.models import User, UserEmail, normalize_email


class Command(createsuperuser.Command):
    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--email", help="Email address of the new site owner.")

    def handle(self, *args, **options):
        email = options.pop("email", None) or os.environ.get("DJANGO_SUPERUSER_EMAIL", "")
        if not email and options.get("interactive"):
            email = input("Email address: ")
        email = normalize_email(email)
        if email and UserEmail.objects.filter(email=email, verified=True).exists():
            raise CommandError(f"{email} already belongs to an account.")

        created: list[User] = []

        def remember(sender, instance, created_now=False, **kwargs):
            if kwargs.get("created"):
                created.append(instance)

        post_save.connect(remember, sender=User, weak=False, dispatch_uid="createsuperuser-email")
        try:
            super().handle(*args, **options)
        finally:
            post_save.disconnect(sender=User, dispatch_uid="createsuperuser-email")
        if created and email:
            UserEmail.objects.create(user=created[0], email=email, is_primary=True, verified=True)
