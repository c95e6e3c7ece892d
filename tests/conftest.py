import pytest

from tests import factories


@pytest.fixture
def user(db):
    return factories.UserFactory()


@pytest.fixture
def tenant(db, user):
    tenant = factories.TenantFactory(owner=user, is_default=True)
    factories.TenantMemberFactory(tenant=tenant, user=user, role="owner")
    return tenant
