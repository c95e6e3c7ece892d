"""Sign-up, sign-in, sign-out, password change and reset, through real HTTP requests."""

import re

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests import factories
from tests.accounts.conftest import STRONG_PASSWORD, link_in, path_of

pytestmark = pytest.mark.django_db

SIGNUP = reverse("accounts:signup")
LOGIN = reverse("accounts:login")
RESET = reverse("accounts:password_reset")


def sign_up(client, **overrides):
    data = {"username": "grace", "email": "grace@example.com", "password": STRONG_PASSWORD, **overrides}
    return client.post(SIGNUP + overrides.pop("query", ""), data)


def sign_in(client, username, password=factories.DEFAULT_PASSWORD, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def whoami(client):
    return client.get(reverse("api-me"))


# --- sign-up ------------------------------------------------------------------------


def test_signup_page_has_csrf_and_no_google_button_without_settings(client):
    page = client.get(SIGNUP).content.decode()
    assert "csrfmiddlewaretoken" in page
    assert "Google" not in page


def test_sign_up_in_and_reset_forms_help_browsers_and_password_managers(client):
    signup = client.get(SIGNUP).content.decode()
    for attribute in ['autocomplete="username"', 'autocomplete="email"', 'autocomplete="new-password"']:
        assert attribute in signup
    assert re.search(r'<input[^>]*name="username"[^>]*autofocus', signup)
    login = client.get(LOGIN).content.decode()
    assert 'autocomplete="current-password"' in login
    assert re.search(r'<input[^>]*name="username"[^>]*autofocus', login)
    assert reverse("accounts:password_reset") in login and SIGNUP in login
    reset = client.get(RESET).content.decode()
    assert re.search(r'<input[^>]*name="email"[^>]*autocomplete="email"[^>]*autofocus', reset)


def test_signup_signs_in_and_asks_to_verify(client, mailoutbox):
    response = sign_up(client)

    assert response.status_code == 302
    assert whoami(client).json()["username"] == "grace"
    assert whoami(client).json()["email_verified"] is False
    assert mailoutbox[0].to == ["grace@example.com"]
    profile = client.get(reverse("accounts:profile")).content.decode()
    assert "not verified yet" in profile


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("username", "Taken", "This username is already taken."),
        ("email", "taken@example.com", "already in use by another account"),
        ("email", "nope", "Enter a valid email address."),
        ("password", "short", "This password is too short."),
        ("password", "password123456", "This password is too common."),
    ],
)
def test_signup_shows_bad_input_on_its_field_and_writes_nothing(client, field, value, message):
    factories.UserFactory(username="taken", email="taken@example.com")

    response = sign_up(client, **{field: value})

    assert response.status_code == 200
    assert message in str(response.context["form"].errors[field])
    assert not User.objects.filter(username="grace").exists()
    assert whoami(client).status_code == 401


def test_a_refused_signup_keeps_what_was_typed_and_shows_every_error_at_once(client):
    factories.UserFactory(username="taken", email="taken@example.com")

    # A rule (taken username) beside a malformed field (the address) and a weak password.
    response = sign_up(client, username="Taken", email="not an address", password="short")

    assert response.status_code == 200
    page = response.content.decode()
    for message in ["This username is already taken.", "Enter a valid email address.", "This password is too short."]:
        assert message in page
    assert set(response.context["form"].errors) == {"username", "email", "password"}
    assert 'value="Taken"' in page and 'value="not an address"' in page
    assert "short" not in page.split('name="password"')[1].split(">")[0]  # a password is never sent back
    assert page.count('aria-invalid="true"') == 3
    assert User.objects.count() == 1

    # Two rules at once, each on its field (the service checks every one before it refuses).
    both = sign_up(client, username="Taken", email="TAKEN@example.com")
    assert "This username is already taken." in both.context["form"].errors["username"]
    assert "already in use by another account" in str(both.context["form"].errors["email"])


def test_signup_honours_a_safe_next_and_ignores_an_unsafe_one(client):
    ok = client.post(
        SIGNUP + "?next=/invitations/accept/abc/",
        {"username": "grace", "email": "grace@example.com", "password": STRONG_PASSWORD},
    )
    assert ok["Location"] == "/invitations/accept/abc/"

    other = Client()
    evil = other.post(
        SIGNUP,
        {
            "username": "hopper",
            "email": "hopper@example.com",
            "password": STRONG_PASSWORD,
            "next": "https://evil.example/",
        },
    )
    assert evil["Location"] == "/"


def test_the_verification_link_carries_next_back(client, mailoutbox):
    client.post(
        SIGNUP + "?next=/invitations/accept/abc/",
        {"username": "grace", "email": "grace@example.com", "password": STRONG_PASSWORD},
    )
    verify = client.get(path_of(link_in(mailoutbox[0])))

    assert verify.status_code == 302
    assert verify["Location"] == "/invitations/accept/abc/"
    assert User.objects.get(username="grace").emails.get().verified


# --- sign-in ------------------------------------------------------------------------


@pytest.mark.parametrize("identifier", ["ada", "ADA", "ada@example.com", "Ada@Example.COM", "work@example.com"])
def test_sign_in_with_username_or_any_verified_email_case_insensitively(client, member, identifier):
    factories.UserEmailFactory(user=member, email="work@example.com", verified=True)

    response = sign_in(client, identifier)

    assert response.status_code == 302
    assert whoami(client).json()["username"] == "ada"


def test_sign_in_refuses_unverified_email_and_wrong_password(client, member):
    factories.UserEmailFactory(user=member, email="pending@example.com", verified=False)

    for identifier, password in [("pending@example.com", factories.DEFAULT_PASSWORD), ("ada", "wrong password!")]:
        response = sign_in(client, identifier, password)
        assert response.status_code == 200
        assert "Enter a correct username or verified email address" in response.content.decode()
    assert whoami(client).status_code == 401


def test_an_unverified_user_can_sign_in_and_is_told_to_verify(client):
    factories.UserFactory(username="fresh", email="fresh@example.com", email__verified=False)

    response = sign_in(client, "fresh", follow=True)

    assert response.status_code == 200
    assert "not verified yet" in response.content.decode()


def test_sign_in_follows_a_safe_next_only(client, member):
    ok = client.post(LOGIN + "?next=/accounts/emails/", {"username": "ada", "password": factories.DEFAULT_PASSWORD})
    assert ok["Location"] == "/accounts/emails/"
    client.logout()
    evil = client.post(LOGIN, {"username": "ada", "password": factories.DEFAULT_PASSWORD, "next": "//evil.example/x"})
    assert evil["Location"] == "/"


def test_signing_in_and_out_each_say_so(client, member):
    signed = sign_in(client, "ada", follow=True)
    assert "Welcome back, Ada." in signed.content.decode()

    out = client.post(reverse("accounts:logout"), follow=True)
    assert "You are signed out." in out.content.decode()


def test_sign_out_is_a_post_and_ends_the_session(signed_in):
    assert signed_in.get(reverse("accounts:logout")).status_code == 405
    assert signed_in.post(reverse("accounts:logout")).status_code == 302
    assert whoami(signed_in).status_code == 401


def test_the_nav_offers_sign_in_and_up_or_the_account_and_sign_out(client, member):
    anonymous = client.get("/").content.decode()
    assert reverse("accounts:login") in anonymous and reverse("accounts:signup") in anonymous
    client.force_login(member)
    signed = client.get("/", follow=True).content.decode()
    assert reverse("accounts:profile") in signed and reverse("accounts:logout") in signed


# --- brute force --------------------------------------------------------------------


def test_five_failures_lock_the_account_from_that_address_with_a_clear_message(client, member, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "ada", "wrong password!").status_code == 200

    locked = sign_in(client, "ADA@example.com", "wrong password!")  # same account, another spelling
    assert locked.status_code == 429
    assert "Too many failed sign-in attempts" in locked.content.decode()

    # Even the right password is refused now, from this address ...
    assert sign_in(client, "ada").status_code == 429
    assert whoami(client).status_code == 401
    # ... but not from another one, and not for another account.
    assert sign_in(Client(), "ada", REMOTE_ADDR="10.9.8.7").status_code == 302
    factories.UserFactory(username="bob")
    assert sign_in(Client(), "bob").status_code == 302


def test_the_lockout_ends_after_the_cool_off(client, member, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "ada", "wrong password!")
    assert sign_in(client, "ada").status_code == 429

    # Time passes: move the recorded attempts back beyond the cool-off.
    from django.utils import timezone

    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME * 2)

    assert sign_in(client, "ada").status_code == 302


def test_the_admin_login_leads_to_the_guarded_sign_in(client):
    # The admin's own password form would skip the second step: it signs nobody in, and leads to
    # Keel's sign-in (locked out by axes as above, then the code).
    factories.UserFactory(username="boss", role="owner")
    response = client.post(reverse("admin:login"), {"username": "boss", "password": factories.DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2F"
    assert "_auth_user_id" not in client.session


# --- password change --------------------------------------------------------------------


def test_password_change_keeps_this_session_and_ends_the_others(client, member, mailoutbox):
    other_device = Client()
    assert sign_in(other_device, "ada").status_code == 302
    assert sign_in(client, "ada").status_code == 302

    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": factories.DEFAULT_PASSWORD, "new_password": STRONG_PASSWORD},
    )

    assert response.status_code == 302
    assert whoami(client).status_code == 200
    assert whoami(other_device).status_code == 401
    assert mailoutbox[-1].subject == "Your Keel password was changed"


def test_password_change_shows_errors_on_the_fields(signed_in, member):
    wrong = signed_in.post(
        reverse("accounts:password_change"), {"old_password": "not it", "new_password": STRONG_PASSWORD}
    )
    assert "Your current password is incorrect." in wrong.context["form"].errors["old_password"]
    weak = signed_in.post(
        reverse("accounts:password_change"), {"old_password": factories.DEFAULT_PASSWORD, "new_password": "ada12345"}
    )
    assert "This password is too short" in str(weak.context["form"].errors["new_password"])
    member.refresh_from_db()
    assert member.check_password(factories.DEFAULT_PASSWORD)


def test_a_wrong_current_password_and_a_weak_new_one_are_both_reported(signed_in, member):
    response = signed_in.post(reverse("accounts:password_change"), {"old_password": "not it", "new_password": "ada"})

    errors = response.context["form"].errors
    assert "Your current password is incorrect." in errors["old_password"]
    assert "This password is too short" in str(errors["new_password"])


# --- password reset ---------------------------------------------------------------------


def request_reset(client, email, **extra):
    return client.post(RESET, {"email": email}, **extra)


def test_reset_by_email_works_once(client, member, mailoutbox):
    response = request_reset(client, "ADA@example.com")
    assert response["Location"] == reverse("accounts:password_reset_sent")
    link = path_of(link_in(mailoutbox[0]))
    assert mailoutbox[0].to == ["ada@example.com"]
    assert "<a href=" in mailoutbox[0].alternatives[0][0]

    assert client.get(link).status_code == 200
    done = client.post(link, {"new_password": STRONG_PASSWORD})
    assert done["Location"] == LOGIN
    assert sign_in(client, "ada", STRONG_PASSWORD).status_code == 302

    again = client.get(link)
    assert again.status_code == 400
    assert "already been used" in again.content.decode()
    assert client.post(link, {"new_password": "another-strong-password-9"}).status_code == 400


def test_reset_answers_the_same_for_unknown_and_unverified_addresses(client, member, mailoutbox):
    factories.UserEmailFactory(user=member, email="pending@example.com", verified=False)

    for address in ["nobody@example.com", "pending@example.com"]:
        assert request_reset(client, address)["Location"] == reverse("accounts:password_reset_sent")
    assert mailoutbox == []


def test_reset_link_expires(client, member, mailoutbox, settings):
    request_reset(client, "ada@example.com")
    link = path_of(link_in(mailoutbox[0]))
    settings.PASSWORD_RESET_TIMEOUT = -1  # every token is now past its lifetime

    response = client.get(link)

    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert f'href="{RESET}">Send a new link' in response.content.decode()


def test_reset_with_a_tampered_token_or_a_weak_password_writes_nothing(client, member, mailoutbox):
    request_reset(client, "ada@example.com")
    link = path_of(link_in(mailoutbox[0]))

    assert client.get(link.rstrip("/")[:-3] + "abc/").status_code == 400
    weak = client.post(link, {"new_password": "123"})
    assert weak.status_code == 200
    assert "too short" in str(weak.context["form"].errors["new_password"])
    member.refresh_from_db()
    assert member.check_password(factories.DEFAULT_PASSWORD)


def test_reset_is_rate_limited_per_account_and_per_client_address(client, member, mailoutbox, settings):
    per_account = settings.PASSWORD_RESET_LIMIT_PER_ACCOUNT
    for n in range(per_account):
        assert request_reset(client, "ada@example.com", REMOTE_ADDR=f"10.0.0.{n}").status_code == 302

    refused = request_reset(client, "ADA@example.com", REMOTE_ADDR="10.0.1.1")
    assert refused.status_code == 429
    assert "Too many requests" in str(refused.context["form"].errors)
    assert len(mailoutbox) == per_account

    # Per client address: a prober cycling through addresses is stopped too.
    for n in range(settings.PASSWORD_RESET_LIMIT_PER_IP):
        assert request_reset(client, f"probe{n}@example.com", REMOTE_ADDR="10.0.2.2").status_code == 302
    assert request_reset(client, "probe-last@example.com", REMOTE_ADDR="10.0.2.2").status_code == 429


def test_a_completed_reset_lifts_the_sign_in_lockout(client, member, mailoutbox, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "ada", "wrong password!")
    request_reset(client, "ada@example.com")
    client.post(path_of(link_in(mailoutbox[0])), {"new_password": STRONG_PASSWORD})

    assert sign_in(client, "ada", STRONG_PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("debug", "backend", "told"),
    [
        (True, "django.core.mail.backends.console.EmailBackend", True),
        (False, "django.core.mail.backends.console.EmailBackend", False),
        (True, "django.core.mail.backends.locmem.EmailBackend", False),
    ],
)
def test_in_development_the_sign_up_message_says_where_the_email_went(client, settings, debug, backend, told):
    settings.DEBUG = debug
    settings.EMAIL_BACKEND = backend
    sign_up(client)

    page = client.get(reverse("accounts:profile")).content.decode()

    assert ("printed in the terminal that runs the site" in page) is told
