"""Account lifecycle: deletion (anonymised, signed out everywhere), disabling, the admin."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User, UserEmail, UserEmailPreference
from tests import factories
from tests.accounts.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db

DELETE = reverse("accounts:delete")
HOOKED: list = []


def notice_hook(*, user):
    return [f"Your organization “{user.username}'s org” will be deleted."]


def delete_hook(*, user):
    # Runs before anonymisation: the user is still recognisable here.
    HOOKED.append((user.username, user.deleted_at))


def failing_delete_hook(*, user):
    from core.errors import ApplicationError

    raise ApplicationError("Hand over “Acme” first: it has other members.", code="sole_owner")


@pytest.fixture(autouse=True)
def _clear_hooked():
    HOOKED.clear()


def whoami(client):
    return client.get("/api/v1/me/")


def test_deleting_asks_for_the_password(signed_in, member):
    page = signed_in.get(DELETE).content.decode()
    assert 'class="card danger-zone"' in page and 'autocomplete="current-password"' in page
    assert page.count("data-confirm=") == 1  # and, without JavaScript, the typed password alone

    response = signed_in.post(DELETE, {"password": "not my password"})
    assert "Your password is incorrect." in response.context["form"].errors["password"]
    member.refresh_from_db()
    assert member.deleted_at is None


def test_delete_anonymises_signs_out_everywhere_and_frees_the_addresses(client, member, mailoutbox):
    factories.UserEmailFactory(user=member, email="work@example.com", verified=True)
    factories.UserEmailPreferenceFactory(user=member, email_type="marketing", subscribed=False)
    other_device = Client()
    other_device.force_login(member)
    client.force_login(member)

    response = client.post(DELETE, {"password": factories.DEFAULT_PASSWORD})

    assert response.status_code == 302
    assert "Your account has been deleted." in client.get(response["Location"]).content.decode()
    member.refresh_from_db()
    assert member.username.startswith("deleted-") and len(member.username) == len("deleted-") + 32
    assert (member.first_name, member.last_name, member.avatar_url) == ("", "", "")
    assert member.deleted_at is not None and not member.has_usable_password()
    assert not UserEmail.objects.filter(user=member).exists()
    assert not UserEmailPreference.objects.filter(user=member).exists()
    assert whoami(client).status_code == 401
    assert whoami(other_device).status_code == 401
    assert mailoutbox[-1].to == ["ada@example.com"]
    assert "has been deleted" in mailoutbox[-1].subject

    # The addresses and the username can sign up again.
    again = Client().post(
        reverse("accounts:signup"), {"username": "ada", "email": "ada@example.com", "password": STRONG_PASSWORD}
    )
    assert again.status_code == 302
    assert User.objects.get(username="ada").pk != member.pk
    refused = Client().post(
        reverse("accounts:login"), {"username": member.username, "password": factories.DEFAULT_PASSWORD}
    )
    assert refused.status_code == 200


def test_the_page_shows_the_notices_and_the_hooks_run_in_the_transaction(signed_in, member, settings):
    settings.KEEL_ACCOUNT_DELETE_NOTICES = ["tests.accounts.test_lifecycle.notice_hook"]
    settings.KEEL_ACCOUNT_DELETE_HOOKS = ["tests.accounts.test_lifecycle.delete_hook"]

    page = signed_in.get(DELETE).content.decode()
    assert "Your organization “ada&#x27;s org” will be deleted." in page

    signed_in.post(DELETE, {"password": factories.DEFAULT_PASSWORD})
    assert HOOKED == [("ada", None)]


def test_a_refusing_hook_keeps_the_account_whole(signed_in, member, settings, mailoutbox):
    settings.KEEL_ACCOUNT_DELETE_HOOKS = ["tests.accounts.test_lifecycle.failing_delete_hook"]

    response = signed_in.post(DELETE, {"password": factories.DEFAULT_PASSWORD})

    assert "Hand over “Acme” first" in str(response.context["form"].errors)
    member.refresh_from_db()
    assert (member.username, member.deleted_at, member.emails.count()) == ("ada", None, 1)
    assert whoami(signed_in).status_code == 200
    assert mailoutbox == []


def test_a_google_account_confirms_with_its_username(client):
    user = factories.UserFactory(username="gina", password="!unusable")
    client.force_login(user)

    wrong = client.post(DELETE, {"confirm_username": "someone"})
    assert "This is not your username." in wrong.context["form"].errors["confirm_username"]
    assert client.post(DELETE, {"confirm_username": "gina"}).status_code == 302
    user.refresh_from_db()
    assert user.deleted_at is not None


# --- disabled users ---------------------------------------------------------------------------


@pytest.fixture
def staff():
    staff_client = Client()
    staff_client.force_login(factories.UserFactory(username="boss", role="owner"))
    return staff_client


def admin_action(staff, action: str, *users):
    return staff.post(
        reverse("admin:accounts_user_changelist"),
        {"action": action, "_selected_action": [str(u.pk) for u in users]},
        follow=True,
    )


def test_disabling_in_the_admin_ends_sessions_and_api_access_at_once(staff, signed_in, member):
    assert whoami(signed_in).status_code == 200

    response = admin_action(staff, "disable_users", member)

    assert "Disabled 1 user(s)." in response.content.decode()
    member.refresh_from_db()
    assert member.status == "disabled"
    assert whoami(signed_in).status_code == 401
    assert signed_in.get(reverse("accounts:profile")).status_code == 302
    assert (
        Client()
        .post(reverse("accounts:login"), {"username": "ada", "password": factories.DEFAULT_PASSWORD})
        .status_code
        == 200
    )

    admin_action(staff, "enable_users", member)
    fresh = Client()
    assert (
        fresh.post(reverse("accounts:login"), {"username": "ada", "password": factories.DEFAULT_PASSWORD}).status_code
        == 302
    )


def test_staff_cannot_disable_themselves(staff):
    boss = User.objects.get(username="boss")
    response = admin_action(staff, "disable_users", boss)
    assert "You cannot disable your own account" in response.content.decode()
    boss.refresh_from_db()
    assert boss.status == "active"


def test_the_status_is_not_editable_on_the_change_form(staff, member):
    page = staff.get(reverse("admin:accounts_user_change", args=[member.pk])).content.decode()
    assert 'name="status"' not in page


def test_a_member_signing_in_does_not_reach_the_admin(client, member):
    signed_in = client.post(reverse("accounts:login"), {"username": "ada", "password": factories.DEFAULT_PASSWORD})
    # Signed in (it used to pass when the sign-in failed too: both end on the admin's login page)...
    assert signed_in.status_code == 302
    assert whoami(client).json()["username"] == "ada"
    # ...and still sent to the admin's own login, as someone who is not staff.
    admin = client.get(reverse("admin:index"))
    assert admin.status_code == 302 and admin["Location"].startswith(reverse("admin:login"))
