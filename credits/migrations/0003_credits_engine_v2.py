# The credits engine, version 2, as PostgreSQL functions (credits/sql/engine_v2.sql).
# The file's SHA-256 is pinned here: see core.db.pinned_sql and docs/credits.md, "The engine".

from pathlib import Path

from django.db import migrations

from core.db import pinned_sql

ENGINE_V2 = Path(__file__).resolve().parent.parent / "sql" / "engine_v2.sql"


class Migration(migrations.Migration):

    dependencies = [
        ("credits", "0002_api_keys_idempotency"),
        ("organizations", "0002_tenant_slugs"),
    ]

    operations = [
        migrations.RunSQL(
            pinned_sql(ENGINE_V2, sha256="15890e8c431c5eef5a3e466e85881aa6d12f1a751c4c0216077d32eacac632d3"),
            reverse_sql=[
                "DROP FUNCTION keel_credits_consume_v2",
                "DROP FUNCTION keel_credits_usable_v2",
            ],
        ),
        # Version 1 was (re)installed after every migrate by earlier releases, outside the
        # migrations; nothing calls it any more.
        migrations.RunSQL(
            "DROP FUNCTION IF EXISTS keel_credits_consume_v1",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
