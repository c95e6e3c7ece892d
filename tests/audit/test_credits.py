"""The credits services write their audit rows (keys, grants, reversals, overdraft, expiry), and
consumption, the hot path, writes none."""

import io
import re
import uuid

import pytest
from django.core.management import call_command
from django.test import Client

from audit.models import ActorKind, AuditEvent
from core.errors import ApplicationError
from core.time import now_ms
from credits.models import ApiKey, Credit
from credits.services import api_key_create, credits_consume, credits_grant_staff, tenant_overdraft_configure
from tests import factories
from tests.audit.conftest import events, only_event, signed_in
from tests.credits.helpers import give, make_org

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_user():
    return factories.UserFactory(role="owner", username="keelstaff")


@pytest.fixture
def staff(staff_user):
    client = Client()
    client.force_login(staff_user)
    return client


def test_a_key_created_and_revoked_on_the_keys_page(client):
    org = make_org(slug="acme")
    client.force_login(org.owner)
    client.post("/o/acme/api-keys/", {"name": "CI"})
    key = ApiKey.objects.get(tenant=org)
    created = only_event(action="api_key.created")
    assert (created.actor_kind, created.actor_user_id, created.tenant_id) == (ActorKind.USER, org.owner.pk, org.pk)
    assert (created.target_type, created.target_id, created.target_label) == (
        "api_key",
        str(key.pk),
        f"CI ({key.prefix}…)",
    )
    assert created.after == {"name": "CI", "prefix": key.prefix, "user": str(org.owner.pk)}

    client.post(f"/o/acme/api-keys/{key.pk}/revoke/")
    client.post(f"/o/acme/api-keys/{key.pk}/revoke/")  # already revoked: no second row
    assert only_event(action="api_key.revoked").target_id == str(key.pk)


def test_a_refused_key_writes_nothing():
    org = make_org()
    with pytest.raises(ApplicationError):
        api_key_create(tenant=org, user=factories.UserFactory(), name="not a member")
    assert events(action="api_key.created") == []


def test_the_create_api_key_command_acts_as_the_system():
    org = make_org()
    call_command("create_api_key", org=org.slug, user=org.owner.username, stdout=io.StringIO(), stderr=io.StringIO())
    row = only_event(action="api_key.created")
    assert (row.actor_kind, row.actor_label) == (ActorKind.SYSTEM, "create_api_key")


def test_consuming_credits_writes_no_audit_row():
    org = make_org()
    give(org, 10)
    before = AuditEvent.objects.count()
    key, raw = api_key_create(tenant=org, user=org.owner, name="CI")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = api.post(
        f"/api/v1/orgs/{org.slug}/credits/consume/", {"amount": 3}, content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="job-1",
    )  # fmt: skip
    assert response.status_code in (200, 201)
    credits_consume(tenant=org, user=org.owner, amount=2)
    assert AuditEvent.objects.count() == before + 1  # the key's creation only


def test_every_grant_is_recorded_with_its_source():
    org = make_org()
    grant = give(org, 25, source_id="pack_1")
    give(org, 25, source_id="pack_1")  # the same source again: one grant, one row
    row = only_event(action="credits.granted")
    assert (row.tenant_id, row.target_type, row.target_id, row.actor_kind) == (
        org.pk,
        "credit",
        str(grant.pk),
        ActorKind.SYSTEM,
    )
    assert row.after["credits"] == 25 and row.after["source_id"] == "pack_1"


def test_a_staff_grant_through_the_admin_is_by_staff_with_its_reason(staff, staff_user):
    org = make_org()
    form = staff.get("/admin/credits/credit/grant/")
    grant_id = re.search(r'name="grant_id" value="([^"]+)"', form.content.decode()).group(1)
    data = {
        "organization": org.slug,
        "amount": 50,
        "priority": 80,
        "reason": "Sorry for the outage",
        "grant_id": grant_id,
    }
    assert staff.post("/admin/credits/credit/grant/", data).status_code == 302
    row = only_event(action="credits.granted")
    assert (row.actor_kind, row.actor_user_id) == (ActorKind.STAFF, staff_user.pk)
    assert row.target_label == "Staff grant: Sorry for the outage"
    assert (row.after["credits"], row.after["mode"], row.after["priority"]) == (50, "grant", 80)


def test_a_refused_staff_grant_writes_nothing(staff_user):
    org = make_org()
    with pytest.raises(ApplicationError):
        credits_grant_staff(tenant=org, staff=staff_user, amount=5, reason=" ", grant_id=uuid.uuid4())
    assert events() == []


def test_taking_back_a_grant_in_the_admin(staff, staff_user):
    org = make_org()
    grant = give(org, 10)
    credits_consume(tenant=org, user=org.owner, amount=3)
    for _ in range(2):  # the second takes back nothing and writes nothing
        staff.post("/admin/credits/credit/", {"action": "take_back_remaining", "_selected_action": [str(grant.pk)]})
    row = only_event(action="credits.reversed")
    assert (row.actor_kind, row.actor_user_id, row.target_id) == (ActorKind.STAFF, staff_user.pk, str(grant.pk))
    assert (row.before, row.after) == ({"remaining_credits": 7}, {"remaining_credits": 0, "taken": 7})


def test_overdraft_settings_record_before_and_after(staff, staff_user):
    org = make_org(overdraft_limit=10)
    staff.post("/admin/credits/creditoverdraft/configure/", {"organization": org.slug, "enabled": "on", "limit": 25})
    staff.post("/admin/credits/creditoverdraft/configure/", {"organization": org.slug, "limit": -1})  # refused
    row = only_event(action="tenant.overdraft_changed")
    assert row.actor_kind == ActorKind.STAFF
    assert row.before == {"overdraft_enabled": True, "overdraft_limit": 10}
    assert row.after == {"overdraft_enabled": True, "overdraft_limit": 25}
    with signed_in(org.owner):
        tenant_overdraft_configure(tenant=org, enabled=True, limit=25)  # unchanged: no row
    assert len(events(action="tenant.overdraft_changed")) == 1


def test_expire_credits_records_each_grant_it_zeroes_as_the_system():
    org = make_org()
    at = now_ms()
    soon = give(org, 10, expires_at=at + 1_000, effective_at=at - 1_000)
    give(org, 10)  # never expires
    call_command("expire_credits", stdout=io.StringIO())  # nothing is due yet
    assert events(action="credits.expired") == []
    Credit.objects.filter(pk=soon.pk).update(expires_at=at - 1)
    call_command("expire_credits", stdout=io.StringIO())
    row = only_event(action="credits.expired")
    assert (row.actor_kind, row.actor_label, row.target_id) == (ActorKind.SYSTEM, "expire_credits", str(soon.pk))
    assert (row.before, row.after) == ({"remaining_credits": 10}, {"remaining_credits": 0})
