"""Management commands that change organizations act as the system, under their own name."""

from django.core.management.base import BaseCommand

from audit.context import acting_as
from audit.models import ActorKind


class AuditedCommand(BaseCommand):
    """A command whose audit rows say `system`, labelled with the command's name (docs/audit.md)."""

    def execute(self, *args, **options):
        with acting_as(kind=ActorKind.SYSTEM, label=self.__module__.rsplit(".", 1)[-1]):
            return super().execute(*args, **options)
