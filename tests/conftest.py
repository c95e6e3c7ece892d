import pytest

from tests import factories


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
