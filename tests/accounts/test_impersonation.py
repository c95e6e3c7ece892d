"""Staff signed in as a user for support (django-hijack; docs/accounts.md, "Impersonation"):
started from the admin's user page, shown on every page, recorded in the audit log, never
towards staff, and never the user's own sign-in."""

import pytest
from axes.models import AccessAttempt
from django.contrib.sessions.models import Session
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse

from accounts.models import User, UserStatus
from audit.context import serving
from audit.models import ActorKind, AuditEvent
from audit.services import audit_record
from core.time import now_ms
from organizations import services as organizations
from tests import factories

pytestmark = pytest.mark.django_db

START = "/admin/accounts/user/impersonate/"
STOP = "/accounts/impersonation/stop/"
BANNER = "You are signed in as <strong>ada</strong> (support)."


@pytest.fixture
def staff(db):
    return factories.UserFactory(username="sam", role="owner")


@pytest.fixture
def ada(db):
    user = factories.UserFactory(username="ada")
    organizations.tenant_create_default(user=user)
    return user


@pytest.fixture
def support(client, staff):
    client.force_login(staff)
    return client


def signed_in_as(client) -> str | None:
    """The username the client's session is signed in as (the profile page's header), or None."""
    response = client.get("/accounts/")
    if response.status_code != 200:
        return None
    return response.context["user"].username


def start(client, user, **extra):
    return client.post(START, {"user_pk": str(user.pk)}, **extra)


def rows(action: str):
    return list(AuditEvent.objects.filter(action=action))


def test_staff_start_from_the_users_admin_page_and_act_as_them_with_a_banner_everywhere(support, staff, ada):
    page = support.get(reverse("admin:accounts_user_change", args=[ada.pk])).content.decode()
    assert f'action="{START}"' in page and f'value="{ada.pk}"' in page
    assert BANNER not in page

    response = start(support, ada)

    assert response.status_code == 302 and response["Location"] == "/"
    assert signed_in_as(support) == "ada"
    slug = ada.memberships.get().tenant.slug
    for url in ("/accounts/", "/accounts/emails/", f"/o/{slug}/", "/orgs/", "/pricing/"):
        html = support.get(url).content.decode()
        assert BANNER in html, url
        assert f'action="{STOP}"' in html and "Stop impersonating" in html, url
    [started] = rows("impersonation.started")
    assert (started.actor_kind, started.actor_user_id, started.impersonator_id) == (ActorKind.STAFF, staff.pk, None)
    assert (started.target_type, started.target_id, started.target_label) == ("user", str(ada.pk), "ada")
    assert started.tenant_id is None and started.ip_address == "127.0.0.1"


def test_what_the_user_does_meanwhile_names_the_staff_member_as_impersonator(support, staff, ada):
    start(support, ada)
    # Any audit row the user's requests write carries the staff member (audit/context.py).
    request = support.get("/accounts/").wsgi_request
    with transaction.atomic(), serving(request):
        event = audit_record(action="member.role_changed", target=ada)
    event.refresh_from_db()
    assert (event.actor_kind, event.actor_user_id, event.impersonator_id) == (ActorKind.USER, ada.pk, staff.pk)


def test_stopping_signs_the_staff_member_back_in_and_is_recorded(support, staff, ada):
    start(support, ada)

    response = support.post(STOP, {"next": reverse("admin:accounts_user_change", args=[ada.pk])})

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:accounts_user_change", args=[ada.pk])
    assert signed_in_as(support) == "sam"
    assert BANNER not in support.get("/accounts/").content.decode()
    assert support.get("/admin/").status_code == 200
    [ended] = rows("impersonation.ended")
    assert (ended.actor_kind, ended.actor_user_id, ended.impersonator_id) == (ActorKind.STAFF, staff.pk, None)
    assert (ended.target_id, ended.tenant_id) == (str(ada.pk), None)
    # Stopping twice is refused: nobody is being impersonated any more.
    assert support.post(STOP).status_code == 403
    assert len(rows("impersonation.ended")) == 1


def test_no_switch_without_its_audit_row(support, ada):
    start(support, ada)
    # The database refuses the row that records the end (a trigger for this test only).
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit row refused'; END $$;"
            "CREATE TRIGGER refuse_end BEFORE INSERT ON audit_events FOR EACH ROW "
            "WHEN (NEW.action = 'impersonation.ended') EXECUTE FUNCTION pg_temp.refuse()"
        )

    with pytest.raises(DatabaseError, match="audit row refused"):
        support.post(STOP)

    # The switch back rolled back with it: still signed in as ada, in the same session.
    assert signed_in_as(support) == "ada"
    assert Session.objects.filter(session_key=support.session.session_key).exists()
    assert not rows("impersonation.ended")


def test_impersonating_is_not_the_users_sign_in(support, staff, ada, settings):
    # ada failed to sign in twice from the address support works from.
    for _ in range(2):
        Client().post("/accounts/login/", {"username": "ada", "password": "wrong password!"})
    assert AccessAttempt.objects.get().failures_since_start == 2
    User.objects.filter(pk__in=[staff.pk, ada.pk]).update(last_login=None)

    start(support, ada)
    support.post(STOP)

    assert list(User.objects.filter(pk__in=[staff.pk, ada.pk]).values_list("last_login", flat=True)) == [None, None]
    # A real sign-in would have cleared them (AXES_RESET_ON_SUCCESS); support's did not.
    assert AccessAttempt.objects.get().failures_since_start == 2


def test_the_admin_is_out_of_reach_while_impersonating(support, ada):
    start(support, ada)

    assert support.get("/admin/").status_code == 302
    assert support.get(reverse("admin:accounts_user_changelist")).status_code == 302
    # Nor can the impersonated session start another impersonation.
    other = factories.UserFactory(username="bob")
    start(support, other)
    assert signed_in_as(support) == "ada"
    assert len(rows("impersonation.started")) == 1


def test_non_staff_cannot_start(client, ada):
    mallory = factories.UserFactory(username="mallory")
    client.force_login(mallory)

    response = start(client, ada)

    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert signed_in_as(client) == "mallory"
    assert not rows("impersonation.started")
    assert signed_in_as(Client()) is None  # and the page is not reachable signed out either
    assert Client().post(START, {"user_pk": str(ada.pk)}).status_code == 302


def test_staff_cannot_impersonate_staff_nor_disabled_or_deleted_accounts(support, staff):
    other_staff = factories.UserFactory(username="olga", role="owner")
    disabled = factories.UserFactory(username="dora", status=UserStatus.DISABLED)
    deleted = factories.UserFactory(username="dan", deleted_at=now_ms())
    for target in (other_staff, disabled, deleted, staff):
        page = support.get(reverse("admin:accounts_user_change", args=[target.pk])).content.decode()
        assert f'action="{START}"' not in page, target.username
        assert start(support, target).status_code == 403, target.username
        assert signed_in_as(support) == "sam"
    assert not rows("impersonation.started")


def test_only_a_post_with_its_csrf_token_starts_it(staff, ada):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)

    assert browser.get(START, {"user_pk": str(ada.pk)}).status_code == 400  # hijack reads POST only
    assert browser.post(START, {"user_pk": str(ada.pk)}).status_code == 403  # no CSRF token
    assert signed_in_as(browser) == "sam"
    assert not rows("impersonation.started")

    # The admin page's own form carries the token, and works.
    browser.get(reverse("admin:accounts_user_change", args=[ada.pk]))
    token = browser.cookies["csrftoken"].value
    assert start(browser, ada, HTTP_X_CSRFTOKEN=token).status_code == 302
    assert signed_in_as(browser) == "ada"


def test_a_malformed_or_unknown_user_is_a_404(support):
    assert support.post(START, {"user_pk": "not-a-uuid"}).status_code == 404
    assert support.post(START, {"user_pk": "00000000-0000-0000-0000-000000000000"}).status_code == 404
    assert support.post(START, {}).status_code == 400
    assert signed_in_as(support) == "sam"
