import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from credits.models import ApiKey, Credit, CreditTransaction
from credits.services import credits_consume
from organizations.models import Tenant
from tests import factories
from tests.credits.helpers import add_member, assert_invariants, give, make_org, owed, remaining

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    client = Client()
    client.force_login(factories.UserFactory(role="owner"))
    return client


def hidden_grant_id(page) -> str:
    return re.search(r'name="grant_id" value="([^"]+)"', page.content.decode()).group(1)


def test_staff_grant_through_the_admin_form(staff):
    org = make_org(overdraft_limit=10)
    credits_consume(tenant=org, user=org.owner, amount=4)
    form = staff.get("/admin/credits/credit/grant/")
    assert form.status_code == 200
    data = {
        "organization": org.slug,
        "amount": 50,
        "priority": 80,
        "expires_in_days": 30,
        "reason": "Sorry for the outage",
        "grant_id": hidden_grant_id(form),
    }

    response = staff.post("/admin/credits/credit/grant/", data)
    again = staff.post("/admin/credits/credit/grant/", data)  # a double submit is one grant

    assert response.status_code == 302 and again.status_code == 302
    grant = Credit.objects.get(tenant=org)
    assert (grant.mode, grant.total_credits, grant.remaining_credits, grant.priority) == ("grant", 50, 46, 80)
    assert grant.expires_at - grant.effective_at == 30 * 86_400_000
    add = CreditTransaction.objects.get(tenant=org, type="add:grant")
    assert add.credits == 50 and "Sorry for the outage" in add.description
    assert owed(org) == 0
    assert_invariants(org)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"organization": "no-such-org"}, "No live organization has this slug."),
        ({"amount": 0}, "Ensure this value is greater than or equal to 1."),
        ({"reason": ""}, "This field is required."),
    ],
)
def test_bad_staff_grants_show_errors_and_write_nothing(staff, change, message):
    org = make_org()
    form = staff.get("/admin/credits/credit/grant/")
    data = {"organization": org.slug, "amount": 5, "priority": 50, "reason": "r", "grant_id": hidden_grant_id(form)}
    response = staff.post("/admin/credits/credit/grant/", {**data, **change})
    assert response.status_code == 400 and message in response.content.decode()
    assert not Credit.objects.exists()


def test_members_cannot_reach_the_grant_form(client):
    client.force_login(factories.UserFactory(role="member"))
    assert client.get("/admin/credits/credit/grant/").status_code == 302
    assert not Credit.objects.exists()


def test_grants_and_ledger_cannot_be_edited_by_hand(staff):
    grant = give(make_org(), 10)
    page = staff.get(f"/admin/credits/credit/{grant.pk}/change/").content.decode()
    assert 'name="remaining_credits"' not in page
    assert staff.post(f"/admin/credits/credit/{grant.pk}/change/", {"remaining_credits": 999}).status_code == 403
    assert staff.get("/admin/credits/credit/add/").status_code == 403
    assert remaining(grant) == 10


def test_take_back_action_reverses_what_is_left(staff):
    org = make_org()
    grant = give(org, 10)
    credits_consume(tenant=org, user=org.owner, amount=3)
    response = staff.post(
        "/admin/credits/credit/", {"action": "take_back_remaining", "_selected_action": [str(grant.pk)]}
    )
    assert response.status_code == 302
    assert remaining(grant) == 0
    assert CreditTransaction.objects.get(type="reverse").credits == -7
    assert_invariants(org)


def test_overdraft_is_configured_in_the_admin(staff):
    org = make_org()
    response = staff.post(
        "/admin/credits/creditoverdraft/configure/", {"organization": org.slug, "enabled": "on", "limit": 25}
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert (org.overdraft_enabled, org.overdraft_limit) == (True, 25)
    bad = staff.post("/admin/credits/creditoverdraft/configure/", {"organization": org.slug, "limit": -1})
    assert bad.status_code == 400
    assert Tenant.objects.get(pk=org.pk).overdraft_limit == 25


def test_staff_create_a_key_shown_once_and_revoke_keys(staff):
    org = make_org()
    member = add_member(org, username="robot")
    page = staff.post("/admin/credits/apikey/create/", {"organization": org.slug, "username": "ROBOT", "name": "ci"})
    assert page.status_code == 200 and "no-store" in page.headers["Cache-Control"]
    raw_key = re.search(r'<code id="new-key"[^>]*>([^<]+)</code>', page.content.decode()).group(1)
    api_key = ApiKey.objects.get()
    assert api_key.user_id == member.pk
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}").get(f"/api/v1/orgs/{org.slug}/credits/").status_code == 200
    listing = staff.get("/admin/credits/apikey/").content.decode()
    assert api_key.prefix in listing and raw_key not in listing

    staff.post("/admin/credits/apikey/", {"action": "revoke", "_selected_action": [str(api_key.pk)]})

    assert ApiKey.objects.get().revoked_at is not None
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}").get(f"/api/v1/orgs/{org.slug}/credits/").status_code == 401


def test_staff_key_for_a_non_member_is_refused(staff):
    org = make_org()
    factories.UserFactory(username="stranger")
    page = staff.post("/admin/credits/apikey/create/", {"organization": org.slug, "username": "stranger", "name": "x"})
    assert page.status_code == 400 and "not a member" in page.content.decode()
    assert not ApiKey.objects.exists()


# -- create_api_key command -------------------------------------------------


def test_create_api_key_command_prints_the_key_once():
    org = make_org()
    out, err = StringIO(), StringIO()

    call_command("create_api_key", org=org.slug, user=org.owner.username, name="cron", stdout=out, stderr=err)

    raw_key = out.getvalue().strip()
    api_key = ApiKey.objects.get()
    assert raw_key.startswith(f"keel_{api_key.prefix}.") and api_key.name == "cron"
    assert raw_key not in err.getvalue()
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}").get(f"/api/v1/orgs/{org.slug}/credits/").status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"org": "nope", "user": "owner"}, "No organization"),
        ({"org": "ORG", "user": "nobody"}, "No user"),
        ({"org": "ORG", "user": "outsider"}, "not a member"),
    ],
)
def test_create_api_key_command_errors(args, message):
    org = make_org()
    factories.UserFactory(username="outsider")
    args = {k: (org.slug if v == "ORG" else org.owner.username if v == "owner" else v) for k, v in args.items()}
    with pytest.raises(CommandError, match=message):
        call_command("create_api_key", **args, stdout=StringIO(), stderr=StringIO())
    assert not ApiKey.objects.exists()


def test_command_key_default_name():
    org = make_org()
    call_command("create_api_key", org=org.slug, user=org.owner.username, stdout=StringIO(), stderr=StringIO())
    assert ApiKey.objects.get().name == "Command-line key"
