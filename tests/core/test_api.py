"""core.api and the /api/ plumbing around it: bodies, error shape, handlers, through real requests."""

import functools
import json
import re

import pytest
from django.core.exceptions import RequestDataTooBig
from django.core.management import call_command
from django.test import Client
from rest_framework.exceptions import ErrorDetail, ValidationError

from core.api import exception_handler
from core.parsers import MAX_JSON_DEPTH
from core.views import bad_request
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
    # given a 2 KB body nested 950 levels (past the decoder's stack) or 100 (decodable, past the limit)
    body = "[" * depth + "]" * depth

    # when it is sent to a JSON endpoint
    response = getattr(signed_in, method)(path, body, content_type="application/json")

    # then it is refused as unparseable, in the one error shape
    assert_error(response, 400, "parse_error")


def test_json_nested_to_the_limit_reaches_the_view(signed_in):
    depth = MAX_JSON_DEPTH
    body = '{"email": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"

    assert_error(signed_in.post("/api/v1/me/emails/", body, content_type="application/json"), 400, "invalid")


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


def test_an_accept_header_without_json_is_a_json_406(signed_in):
    assert_error(signed_in.get("/api/v1/me/", HTTP_ACCEPT="text/html"), 406, "not_acceptable")


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


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nope/",
        "/api/nope",
        "/api/v1/orgs/acme/members/not-a-uuid/",
        "/api/v1/orgs/acme/invitations/not-a-uuid/resend/",
    ],
)
@pytest.mark.parametrize("who", ["anonymous", "signed in"])
def test_an_unknown_api_path_is_a_json_404(signed_in, path, who):
    client = signed_in if who == "signed in" else Client()

    assert_error(client.get(path), 404, "not_found")


def test_pages_keep_their_html_404(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_a_body_over_the_size_limit_is_a_413(signed_in, settings):
    # given a limit of 1 KB and a 2 KB body
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = '{"email": "%s@example.com"}' % ("x" * 2048)

    # when it is posted
    response = signed_in.post("/api/v1/me/emails/", body, content_type="application/json")

    # then the answer says the body is too large, in the one shape
    assert_error(response, 413, "payload_too_large")


def test_django_400_handler_answers_a_too_large_api_body_with_413_too(rf):
    """Outside a DRF view (a middleware reading the body, say), Django's handler400 gets it."""
    response = bad_request(rf.post("/api/v1/me/emails/"), RequestDataTooBig("over"))

    assert response.status_code == 413 and json.loads(response.content)["code"] == "payload_too_large"


def test_an_api_request_for_a_host_we_do_not_serve_is_a_json_400(db):
    response = Client(HTTP_HOST="evil.example", raise_request_exception=False).get("/api/v1/me/")

    assert_error(response, 400, "bad_request")


def test_an_unhandled_error_is_a_json_500_without_internals(signed_in, monkeypatch):
    # given a view whose read fails in a way nobody handles
    def broken(**kwargs):
        raise RuntimeError("internal detail: table users_secret")

    monkeypatch.setattr("accounts.api.user_emails_list", broken)

    # when it is asked for
    response = signed_in.get("/api/v1/me/emails/")

    # then the client gets the one shape, and nothing of the failure
    assert_error(response, 500, "server_error")
    assert b"users_secret" not in response.content and b"Traceback" not in response.content


def test_pages_keep_their_html_500(db, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("billing.views.render", broken)

    response = Client(raise_request_exception=False).get("/")

    assert response.status_code == 500 and response["Content-Type"].startswith("text/html")


def error_body(exc) -> dict:
    return exception_handler(exc, {}).data


def test_nested_validation_errors_are_flattened_to_field_paths():
    # given errors as DRF nests them: a ListSerializer's per-item dicts, a ListField's {index: [...]}
    exc = ValidationError(
        {
            "items": [{}, {"amount": [ErrorDetail("Too small.", "min_value")]}],
            "meta": {"tags": {0: [ErrorDetail("Not a tag.", "invalid_choice")]}},
            "email": [ErrorDetail("Enter a valid email address.", "invalid"), ErrorDetail("Taken.", "email_taken")],
            "non_field_errors": [ErrorDetail("Pick one.", "invalid")],
        }
    )

    # when the handler shapes it
    body = error_body(exc)

    # then every message sits under its path, and the first one speaks for the whole
    assert body == {
        "code": "min_value",
        "detail": "items.1.amount: Too small.",
        "errors": {
            "items.1.amount": ["Too small."],
            "meta.tags.0": ["Not a tag."],
            "email": ["Enter a valid email address.", "Taken."],
            "non_field_errors": ["Pick one."],
        },
    }


def test_errors_of_the_body_as_a_whole_are_non_field_errors_and_read_as_a_sentence():
    body = error_body(ValidationError(["Expected a dictionary."], code="invalid"))

    assert body == {
        "code": "invalid",
        "detail": "Expected a dictionary.",
        "errors": {"non_field_errors": ["Expected a dictionary."]},
    }


def test_the_error_component_describes_the_flat_shape(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]["ApiError"]

    assert schema["required"] == ["code", "detail"]
    assert schema["properties"]["errors"]["additionalProperties"] == {"type": "array", "items": {"type": "string"}}
    assert "permissions.0" in schema["properties"]["errors"]["description"]


@functools.cache
def schema_operations() -> tuple[tuple[str, str, dict], ...]:
    """(method, path, operation) of every operation in the generated schema."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return tuple(
        (method, path, operation) for path, ops in schema["paths"].items() for method, operation in ops.items()
    )


def filled(path: str) -> str:
    """A schema path with its parameters filled: the organization `acme`, ids that name nothing."""
    return re.sub(r"\{(\w+)\}", lambda m: "acme" if m[1] == "slug" else "00000000-0000-0000-0000-000000000000", path)


def is_public(operation) -> bool:
    """An operation anyone may call: its security lists "no credentials" (`{}`)."""
    return {} in operation.get("security", [{}])


PUBLIC_OPERATIONS = [("get", "/api/v1/prices/")]


def test_the_public_operations_are_the_known_ones():
    assert [(method, path) for method, path, operation in schema_operations() if is_public(operation)] == (
        PUBLIC_OPERATIONS
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [(method, filled(path)) for method, path, operation in schema_operations() if not is_public(operation)],
)
def test_no_credentials_is_a_401_with_a_bearer_challenge_everywhere(db, method, path):
    response = getattr(Client(), method)(path, {}, content_type="application/json")

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(("method", "path"), PUBLIC_OPERATIONS)
def test_a_public_operation_answers_without_credentials(db, method, path):
    response = getattr(Client(), method)(path)

    assert response.status_code == 200 and response["Content-Type"] == "application/json"


def test_the_schema_is_valid_openapi_and_generates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))


@pytest.mark.parametrize(
    ("method", "path", "operation"), schema_operations(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_operation_declares_the_errors_the_plumbing_can_answer(method, path, operation):
    """For Schemathesis and client generators: each status an operation can answer is in the schema."""
    declared = set(operation["responses"])
    expected = set() if is_public(operation) else {"401"}
    if method in ("post", "put", "patch", "delete"):
        expected.add("403")  # a session without its CSRF token
    if "{" in path:
        expected.add("404")
    if "requestBody" in operation:
        expected |= {"400", "413", "415"}
    if {p["name"] for p in operation.get("parameters", [])} >= {"cursor"}:
        expected.add("400")
    assert expected <= declared, f"{method.upper()} {path} does not declare {sorted(expected - declared)}"
    for status, response in operation["responses"].items():
        if status >= "400":
            assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ApiError"}
            assert response["description"]


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("get", "/api/v1/orgs/{slug}/credits/transactions/", {"400", "403", "404"}),
        ("get", "/api/v1/orgs/{slug}/invitations/", {"400", "403", "404"}),
        ("patch", "/api/v1/orgs/{slug}/members/{member_id}/", {"400", "403", "404", "409"}),
        ("delete", "/api/v1/orgs/{slug}/invitations/{invitation_id}/", {"403", "404", "409"}),
        ("post", "/api/v1/invitations/accept/", {"400", "403", "404", "409"}),
        ("delete", "/api/v1/orgs/{slug}/", {"400", "403", "404", "409", "413", "415"}),
        ("post", "/api/v1/me/emails/{email_id}/resend-verification/", {"404", "409", "429"}),
        ("post", "/api/v1/orgs/{slug}/checkout/", {"400", "401", "403", "404", "409", "502", "503"}),
        ("post", "/api/v1/orgs/{slug}/billing-portal/", {"401", "403", "404", "502", "503"}),
    ],
)
def test_operations_declare_their_own_errors(method, path, statuses):
    operation = next(op for m, p, op in schema_operations() if (m, p) == (method, path))
    assert statuses <= set(operation["responses"])
