"""PgBouncer in transaction pooling mode (docs/deploy.md, "PgBouncer"): the local one that
`python -m config.localdb --pgbouncer` puts in front of the server really pools by
transaction, and the suite's connection goes through it exactly when DATABASE_POOLER says so
(`make test` runs tests/credits, tests/billing and this file through it)."""

import os

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from config import localdb
from tests.pgbouncer import _params


def _admin_rows(params: dict, command: str) -> list[dict]:
    with psycopg.connect(**{**params, "dbname": "pgbouncer"}, autocommit=True) as console:
        cursor = console.execute(command)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _url(params: dict) -> str:
    password = f":{params['password']}" if params.get("password") else ""
    port = f"&port={params['port']}" if params.get("port") else ""
    return f"postgres://{params.get('user') or localdb.USER}{password}@/{params['dbname']}?host={params['host']}{port}"


@pytest.fixture
def through_pgbouncer(db):
    """Connection parameters through PgBouncer: the suite's, or a PgBouncer of the test's own
    (config.localdb's, as `make test` starts it) in front of the test database."""
    if settings.TRANSACTION_POOLER:
        yield _params(connection.settings_dict["NAME"])
        return
    process, folder = localdb._pgbouncer_start(_url(_params(connection.settings_dict["NAME"])))
    try:
        name = connection.settings_dict["NAME"]
        yield {"host": str(folder), "port": localdb.PGBOUNCER_PORT, "user": localdb.USER, "dbname": name}
    finally:
        localdb._pgbouncer_stop(process, folder)


def _server(params: dict, pid: int) -> dict:
    (row,) = [row for row in _admin_rows(params, "SHOW SERVERS") if row["remote_pid"] == pid]
    return row


def test_a_server_connection_serves_a_client_for_one_transaction_at_a_time(through_pgbouncer):
    params = through_pgbouncer
    config = {row["key"]: row["value"] for row in _admin_rows(params, "SHOW CONFIG")}
    assert config["pool_mode"] == "transaction"

    with psycopg.connect(**params) as client:
        pid = client.execute("SELECT pg_backend_pid()").fetchone()[0]
        # Inside the transaction the server connection is this client's ...
        assert _server(params, pid)["state"] == "active"
        client.commit()
        # ... and back in the pool once it commits, though the client stays connected.
        assert _server(params, pid)["state"] == "idle"
        assert not client.closed


def _served_by_pgbouncer() -> bool:
    pid = connection.cursor().connection.execute("SELECT pg_backend_pid()").fetchone()[0]
    try:
        servers = _admin_rows(_params(connection.settings_dict["NAME"]), "SHOW SERVERS")
    except psycopg.OperationalError:  # a PostgreSQL server has no `pgbouncer` database
        return False
    return any(row["remote_pid"] == pid and row["database"] == connection.settings_dict["NAME"] for row in servers)


def test_the_suite_goes_through_pgbouncer_exactly_when_database_pooler_says_so(db):
    pooled = settings.TRANSACTION_POOLER
    assert pooled == (os.environ.get("DATABASE_POOLER") == localdb.POOLER)
    assert _served_by_pgbouncer() == pooled
    # What a transaction pooler needs from Django and from the hot paths (config/settings.py).
    assert connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] == pooled
    assert pooled != settings.DB_PREPARED_STATEMENTS
