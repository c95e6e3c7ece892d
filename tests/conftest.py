import pytest

from tests import factories


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.postgres` tests (row locks, real concurrency) run on PostgreSQL only.

    CI runs the whole suite on PostgreSQL too, so they always run there; on
    SQLite they are deselected, and the run says so.
    """
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return
    selected = [item for item in items if item.get_closest_marker("postgres") is None]
    deselected = [item for item in items if item.get_closest_marker("postgres") is not None]
    if not deselected:
        return
    items[:] = selected
    config.hook.pytest_deselected(items=deselected)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    message = (
        f"deselected {len(deselected)} PostgreSQL-only test(s) (marked `postgres`): the default database is "
        "not PostgreSQL; run with DATABASE_URL=postgres://... to include them"
    )
    if reporter is not None:
        reporter.write_line(message, yellow=True)


@pytest.fixture(scope="session", autouse=True)
def _database_functions(django_db_setup, django_db_blocker):
    """The credits engine's PostgreSQL functions as this checkout has them, on a reused test database too."""
    from credits.apps import install_database_functions

    with django_db_blocker.unblock():
        install_database_functions()


@pytest.fixture
def user(db):
    return factories.UserFactory()


@pytest.fixture
def tenant(db, user):
    tenant = factories.TenantFactory(owner=user, is_default=True)
    factories.TenantMemberFactory(tenant=tenant, user=user, role="owner")
    return tenant
