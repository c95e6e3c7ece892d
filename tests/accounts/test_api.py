"""`/api/v1/me/...` through real HTTP: shapes, stable error codes, nothing written on bad input."""

import pytest
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import reverse

from accounts.models import UserEmail
from tests import factories

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"
EMAILS = "/api/v1/me/emails/"
PREFERENCES = "/api/v1/me/email-preferences/"


def email_url(user_email, action: str = "") -> str:
    return f"{EMAILS}{user_email.pk}/{action + '/' if action else ''}"


@pytest.fixture
def api(signed_in):
    return signed_in


def error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert body["detail"]
    return body


@pytest.mark.parametrize(
    ("method", "url"),
    [("get", ME), ("patch", ME), ("get", EMAILS), ("post", EMAILS), ("get", PREFERENCES), ("put", PREFERENCES)],
)
def test_everything_needs_a_signed_in_user(client, method, url):
    response = getattr(client, method)(url, content_type="application/json")
    error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_me_shows_the_account(api, member):
    body = api.get(ME).json()
    assert body == {
        "id": str(member.pk),
        "username": "ada",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "avatar_url": "",
        "email": "ada@example.com",
        "email_verified": True,
        "has_password": True,
        "role": "member",
        "created_at": member.created_at,
    }


def test_patch_me_changes_only_what_is_sent(api, member):
    response = api.patch(
        ME, {"first_name": "Augusta", "avatar_url": "https://img.example/a.png"}, content_type="application/json"
    )

    assert response.status_code == 200
    assert (response.json()["first_name"], response.json()["last_name"]) == ("Augusta", "Lovelace")
    member.refresh_from_db()
    assert member.avatar_url == "https://img.example/a.png"


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"username": "Babbage"}, 409, "username_taken"),
        ({"username": "x"}, 400, "invalid_username"),
        ({"username": "a@b"}, 400, "invalid_username"),
        ({"avatar_url": "ftp://files.example/a.png"}, 400, "invalid_avatar"),
        ({"first_name": "x" * 300}, 400, "max_length"),
        ({"first_name": 5}, 400, "invalid"),
    ],
)
def test_patch_me_refuses_bad_input_with_a_code_and_writes_nothing(api, member, payload, status, code):
    factories.UserFactory(username="babbage")

    error(api.patch(ME, {"last_name": "Changed", **payload}, content_type="application/json"), status, code)

    member.refresh_from_db()
    assert (member.username, member.last_name, member.avatar_url) == ("ada", "Lovelace", "")


def test_patch_me_reports_every_refused_field_at_once(api, member):
    factories.UserFactory(username="babbage")

    body = error(
        api.patch(ME, {"username": "Babbage", "avatar_url": "ftp://x.example/a.png"}, content_type="application/json"),
        409,
        "username_taken",
    )

    assert set(body["errors"]) == {"username", "avatar_url"}
    assert body["errors"]["username"] == ["This username is already taken."]
    member.refresh_from_db()
    assert (member.username, member.avatar_url) == ("ada", "")


def test_list_and_add_emails(api, member, mailoutbox):
    created = api.post(EMAILS, {"email": "Work@Example.com"}, content_type="application/json")

    assert created.status_code == 201
    assert created.json()["email"] == "work@example.com"
    assert (created.json()["verified"], created.json()["is_primary"], created.json()["via"]) == (
        False,
        False,
        "email:password",
    )
    assert mailoutbox[-1].to == ["work@example.com"]
    listed = api.get(EMAILS).json()
    assert [(e["email"], e["is_primary"]) for e in listed] == [("ada@example.com", True), ("work@example.com", False)]


@pytest.mark.parametrize(
    ("address", "status", "code"),
    [("ada@example.com", 409, "email_taken"), ("theirs@example.com", 409, "email_taken"), ("nope", 400, "invalid")],
)
def test_adding_a_taken_or_bad_address_is_refused_with_a_code(api, member, address, status, code):
    factories.UserFactory(email="theirs@example.com")

    body = error(api.post(EMAILS, {"email": address}, content_type="application/json"), status, code)

    assert "email" in body["errors"]
    assert member.emails.count() == 1


def test_make_primary_and_delete(api, member):
    work = factories.UserEmailFactory(user=member, email="work@example.com", verified=True)
    spare = factories.UserEmailFactory(user=member, email="spare@example.com", verified=False)

    made = api.post(email_url(work, "make-primary"))
    assert made.status_code == 200 and made.json()["is_primary"] is True
    assert api.delete(email_url(spare)).status_code == 204
    assert sorted(member.emails.values_list("email", "is_primary")) == [
        ("ada@example.com", False),
        ("work@example.com", True),
    ]


def test_email_rules_answer_with_stable_codes(api, member):
    primary = member.emails.get()
    error(api.delete(email_url(primary)), 409, "last_email")

    pending = factories.UserEmailFactory(user=member, email="pending@example.com", verified=False)
    error(api.delete(email_url(primary)), 409, "primary_email")
    error(api.post(email_url(pending, "make-primary")), 409, "email_unverified")
    error(api.post(email_url(primary, "resend-verification")), 409, "already_verified")
    assert api.post(email_url(pending, "resend-verification")).status_code == 202
    assert member.emails.get(is_primary=True) == primary


def test_another_users_email_is_404_everywhere(api):
    theirs = factories.UserEmailFactory(email="theirs@example.com", verified=True)

    error(api.delete(email_url(theirs)), 404, "not_found")
    error(api.post(email_url(theirs, "make-primary")), 404, "not_found")
    error(api.post(email_url(theirs, "resend-verification")), 404, "not_found")
    error(api.delete(f"{EMAILS}not-a-uuid/"), 404, "not_found")
    assert UserEmail.objects.filter(pk=theirs.pk, is_primary=False).exists()


def test_email_preferences_get_and_put(api, member):
    assert api.get(PREFERENCES).json() == {"marketing": True, "product_updates": True, "payment_receipts": True}

    body = {"marketing": False, "product_updates": True, "payment_receipts": False}
    assert api.put(PREFERENCES, body, content_type="application/json").json() == body
    assert api.get(PREFERENCES).json() == body


@pytest.mark.parametrize(
    "payload",
    [{"marketing": False}, {"marketing": "maybe", "product_updates": True, "payment_receipts": True}],
)
def test_email_preferences_put_needs_every_type_as_a_boolean(api, member, payload):
    body = error(
        api.put(PREFERENCES, payload, content_type="application/json"),
        400,
        "invalid" if len(payload) > 1 else "required",
    )
    assert body["errors"]
    assert api.get(PREFERENCES).json()["marketing"] is True


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        ("application/json", '{"marketing": false}', 400, "required"),
        ("application/x-www-form-urlencoded", "marketing=false", 415, "unsupported_media_type"),
        (MULTIPART_CONTENT, encode_multipart(BOUNDARY, {"marketing": "false"}), 415, "unsupported_media_type"),
    ],
    ids=["json", "form", "multipart"],
)
def test_a_partial_put_of_email_preferences_is_refused_in_every_encoding(api, member, content_type, body, status, code):
    # given a PUT naming one type only (as a form, the two missing ones once read as false)
    # when it is sent
    response = api.put(PREFERENCES, body, content_type=content_type)

    # then it is refused and nothing changes
    error(response, status, code)
    assert api.get(PREFERENCES).json() == {"marketing": True, "product_updates": True, "payment_receipts": True}


def test_email_preferences_patch_changes_only_what_it_names(api, member):
    response = api.patch(PREFERENCES, {"product_updates": False}, content_type="application/json")

    assert response.status_code == 200
    assert response.json() == {"marketing": True, "product_updates": False, "payment_receipts": True}
    assert api.get(PREFERENCES).json() == response.json()
    error(api.patch(PREFERENCES, {"marketing": "maybe"}, content_type="application/json"), 400, "invalid")
    error(
        api.patch(PREFERENCES, "marketing=false", content_type="application/x-www-form-urlencoded"),
        415,
        "unsupported_media_type",
    )
    assert api.get(PREFERENCES).json()["marketing"] is True


def test_list_endpoint_query_count_does_not_grow_with_addresses(api, member, django_assert_max_num_queries):
    for n in range(9):
        factories.UserEmailFactory(user=member, email=f"a{n}@example.com", verified=False)
    with django_assert_max_num_queries(3):
        response = api.get(EMAILS)
    assert len(response.json()) == 10


def test_session_api_writes_need_the_csrf_token(member):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(member)

    error(strict.post(EMAILS, {"email": "x@example.com"}, content_type="application/json"), 403, "permission_denied")
    assert member.emails.count() == 1


def test_the_schema_documents_every_me_endpoint(client):
    schema = client.get(reverse("api-schema"), {"format": "json"}).json()
    paths = schema["paths"]
    assert set(paths["/api/v1/me/"]) >= {"get", "patch"}
    assert set(paths["/api/v1/me/emails/"]) >= {"get", "post"}
    assert "delete" in paths["/api/v1/me/emails/{email_id}/"]
    assert "post" in paths["/api/v1/me/emails/{email_id}/make-primary/"]
    assert set(paths["/api/v1/me/email-preferences/"]) >= {"get", "put", "patch"}
    assert set(schema["components"]["schemas"]["EmailPreferences"]["required"]) == {
        "marketing",
        "product_updates",
        "payment_receipts",
    }
