"""/api/v1/orgs/... and /api/v1/invitations/accept/ through real requests."""

import pytest
from django.core import mail
from rest_framework.test import APIClient

from organizations.models import InvitationStatus, Tenant, TenantInvitation, TenantMember, TenantMemberCreditLimit
from tests import factories
from tests.cursors import BAD_CURSORS
from tests.organizations.conftest import join, membership, token_from_last_email

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def as_owner(api, owner, org):
    api.force_login(owner)  # a signed-in session, recent: deleting asks for one (docs/accounts.md)
    return api


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert body["detail"]


@pytest.mark.parametrize("path", ["/api/v1/orgs/", "/api/v1/orgs/acme/", "/api/v1/orgs/acme/members/"])
def test_anonymous_requests_are_401_with_a_bearer_challenge(api, org, path):
    response = api.get(path)
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_list_and_create(as_owner, outsider):
    created = as_owner.post("/api/v1/orgs/", {"name": "Rocket", "logo_url": "https://x.example/l.png"}, format="json")

    assert created.status_code == 201
    assert created.json() | {"id": None, "created_at": None} == {
        "id": None,
        "created_at": None,
        "name": "Rocket",
        "slug": "rocket",
        "logo_url": "https://x.example/l.png",
        "is_default": False,
        "role": "owner",
        "permissions": [],
    }
    listed = as_owner.get("/api/v1/orgs/").json()
    assert sorted(o["slug"] for o in listed["results"]) == ["acme", "rocket"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "X", "slug": "acme"}, 409, "slug_taken"),
        ({"name": "X", "slug": "admin"}, 400, "slug_reserved"),
        ({"name": "X", "slug": "no way"}, 400, "slug_invalid"),
        ({"name": ""}, 400, "blank"),
        ({"name": 5}, 400, "invalid"),
        ({}, 400, "required"),
    ],
)
def test_create_refusals_have_codes_and_write_nothing(as_owner, body, status, code):
    before = Tenant.objects.count()

    assert_error(as_owner.post("/api/v1/orgs/", body, format="json"), status, code)
    assert Tenant.objects.count() == before


def test_retrieve_update_and_old_slug_still_resolves(as_owner, org):
    assert as_owner.get("/api/v1/orgs/acme/").json()["name"] == "Acme"

    updated = as_owner.patch("/api/v1/orgs/acme/", {"slug": "acme-corp", "name": "Acme Corp"}, format="json")

    assert updated.status_code == 200 and updated.json()["slug"] == "acme-corp"
    # The API answers for a former slug as for the current one (no redirect that would drop a body).
    assert as_owner.get("/api/v1/orgs/acme/").json()["slug"] == "acme-corp"
    assert as_owner.get("/api/v1/orgs/acme/members/").status_code == 200


def test_update_refused_for_non_owners(api, org):
    plain = join(org)
    api.force_authenticate(plain.user)

    assert_error(api.patch("/api/v1/orgs/acme/", {"name": "Mine"}, format="json"), 403, "permission_denied")
    org.refresh_from_db()
    assert org.name == "Acme"


def test_delete_confirms_the_name(as_owner, org):
    assert_error(
        as_owner.delete("/api/v1/orgs/acme/", {"confirm_name": "nope"}, format="json"), 409, "confirmation_mismatch"
    )
    assert_error(as_owner.delete("/api/v1/orgs/acme/", {}, format="json"), 400, "required")

    assert as_owner.delete("/api/v1/orgs/acme/", {"confirm_name": "Acme"}, format="json").status_code == 204
    org.refresh_from_db()
    assert org.deleted_at is not None
    assert_error(as_owner.get("/api/v1/orgs/acme/"), 404, "not_found")


def test_personal_organization_cannot_be_deleted(api, owner):
    personal = factories.TenantFactory(owner=owner, is_default=True, name="Mine", slug="mine")
    join(personal, owner, role="owner")
    api.force_login(owner)

    assert_error(api.delete("/api/v1/orgs/mine/", {"confirm_name": "Mine"}, format="json"), 409, "default_organization")


def test_members_list_shape_and_usage_visibility(api, org, owner):
    plain = join(org, factories.UserFactory(username="pat", email="pat@example.com"), credit_limit=5, used_credits=1)
    api.force_authenticate(owner)

    rows = {row["user"]["username"]: row for row in api.get("/api/v1/orgs/acme/members/").json()["results"]}

    assert rows["pat"] | {"joined_at": None} == {
        "id": str(plain.pk),
        "user": {
            "id": str(plain.user.pk),
            "username": "pat",
            "first_name": plain.user.first_name,
            "last_name": plain.user.last_name,
        },
        "email": "pat@example.com",
        "role": "member",
        "permissions": [],
        "credit_limit": 5,
        "used_credits": 1,
        "joined_at": None,
    }
    api.force_authenticate(plain.user)
    rows = {row["user"]["username"]: row for row in api.get("/api/v1/orgs/acme/members/").json()["results"]}
    assert (rows["pat"]["credit_limit"], rows["pat"]["used_credits"]) == (5, 1)
    assert rows["olivia"]["credit_limit"] is None and rows["olivia"]["used_credits"] is None


def test_patch_member_role_limit_and_reset(as_owner, org):
    target = join(org, used_credits=4)

    response = as_owner.patch(
        f"/api/v1/orgs/acme/members/{target.pk}/",
        {"role": "custom", "permissions": ["manage_api_keys"], "credit_limit": 12, "reset_used_credits": True},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["role"] == "custom"
    assert (response.json()["credit_limit"], response.json()["used_credits"]) == (12, 0)
    assert TenantMember.objects.get(pk=target.pk).permissions == ["manage_api_keys"]


def test_member_changes_refused_with_codes(api, org, owner_member):
    plain = join(org)
    api.force_authenticate(plain.user)
    url = f"/api/v1/orgs/acme/members/{owner_member.pk}/"

    assert_error(api.patch(url, {"role": "member"}, format="json"), 403, "permission_denied")
    assert_error(api.delete(url), 403, "permission_denied")
    api.force_authenticate(owner_member.user)
    assert_error(api.patch(url, {"role": "member"}, format="json"), 409, "last_owner")
    assert_error(api.delete(url), 409, "last_owner")
    assert_error(api.patch(url, {"role": "boss"}, format="json"), 400, "invalid_choice")
    assert TenantMember.objects.get(pk=owner_member.pk).role == "owner"


def test_delete_member_and_leave(api, org, owner):
    target = join(org)
    leaver = join(org)
    api.force_authenticate(owner)
    assert api.delete(f"/api/v1/orgs/acme/members/{target.pk}/").status_code == 204

    api.force_authenticate(leaver.user)
    assert api.delete(f"/api/v1/orgs/acme/members/{leaver.pk}/").status_code == 204

    assert list(TenantMember.objects.filter(tenant=org).values_list("user", flat=True)) == [owner.pk]
    assert TenantMemberCreditLimit.objects.filter(tenant=org).count() == 1


def test_transfer(as_owner, org, owner_member):
    heir = join(org)

    response = as_owner.post("/api/v1/orgs/acme/transfer/", {"member_id": str(heir.pk)}, format="json")

    assert response.status_code == 200 and response.json()["role"] == "owner"
    assert TenantMember.objects.get(pk=owner_member.pk).role == "member"


def test_invitations_create_list_resend_revoke(as_owner, org, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        created = as_owner.post(
            "/api/v1/orgs/acme/invitations/",
            {"email": "Ivy@Example.com", "role": "custom", "permissions": ["view_all_usage"], "credit_limit": 3},
            format="json",
        )
    assert created.status_code == 201
    body = created.json()
    assert (body["email"], body["status"], body["credit_limit"]) == ("ivy@example.com", "pending", 3)
    assert "token" not in body
    assert mail.outbox[-1].to == ["ivy@example.com"]

    listed = as_owner.get("/api/v1/orgs/acme/invitations/").json()["results"]
    assert [i["id"] for i in listed] == [body["id"]]

    with django_capture_on_commit_callbacks(execute=True):
        assert as_owner.post(f"/api/v1/orgs/acme/invitations/{body['id']}/resend/").status_code == 200
    assert len(mail.outbox) == 2
    assert as_owner.delete(f"/api/v1/orgs/acme/invitations/{body['id']}/").status_code == 204
    assert TenantInvitation.objects.get(pk=body["id"]).status == InvitationStatus.REVOKED
    assert as_owner.get("/api/v1/orgs/acme/invitations/").json()["results"] == []
    assert len(as_owner.get("/api/v1/orgs/acme/invitations/?status=all").json()["results"]) == 1
    assert_error(as_owner.delete(f"/api/v1/orgs/acme/invitations/{body['id']}/"), 409, "invitation_not_pending")
    assert_error(as_owner.get("/api/v1/orgs/acme/invitations/?status=lost"), 400, "invalid_choice")


def test_invitation_refusals(as_owner, api, org):
    join(org, factories.UserFactory(email="member@example.com"))

    assert_error(
        as_owner.post("/api/v1/orgs/acme/invitations/", {"email": "member@example.com"}, format="json"),
        409,
        "already_member",
    )
    assert_error(as_owner.post("/api/v1/orgs/acme/invitations/", {"email": "nope"}, format="json"), 400, "invalid")
    plain = join(org)
    api.force_authenticate(plain.user)
    assert_error(api.get("/api/v1/orgs/acme/invitations/"), 403, "permission_denied")
    assert_error(
        api.post("/api/v1/orgs/acme/invitations/", {"email": "x@example.com"}, format="json"), 403, "permission_denied"
    )
    assert not TenantInvitation.objects.exists()


def test_an_invalid_item_of_a_list_is_named_by_its_path(as_owner):
    response = as_owner.post(
        "/api/v1/orgs/acme/invitations/", {"email": "x@example.com", "permissions": ["AAA"]}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_choice",
        "detail": 'permissions.0: "AAA" is not a valid choice.',
        "errors": {"permissions.0": ['"AAA" is not a valid choice.']},
    }
    assert not TenantInvitation.objects.exists()


def test_accept_through_the_api(as_owner, api, org, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        as_owner.post("/api/v1/orgs/acme/invitations/", {"email": "ivy@example.com", "credit_limit": 8}, format="json")
    token = token_from_last_email()
    ivy = factories.UserFactory(email="ivy@example.com")
    stranger = factories.UserFactory(email="stranger@example.com")

    api.force_authenticate(stranger)
    assert_error(
        api.post("/api/v1/invitations/accept/", {"token": token}, format="json"), 403, "invitation_wrong_email"
    )
    api.force_authenticate(ivy)
    assert_error(api.post("/api/v1/invitations/accept/", {"token": "nope"}, format="json"), 404, "invitation_invalid")
    accepted = api.post("/api/v1/invitations/accept/", {"token": token}, format="json")

    assert accepted.status_code == 201
    assert (accepted.json()["slug"], accepted.json()["role"]) == ("acme", "member")
    assert membership(org, ivy).role == "member"
    assert TenantMemberCreditLimit.objects.get(tenant=org, user=ivy).credit_limit == 8
    assert_error(api.post("/api/v1/invitations/accept/", {"token": token}, format="json"), 409, "invitation_used")


@pytest.mark.parametrize("path", ["/api/v1/orgs/", "/api/v1/orgs/acme/members/", "/api/v1/orgs/acme/invitations/"])
@pytest.mark.parametrize("cursor", BAD_CURSORS)
def test_a_forged_cursor_is_a_400_invalid_cursor(as_owner, path, cursor):
    assert_error(as_owner.get(path, {"cursor": cursor}), 400, "invalid_cursor")


def test_the_next_link_of_a_members_page_still_works(as_owner, org):
    for _ in range(3):
        join(org)

    first = as_owner.get("/api/v1/orgs/acme/members/", {"page_size": 2}).json()
    second = as_owner.get(first["next"]).json()

    assert len(first["results"]) == 2 and len(second["results"]) == 2 and second["next"] is None


@pytest.mark.parametrize(
    ("path", "body"),
    [("/api/v1/orgs/", {"name": "Scripted"}), ("/api/v1/invitations/accept/", {"token": "whatever"})],
)
def test_an_api_key_is_refused_before_the_view_outside_its_organization(org, owner, path, body):
    """credits.auth refuses the key on these routes, so the views need no guard of their own."""
    from credits.services import api_key_create

    _api_key, raw_key = api_key_create(tenant=org, user=owner, name="script")
    keyed = APIClient()
    keyed.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    tenants_before = Tenant.objects.count()

    assert_error(keyed.post(path, body, format="json"), 401, "api_key_not_allowed")
    assert_error(keyed.get("/api/v1/orgs/"), 401, "api_key_not_allowed")
    assert Tenant.objects.count() == tenants_before


def test_schema_documents_every_organizations_path(as_owner):
    schema = as_owner.get("/api/schema/?format=json").json()

    for path in [
        "/api/v1/orgs/",
        "/api/v1/orgs/{slug}/",
        "/api/v1/orgs/{slug}/members/",
        "/api/v1/orgs/{slug}/members/{member_id}/",
        "/api/v1/orgs/{slug}/invitations/",
        "/api/v1/orgs/{slug}/invitations/{invitation_id}/",
        "/api/v1/invitations/accept/",
    ]:
        assert path in schema["paths"], path
    assert set(schema["paths"]["/api/v1/orgs/{slug}/"]) >= {"get", "patch", "delete"}


@pytest.mark.parametrize(
    ("permissions", "sees_all"),
    [(["view_all_usage"], True), (["manage_members"], False), (["manage_members", "view_all_usage"], True)],
)
def test_one_rule_decides_who_sees_others_usage_on_members_and_credits(api, org, owner, permissions, sees_all):
    """`view_all_usage` (or owning) shows other members' usage, on the members list and the credits ledger alike."""
    from credits.services import credits_consume
    from tests.credits.helpers import give

    viewer = join(org, factories.UserFactory(username="vic"), role="custom", permissions=permissions)
    give(org, 10)
    credits_consume(tenant=org, user=owner, amount=3)
    credits_consume(tenant=org, user=viewer.user, amount=1)
    api.force_authenticate(viewer.user)

    members = {row["user"]["username"]: row for row in api.get("/api/v1/orgs/acme/members/").json()["results"]}
    ledger = api.get("/api/v1/orgs/acme/credits/transactions/").json()["results"]

    assert members["vic"]["used_credits"] == 1
    assert (members["olivia"]["used_credits"] == 3) is sees_all
    assert (members["olivia"]["used_credits"] is None) is not sees_all
    spent = sorted(row["credits"] for row in ledger if row["type"] == "deduct")
    assert spent == ([-3, -1] if sees_all else [-1])


@pytest.mark.parametrize(
    ("path", "component"),
    [
        ("/api/v1/orgs/", "Organization"),
        ("/api/v1/orgs/{slug}/members/", "Member"),
        ("/api/v1/orgs/{slug}/invitations/", "Invitation"),
    ],
)
def test_the_schema_describes_each_list_as_a_page_of_its_rows(api, path, component):
    schema = api.get("/api/schema/?format=json").json()
    operation = schema["paths"][path]["get"]

    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert page["type"] == "object" and set(page["properties"]) == set(page["required"]) == {
        "next",
        "previous",
        "results",
    }
    assert page["properties"]["results"] == {"type": "array", "items": {"$ref": f"#/components/schemas/{component}"}}
    assert {p["name"] for p in operation["parameters"]} >= {"cursor", "page_size"}
