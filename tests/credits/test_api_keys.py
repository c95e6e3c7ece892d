import pytest
from django.db import connection
from django.test import Client

from accounts.models import UserStatus
from core.errors import ValidationFailed
from core.time import now_ms
from credits.models import ApiKey
from credits.services import api_key_create, api_key_revoke
from organizations.models import TenantMember
from organizations.services import member_leave, member_remove
from tests import factories
from tests.credits.conftest import consume, url
from tests.credits.helpers import add_member, give, make_org

pytestmark = pytest.mark.django_db


def test_a_key_is_shown_once_and_stored_only_as_a_hash(org):
    api_key, raw_key = api_key_create(tenant=org, user=org.owner, name="worker")

    assert raw_key.startswith(f"keel_{api_key.prefix}.") and len(raw_key) > 40
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert stored.hashed_key.startswith("sha512$$") and raw_key not in stored.hashed_key
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM api_keys")
        assert raw_key.split(".", 1)[1] not in repr(cursor.fetchall())


def test_the_key_acts_as_its_user_in_its_organization(org, api):
    give(org, 10)
    response = consume(api, org, {"amount": 2})
    assert response.status_code == 201
    assert response.json()["transactions"][0]["user"] == str(org.owner.pk)


@pytest.mark.parametrize(
    "header",
    [
        "Bearer keel_nope.nope",
        "Bearer not-a-keel-key",
        "Bearer",
        "Bearer a b",
        "Bearer keel_.x",
    ],
)
def test_bad_keys_are_401(org, header):
    response = Client(HTTP_AUTHORIZATION=header).get(url(org))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"


def test_a_right_prefix_with_a_wrong_secret_is_refused(org, api):
    forged = f"keel_{api.api_key.prefix}.{'x' * 32}"
    response = Client(HTTP_AUTHORIZATION=f"Bearer {forged}").get(url(org))
    assert response.status_code == 401 and response.json()["code"] == "invalid_api_key"


def test_a_revoked_key_stops_working_at_once(org, api):
    assert api.get(url(org)).status_code == 200
    assert api_key_revoke(api_key=api.api_key) is True
    assert api_key_revoke(api_key=api.api_key) is False
    assert api.get(url(org)).status_code == 401


@pytest.mark.parametrize("change", [{"status": UserStatus.DISABLED}, {"deleted_at": 1}])
def test_a_disabled_or_deleted_users_keys_stop_working(org, change):
    member = add_member(org)
    _api_key, raw_key = api_key_create(tenant=org, user=member, name="m")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert client.get(url(org)).status_code == 200

    type(member).objects.filter(pk=member.pk).update(**change)

    response = client.get(url(org))
    assert response.status_code == 401 and response.json()["code"] == "invalid_api_key"


def test_a_key_of_someone_who_left_the_organization_gets_404(org):
    member = add_member(org)
    _api_key, raw_key = api_key_create(tenant=org, user=member, name="m")
    TenantMember.objects.filter(tenant=org, user=member).delete()
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}").get(url(org)).status_code == 404


@pytest.mark.parametrize("how", ["removed", "left"])
def test_ending_a_membership_revokes_the_members_keys_there_and_only_there(org, how):
    member = add_member(org)
    elsewhere = make_org()
    factories.TenantMemberFactory(tenant=elsewhere, user=member, role="member")
    here, raw_here = api_key_create(tenant=org, user=member, name="here")
    there, raw_there = api_key_create(tenant=elsewhere, user=member, name="there")
    owners_key, _ = api_key_create(tenant=org, user=org.owner, name="owner's")
    membership = TenantMember.objects.get(tenant=org, user=member)

    if how == "removed":
        member_remove(member=membership, actor=TenantMember.objects.get(tenant=org, user=org.owner))
    else:
        member_leave(member=membership)

    here.refresh_from_db(), there.refresh_from_db(), owners_key.refresh_from_db()
    assert here.revoked_at is not None
    assert there.revoked_at is None and owners_key.revoked_at is None
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw_here}").get(url(org)).status_code == 401
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw_there}").get(url(elsewhere)).status_code == 200


def test_a_key_works_in_its_organization_only(api):
    """Its user may belong to another organization too; the key still only opens its own."""
    own = api.api_key.tenant
    elsewhere = make_org()
    factories.TenantMemberFactory(tenant=elsewhere, user=own.owner, role="owner")

    assert api.get(url(own)).status_code == 200
    assert api.get(url(elsewhere)).status_code == 404
    assert api.get(f"/api/v1/orgs/{elsewhere.slug}/").status_code == 404


@pytest.mark.parametrize("path", ["/api/v1/me/", "/api/v1/orgs/", "/api/v1/me/emails/"])
def test_a_key_cannot_reach_account_routes(api, path):
    response = api.get(path)
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_not_allowed"


def test_the_public_schema_ignores_a_key(api):
    assert api.get("/api/schema/").status_code == 200


def test_last_used_is_kept_without_a_write_on_every_request(org, api, django_assert_num_queries):
    assert ApiKey.objects.get(pk=api.api_key.pk).last_used_at is None
    api.get(url(org))
    first = ApiKey.objects.get(pk=api.api_key.pk).last_used_at
    assert first is not None and abs(first - now_ms()) < 60_000

    with django_assert_num_queries(2):  # key with its membership, grants page: no UPDATE of the key
        api.get(url(org, "grants/"))
    assert ApiKey.objects.get(pk=api.api_key.pk).last_used_at == first

    ApiKey.objects.filter(pk=api.api_key.pk).update(last_used_at=first - 61_000)
    api.get(url(org))
    assert ApiKey.objects.get(pk=api.api_key.pk).last_used_at > first - 61_000


@pytest.mark.parametrize(("name", "field"), [("", "name"), ("x" * 101, "name")])
def test_key_names_are_validated(org, name, field):
    with pytest.raises(ValidationFailed) as refused:
        api_key_create(tenant=org, user=org.owner, name=name)
    assert refused.value.field == field
    assert not ApiKey.objects.exists()


def test_only_members_get_keys(org):
    with pytest.raises(ValidationFailed):
        api_key_create(tenant=org, user=factories.UserFactory(), name="stranger")
    assert not ApiKey.objects.exists()
