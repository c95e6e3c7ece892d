"""core.api and the /api/ plumbing around it: bodies, error shape, handlers, through real requests."""

import pytest
from django.test import Client

from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(db):
    user = factories.UserFactory(username="ada", email="ada@example.com")
    tenant = factories.TenantFactory(owner=user, slug="acme", name="Acme")
    factories.TenantMemberFactory(tenant=tenant, user=user, role="owner")
    # raise_request_exception=False: an unhandled error comes back as the 500 a client would get.
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json", response.content[:200]
    body = response.json()
    assert set(body) <= {"code", "detail", "errors"} and body["code"] == code and body["detail"], body
    return body


JSON_ENDPOINTS = [
    ("post", "/api/v1/me/emails/"),
    ("patch", "/api/v1/me/"),
    ("put", "/api/v1/me/email-preferences/"),
    ("post", "/api/v1/orgs/"),
    ("post", "/api/v1/orgs/acme/invitations/"),
]


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
@pytest.mark.parametrize("depth", [950, 100])
def test_a_deeply_nested_json_body_is_a_400_parse_error(signed_in, method, path, depth):
    # given a 2 KB body nested past what the decoder (950) or any Keel body (100) goes
    body = "[" * depth + "]" * depth

    # when it is sent to a JSON endpoint
    response = getattr(signed_in, method)(path, body, content_type="application/json")

    # then it is refused as unparseable, in the one error shape
    assert_error(response, 400, "parse_error")


def test_malformed_json_is_a_400_parse_error(signed_in):
    body = assert_error(
        signed_in.post("/api/v1/me/emails/", "{nope", content_type="application/json"), 400, "parse_error"
    )
    assert body["detail"].startswith("JSON parse error")


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", "application/xml"])
def test_the_api_takes_json_bodies_only(signed_in, method, path, content_type):
    response = getattr(signed_in, method)(path, "name=x&email=x%40example.com", content_type=content_type)

    assert_error(response, 415, "unsupported_media_type")


def test_the_api_answers_json_even_to_a_browser(signed_in):
    response = signed_in.get("/api/v1/me/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")

    assert response.status_code == 200 and response["Content-Type"] == "application/json"


def test_the_schema_offers_json_request_bodies_only(client):
    """Swagger UI (/api/docs/) sends a body in the media types the schema lists for it."""
    schema = client.get("/api/schema/", {"format": "json"}).json()

    bodies = {
        (method, path): set(operation["requestBody"]["content"])
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    }
    assert bodies and all(media_types == {"application/json"} for media_types in bodies.values()), bodies
