import importlib
import pkgutil

import pytest
from django.db import connection, connections, migrations

from tests import factories
from tests.pgbouncer import release_server_connections

KEEL_APPS = ("core", "accounts", "organizations", "credits", "billing", "audit")


def migration_sql():
    """The SQL of the `RunSQL` operations of Keel's migrations, app by app, in order.

    What `migrate` installs besides tables (the credits engine's functions).
    """
    for app in KEEL_APPS:
        try:
            package = importlib.import_module(f"{app}.migrations")
        except ModuleNotFoundError:
            continue
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda module: module.name):
            migration = importlib.import_module(f"{app}.migrations.{info.name}").Migration
            for operation in migration.operations:
                if isinstance(operation, migrations.RunSQL):
                    yield operation.sql


@pytest.fixture(scope="session")
def django_db_setup(request, django_db_setup, django_db_blocker):
    """pytest-django's, then: a test database built from the models (--nomigrations) gets what
    the migrations' RunSQL installs, exactly as they install it; with --migrations (CI) the
    migrations did it. Overriding this fixture (not an autouse one) keeps it to runs that build
    a test database, never the development database a run without database tests points at."""
    if request.config.option.nomigrations:
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            for sql in migration_sql():
                for statement in connection.ops.prepare_sql_script(sql):
                    cursor.execute(statement)
    yield
    # Before pytest-django drops the test database: through PgBouncer, its pooled server
    # connections would stop the DROP (tests/pgbouncer.py).
    with django_db_blocker.unblock():
        connections.close_all()
        release_server_connections(connection.settings_dict["NAME"])


@pytest.fixture
def user(db):
    return factories.UserFactory()


@pytest.fixture
def tenant(db, user):
    tenant = factories.TenantFactory(owner=user, is_default=True)
    factories.TenantMemberFactory(tenant=tenant, user=user, role="owner")
    return tenant
