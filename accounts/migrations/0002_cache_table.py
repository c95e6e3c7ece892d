"""Create the database cache table (CACHES default: dbcache://keel_cache).

Rate limits (password reset, verification resends) count in Django's cache;
making `migrate` create the table means `make run`, deployments and CI need
no extra `createcachetable` step. A no-op when CACHE_URL names another backend.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop, elidable=False)]
