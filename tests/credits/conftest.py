import pytest
from django.test import Client

from credits.services import api_key_create
from tests.credits.helpers import make_org


@pytest.fixture
def org(db):
    return make_org()


@pytest.fixture
def api(org):
    """A client sending the org owner's API key, plus the key itself."""
    api_key, raw_key = api_key_create(tenant=org, user=org.owner, name="tests")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    client.api_key, client.raw_key = api_key, raw_key
    return client


def url(tenant, tail: str = "") -> str:
    return f"/api/v1/orgs/{tenant.slug}/credits/{tail}"


def consume(client, tenant, body, key="key-1", **headers):
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post(url(tenant, "consume/"), body, content_type="application/json", **headers)
