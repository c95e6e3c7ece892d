"""The database schema matches docs/seed-tables.txt: tables, columns, types, constraints.

The types are checked exactly as the spec writes them. `make test` builds its
database from the models; CI also runs these tests on a database built by every
real migration (marker `migrations`), so both agree with the spec.
"""

import pytest
from django.db import connection

from tests.core.spec import load_spec

SPEC = load_spec()

pytestmark = pytest.mark.migrations

PG_TYPES = {
    "UUID": "uuid",
    "TEXT": "text",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "BOOLEAN": "boolean",
    "JSONB": "jsonb",
    "TIMESTAMP": "timestamp without time zone",
}

# Unique single columns the spec names in its descriptions.
UNIQUE_COLUMNS = [
    ("tenants", "slug"),
    ("tenant_invitations", "token"),
    ("subscriptions", "provider_subscription_id"),
    ("lifetime", "provider_checkout_session_id"),
    ("invoices", "provider_invoice_id"),
]

FOREIGN_KEYS = {
    "user_id": "users",
    "tenant_id": "tenants",
    "credit_id": "credits",
    "owner_id": "users",
    "invited_by": "users",
    "user_email_id": "user_emails",
}


def actual_columns(table: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type, character_maximum_length FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s",
            [table],
        )
        return {
            name: f"varchar({length})" if data_type == "character varying" else data_type
            for name, data_type, length in cursor.fetchall()
        }


def expected_type(spec_type: str) -> str:
    if spec_type.startswith("VARCHAR"):
        return spec_type.lower()
    return PG_TYPES[spec_type]


def constraints(table: str) -> dict:
    with connection.cursor() as cursor:
        return connection.introspection.get_constraints(cursor, table)


@pytest.mark.django_db
@pytest.mark.parametrize("table", sorted(SPEC))
def test_table_has_every_spec_column_with_its_type(table):
    columns = actual_columns(table)

    assert columns, f"table {table} does not exist"
    for name, spec_type in SPEC[table].columns.items():
        assert name in columns, f"{table}.{name} is missing"
        assert columns[name] == expected_type(spec_type), f"{table}.{name}: {columns[name]} != {spec_type}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("table", "columns"),
    [(t, cols) for t in sorted(SPEC) for cols in SPEC[t].unique_together],
)
def test_spec_unique_constraints_exist(table, columns):
    found = constraints(table).values()
    if (table, columns) == ("user_emails", ("user_id", "is_primary")):
        # One primary email per user: a unique index on user_id WHERE is_primary.
        partial = [c for c in found if c["unique"] and c["columns"] == ["user_id"]]
        assert partial, "no partial unique index for one primary email per user"
        return
    assert any(c["unique"] and tuple(c["columns"]) == columns for c in found), f"{table} lacks unique {columns}"


@pytest.mark.django_db
@pytest.mark.parametrize(("table", "column"), UNIQUE_COLUMNS)
def test_spec_unique_columns_exist(table, column):
    assert any(c["unique"] and c["columns"] == [column] for c in constraints(table).values())


@pytest.mark.django_db
@pytest.mark.parametrize("table", sorted(SPEC))
def test_reference_columns_are_foreign_keys(table):
    found = constraints(table).values()
    for column in SPEC[table].columns:
        if column in FOREIGN_KEYS:
            targets = [c["foreign_key"] for c in found if c["foreign_key"] and c["columns"] == [column]]
            assert targets, f"{table}.{column} is not a foreign key"
            assert targets[0][0] == FOREIGN_KEYS[column], f"{table}.{column} -> {targets[0]}"
