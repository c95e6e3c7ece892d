"""/o/<slug>/audit/: owners read their organization's log, filtered and paged; nobody else does."""

import pytest

from audit.models import ActorKind, AuditEvent
from core.time import MS_PER_DAY, now_ms
from organizations.models import MemberRole
from tests import factories
from tests.audit.conftest import join
from tests.querycount import queries_of

pytestmark = pytest.mark.django_db

URL = "/o/acme/audit/"


def add_events(tenant, n, *, action="member.role_changed", start=None, **fields):
    start = start or now_ms() - 10 * MS_PER_DAY
    AuditEvent.objects.bulk_create(
        AuditEvent(
            tenant_id=tenant.pk,
            action=action,
            actor_kind=fields.get("actor_kind", ActorKind.USER),
            actor_user_id=fields.get("actor_user_id"),
            impersonator_id=fields.get("impersonator_id"),
            actor_label=fields.get("actor_label", ""),
            target_type="member",
            target_id=f"t{i}",
            target_label=f"target-{i}",
            before={"role": "member"},
            after={"role": "custom"},
            created_at=start + i,
        )
        for i in range(n)
    )


def rows_of(response) -> str:
    """The table's rows only (the filter's options name every action too)."""
    page = response.content.decode()
    return page.split("<tbody>")[1].split("</tbody>")[0] if "<tbody>" in page else ""


@pytest.fixture
def signed_in_owner(client, org, owner):
    client.force_login(owner)
    return client


def test_each_kind_of_actor_is_shown_as_a_customer_may_see_it(signed_in_owner, org, owner):
    staff = factories.UserFactory(role="owner", username="keelstaff", first_name="Sam", last_name="Staff")
    add_events(org, 1, action="tenant.updated", actor_user_id=owner.pk)
    add_events(
        org,
        1,
        action="api_key.created",
        actor_kind=ActorKind.API_KEY,
        actor_user_id=owner.pk,
        actor_label="CI (kp_abc…)",
    )
    add_events(org, 1, action="invoice.paid", actor_kind=ActorKind.STRIPE, actor_label="Stripe")
    add_events(org, 1, action="credits.granted", actor_kind=ActorKind.STAFF, actor_user_id=staff.pk)
    add_events(org, 1, action="member.removed", actor_user_id=owner.pk, impersonator_id=staff.pk)

    response = signed_in_owner.get(URL)
    page = rows_of(response)

    assert "Olivia Owner (olivia)" in page
    assert "API key CI (kp_abc…)" in page
    assert "Stripe" in page and "Invoice paid" in page
    assert "Keel staff" in page
    assert "Olivia Owner (olivia) (impersonated by Keel support)" in page
    assert (
        "keelstaff" not in response.content.decode() and "Sam Staff" not in response.content.decode()
    )  # staff stay anonymous to customers
    assert "member → custom" in page


def test_the_log_is_the_organizations_own(signed_in_owner, org, outsider):
    mine = factories.TenantFactory(slug="other-org")
    add_events(mine, 1, action="tenant.deleted")
    add_events(org, 1, action="tenant.updated")
    page = rows_of(signed_in_owner.get(URL))
    assert "Organization renamed or moved" in page and "Organization deleted" not in page


def test_only_owners_see_it(client, org, outsider):
    admin_like = join(
        org, factories.UserFactory(username="carla"), role=MemberRole.CUSTOM, permissions=["manage_members"]
    )
    client.force_login(admin_like.user)
    assert client.get(URL).status_code == 403
    assert "Audit log" not in client.get("/o/acme/members/").content.decode()
    client.force_login(outsider)
    assert client.get(URL).status_code == 404


def test_the_owners_tabs_lead_to_it(signed_in_owner):
    assert 'href="/o/acme/audit/"' in signed_in_owner.get("/o/acme/members/").content.decode()
    assert signed_in_owner.get(URL).status_code == 200
    assert "Organization created" in rows_of(signed_in_owner.get(URL))  # the fixture's own creation


def test_filters_by_action_actor_and_utc_dates(signed_in_owner, org, owner):
    ada = join(org, factories.UserFactory(username="ada"))
    day = 86_400_000
    jan_1 = 1_767_225_600_000  # 2026-01-01 00:00 UTC
    add_events(org, 1, action="tenant.updated", actor_user_id=owner.pk, start=jan_1 + 1)
    add_events(org, 1, action="member.left", actor_user_id=ada.user_id, start=jan_1 + 2 * day)

    by_action = rows_of(signed_in_owner.get(URL, {"action": "member.left"}))
    by_actor = rows_of(signed_in_owner.get(URL, {"actor": str(owner.pk)}))
    by_dates = rows_of(signed_in_owner.get(URL, {"since": "2026-01-02", "until": "2026-01-03"}))
    nothing = signed_in_owner.get(URL, {"since": "2027-01-01"}).content.decode()

    assert "Member left" in by_action and "Organization renamed" not in by_action
    assert "Organization renamed" in by_actor and "Member left" not in by_actor
    assert "Member left" in by_dates and "Organization renamed" not in by_dates
    assert "Nothing in the log matches these filters" in nothing


@pytest.mark.parametrize(
    "query",
    [{"since": "2026-02-01", "until": "2026-01-01"}, {"since": "yesterday"}, {"action": "nope.never"}, {"actor": "x"}],
)
def test_a_bad_filter_is_a_400_page_that_says_why(signed_in_owner, org, query):
    add_events(org, 3)
    response = signed_in_owner.get(URL, query)
    assert response.status_code == 400
    assert "Fix the filters above" in response.content.decode()


def test_fifty_a_page_older_pages_by_cursor(signed_in_owner, org):
    add_events(org, 120, start=now_ms() + MS_PER_DAY)  # newer than the organization's creation row
    first = signed_in_owner.get(URL).content.decode()
    assert first.count("target-") == 50 * 2  # label and its title
    assert "target-119" in first and "target-70" in first and "target-69" not in first
    cursor = first.split("before=")[1].split('"')[0]
    second = signed_in_owner.get(f"{URL}?before={cursor}").content.decode()
    assert "target-69" in second and "target-20" in second and "target-70" not in second
    assert "← Newest" in second


def test_the_same_queries_with_10_or_500_rows(signed_in_owner, org, owner, django_assert_max_num_queries):
    signed_in_owner.get("/o/acme/")  # the first visit stores the current organization in the session
    for n in range(3):
        join(org, factories.UserFactory(username=f"member{n}"))
    add_events(org, 10, actor_user_id=owner.pk)
    small = queries_of(signed_in_owner, URL)
    add_events(org, 490, actor_user_id=owner.pk, start=now_ms() - MS_PER_DAY)
    large = queries_of(signed_in_owner, URL)
    assert large == small
    with django_assert_max_num_queries(7):
        signed_in_owner.get(URL)


def test_changes_read_as_an_owner_reads_them():
    # Epoch-ms times as UTC dates, nothing as a dash, lists joined, internal ids left out (the
    # row names its target and actor already).
    from audit.models import AuditEvent
    from audit.selectors import event_display

    event = AuditEvent(
        action="invitation.created",
        actor_kind="user",
        before={"role": "member", "expires_at": None},
        after={
            "role": "owner",
            "expires_at": 1_796_792_730_000,
            "permissions": ["manage_billing"],
            "user": "8cc9f5e3-5c31-4b52-9d3e-1b1e6e0c9a11",
            "is_default": False,
        },
    )
    assert event_display(event)["changes"] == [
        ("role", "member", "owner"),
        ("expires at", "—", "2026-12-09 05:05 UTC"),
        ("permissions", None, "manage billing"),
        ("is default", None, "no"),
    ]
