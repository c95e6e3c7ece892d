from pathlib import Path

from django.apps import AppConfig
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models.signals import post_migrate

SQL_DIR = Path(__file__).resolve().parent / "sql"


def install_database_functions(using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """(Re)install the credits engine's PostgreSQL functions (credits/sql/*.sql), after every `migrate`.

    They are code, not schema: `CREATE OR REPLACE` keeps them the same as the
    release that runs them, with no migration to write when they change. A
    changed signature or behaviour gets a new versioned name.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for path in sorted(SQL_DIR.glob("*.sql")):
            cursor.execute(path.read_text())


class CreditsConfig(AppConfig):
    name = "credits"

    def ready(self):
        # Registers the API-key security scheme with drf-spectacular.
        from credits import auth  # noqa: F401

        post_migrate.connect(install_database_functions, sender=self, dispatch_uid="credits_database_functions")
