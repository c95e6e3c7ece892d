"""What Schemathesis found (tests/api/test_schemathesis.py), pinned one by one: the server refuses
what the schema refuses, and the schema states what the server checks."""

import pytest
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.serializers import USERNAME_INPUT_PATTERN
from accounts.services.users import USERNAME_RE, email_address_clean
from core.api import EMAIL_MAX_LENGTH, EMAIL_PATTERN, OPTIONAL_HTTP_URL_PATTERN
from credits.services import api_key_create
from organizations.serializers import SLUG_INPUT_PATTERN
from organizations.services.tenants import RESERVED_SLUGS, tenant_logo_clean, tenant_slug_clean
from tests import factories
from tests.core.test_api import assert_error
from tests.credits.helpers import give, make_org

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    tenant = make_org(name="Alpha Works", slug="alpha")
    give(tenant, 100)
    return tenant


@pytest.fixture
def api(org):
    _key, raw = api_key_create(tenant=org, user=org.owner, name="contract")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


@pytest.fixture
def session(org):
    client = Client()
    client.force_login(org.owner, backend="accounts.backends.EmailOrUsernameBackend")
    return client


def operation(client, method: str, path: str) -> dict:
    return client.get("/api/schema/", {"format": "json"}).json()["paths"][path][method]


@pytest.mark.parametrize("page_size", ["0", "201", "-5", "abc", "null", "5.0"])
def test_a_page_size_outside_1_to_200_is_a_400_not_the_default_page(api, page_size):
    response = api.get("/api/v1/orgs/alpha/credits/transactions/", {"page_size": page_size})

    body = assert_error(response, 400, "invalid_page_size")
    assert list(body["errors"]) == ["page_size"]


def test_page_size_twice_is_a_400_and_once_in_range_pages(api):
    assert_error(api.get("/api/v1/orgs/alpha/members/?page_size=1&page_size=2"), 400, "invalid_page_size")

    assert len(api.get("/api/v1/orgs/alpha/credits/grants/", {"page_size": "1"}).json()["results"]) == 1


def test_the_schema_states_page_size_bounds(client):
    parameters = {p["name"]: p for p in operation(client, "get", "/api/v1/orgs/{slug}/members/")["parameters"]}

    assert parameters["page_size"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 200}


@pytest.mark.parametrize("value", ["0.005", "1e3", "5.0", "99999999999999999999"])
def test_time_filters_take_whole_epoch_milliseconds_only(api, value):
    response = api.get("/api/v1/orgs/alpha/credits/transactions/", {"created_after": value})

    assert_error(response, 400, "invalid")


@pytest.mark.parametrize(
    ("name", "code"),
    [("credit", "invalid"), ("member", "invalid"), ("created_after", "invalid"), ("type", "invalid_choice")],
)
def test_an_empty_filter_is_a_400_not_no_filter(api, name, code):
    response = api.get(f"/api/v1/orgs/alpha/credits/transactions/?{name}=")

    body = assert_error(response, 400, code)
    assert list(body["errors"]) == [name]


@pytest.mark.parametrize("key", ["", "   ", "clé-42", "a\tb", "x" * 256])
def test_an_idempotency_key_outside_the_schemas_pattern_is_refused_and_spends_nothing(api, org, key):
    response = api.post(
        "/api/v1/orgs/alpha/credits/consume/", {"amount": 1}, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
    )

    assert response.status_code == 400
    assert response.json()["code"] in {"idempotency_key_required", "invalid_idempotency_key"}
    assert org.credit_transactions.filter(type="deduct").count() == 0


def test_the_schema_states_the_idempotency_key_and_the_amounts_bounds(client):
    consume = operation(client, "post", "/api/v1/orgs/{slug}/credits/consume/")
    header = next(p for p in consume["parameters"] if p["name"] == "Idempotency-Key")
    body = client.get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]["ConsumeInputRequest"]

    assert header["schema"]["minLength"] == 1 and header["schema"]["maxLength"] == 255 and header["required"]
    assert body["properties"]["amount"] | {"description": ""} == {
        "type": "integer",
        "minimum": 1,
        "maximum": 2147483647,
        "description": "",
    }


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/me/email-preferences/", {"marketing": 0}, "marketing"),
        ("/api/v1/orgs/alpha/", {"name": 5}, "name"),
        ("/api/v1/orgs/alpha/members/", None, None),
    ],
)
def test_a_json_value_of_another_type_than_the_schemas_is_a_400(session, path, body, field):
    if body is None:  # a member's `reset_used_credits: 0` (was read as false)
        member = session.get(path).json()["results"][0]["id"]
        path, body, field = f"{path}{member}/", {"reset_used_credits": 0}, "reset_used_credits"

    response = session.patch(path, body, content_type="application/json")

    assert_error(response, 400, "invalid")
    assert list(response.json()["errors"]) == [field]


def test_a_consumptions_description_must_be_a_string(api, org):
    response = api.post(
        "/api/v1/orgs/alpha/credits/consume/",
        {"amount": 1, "description": 7},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )

    assert_error(response, 400, "invalid")
    assert org.credit_transactions.filter(type="deduct").count() == 0


def test_deleting_an_organization_documents_its_confirmation_body(client):
    delete = operation(client, "delete", "/api/v1/orgs/{slug}/")

    assert delete["requestBody"]["required"] is True
    assert {"400", "413", "415"} <= set(delete["responses"])


def test_an_organizations_deletion_without_its_name_is_a_400(session, org):
    other = factories.TenantFactory(owner=org.owner, name="Beta", slug="beta")
    factories.TenantMemberFactory(tenant=other, user=org.owner, role="owner")

    assert_error(session.delete("/api/v1/orgs/beta/", {}, content_type="application/json"), 400, "required")
    assert (
        session.delete("/api/v1/orgs/beta/", {"confirm_name": "Beta"}, content_type="application/json").status_code
        == 204
    )


def test_a_state_that_refuses_a_well_formed_request_is_a_409(session, org):
    primary = org.owner.emails.get()

    assert_error(session.delete(f"/api/v1/me/emails/{primary.pk}/"), 409, "last_email")
    assert_error(
        session.post("/api/v1/orgs/", {"name": "X", "slug": "alpha"}, content_type="application/json"),
        409,
        "slug_taken",
    )


# The patterns the schema states are what the services accept: anything a client generated from
# the schema sends passes the service's own check (the schema may be narrower, never wider).
# `maxLength` is the schema's too: an email is at most 320 characters.
@settings(max_examples=200, deadline=None)
@given(st.from_regex(EMAIL_PATTERN, fullmatch=True).filter(lambda email: len(email) <= EMAIL_MAX_LENGTH))
def test_every_email_the_schemas_pattern_admits_django_accepts(email):
    assert email_address_clean(email)


@settings(max_examples=200, deadline=None)
@given(st.from_regex(OPTIONAL_HTTP_URL_PATTERN, fullmatch=True))
def test_every_url_the_schemas_pattern_admits_the_services_accept(url):
    assert tenant_logo_clean(url) == url.strip()


@settings(max_examples=200, deadline=None)
@given(
    st.from_regex(SLUG_INPUT_PATTERN, fullmatch=True).filter(lambda slug: slug.strip().lower() not in RESERVED_SLUGS)
)
def test_every_slug_the_schemas_pattern_admits_the_service_accepts(slug):
    assert tenant_slug_clean(slug) == slug.strip().lower()


@settings(max_examples=200, deadline=None)
@given(st.from_regex(USERNAME_INPUT_PATTERN, fullmatch=True))
def test_every_username_the_schemas_pattern_admits_matches_the_services_rule(username):
    assert USERNAME_RE.match(username.strip())
