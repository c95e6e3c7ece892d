"""The PgBouncer in front of the test database, when the run goes through one
(`python -m config.localdb --pgbouncer`, `make test`; docs/deploy.md, "PgBouncer").

In transaction pooling mode PgBouncer keeps its server connections to a database open
after each transaction, so PostgreSQL counts them as sessions on it: `CREATE DATABASE ...
TEMPLATE` and `DROP DATABASE` refuse to run while they exist. The tests that copy or drop a
database ask PgBouncer first to close them (`KILL db` on its admin console), then to take
clients for it again (`RESUME db`), as a DBA does before such work in production.
"""

import psycopg
from django.conf import settings
from django.db import connection


def _params(dbname: str) -> dict:
    params = connection.get_connection_params()
    for name in ("prepare_threshold", "cursor_factory", "context"):
        params.pop(name, None)
    params["dbname"] = dbname
    return params


def admin_console() -> psycopg.Connection:
    """PgBouncer's admin console (the `pgbouncer` database), as its admin user."""
    return psycopg.connect(**_params("pgbouncer"), autocommit=True)


def admin_rows(command: str) -> list[dict]:
    """`SHOW ...` on the admin console, each row as a dict by column name."""
    with admin_console() as console:
        cursor = console.execute(command)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def release_server_connections(dbname: str) -> None:
    """No server connection of PgBouncer's left on `dbname` (nothing to do without PgBouncer)."""
    if not settings.TRANSACTION_POOLER:
        return
    if not any(pool["database"] == dbname for pool in admin_rows("SHOW POOLS")):
        return
    with admin_console() as console:
        console.execute(f"KILL {dbname}")
        console.execute(f"RESUME {dbname}")
