"""The accounts services against the real database: rules, invariants, all-or-nothing."""

import pytest
from django.contrib.auth import authenticate

from accounts import selectors, services
from accounts.models import SignupVia, User, UserEmail, UserEmailPreference
from core.errors import ApplicationError
from tests import factories
from tests.accounts.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db

HOOK_CALLS: list = []


def recording_hook(*, user):
    HOOK_CALLS.append(user.username)


def failing_hook(*, user):
    raise ApplicationError("The default organization could not be created.", code="hook_failed")


@pytest.fixture(autouse=True)
def _clear_hook_calls():
    HOOK_CALLS.clear()


def signup(**overrides):
    fields = {"username": "grace", "email": "Grace@Example.com", "password": STRONG_PASSWORD}
    return services.user_signup(**{**fields, **overrides})


def refused(code: str, call, *args, **kwargs) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value.detail
    return caught.value


# --- sign-up ------------------------------------------------------------------------


def test_signup_creates_user_with_argon2_and_one_unverified_primary_email(committed, mailoutbox):
    with committed():
        user = signup()

    email = user.emails.get()
    assert (email.email, email.is_primary, email.verified, email.via) == (
        "grace@example.com",
        True,
        False,
        SignupVia.EMAIL_PASSWORD,
    )
    assert user.password.startswith("argon2")
    assert [m.to for m in mailoutbox] == [["grace@example.com"]]
    assert "Verify your email" in mailoutbox[0].subject


def test_signup_runs_every_hook_inside_the_transaction(settings):
    settings.KEEL_SIGNUP_HOOKS = ["tests.accounts.test_services.recording_hook"] * 2

    signup()

    assert HOOK_CALLS == ["grace", "grace"]


def test_a_failing_hook_rolls_the_whole_signup_back(settings, mailoutbox, committed):
    settings.KEEL_SIGNUP_HOOKS = ["tests.accounts.test_services.failing_hook"]

    with committed():
        refused("hook_failed", signup)

    assert not User.objects.exists()
    assert not UserEmail.objects.exists()
    assert mailoutbox == []


def test_signup_creates_the_default_organization_through_the_configured_hook():
    user = signup()
    tenants = user.created_tenants.all()
    assert [(t.is_default, t.members.get().user_id, t.members.get().role) for t in tenants] == [
        (True, user.pk, "owner")
    ]


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"username": "GRACE"}, "username_taken", "username"),
        ({"username": "a b"}, "invalid_username", "username"),
        ({"username": "ab"}, "invalid_username", "username"),
        ({"username": "has@sign"}, "invalid_username", "username"),
        ({"username": "deleted-abc"}, "invalid_username", "username"),
        ({"email": "not-an-email"}, "invalid_email", "email"),
        ({"email": "TAKEN@example.com"}, "email_taken", "email"),
        ({"password": "short-pw"}, "weak_password", "password"),
        ({"password": "password1234"}, "weak_password", "password"),
        ({"password": "123456789012345"}, "weak_password", "password"),
        ({"username": "violetanchor", "password": "violetanchor1"}, "weak_password", "password"),
    ],
)
def test_signup_refuses_bad_input_and_writes_nothing(overrides, code, field):
    factories.UserFactory(username="grace", email="taken@example.com")
    users_before = User.objects.count()

    error = refused(code, signup, **{"username": "newcomer", **overrides})

    assert error.field == field
    assert User.objects.count() == users_before


def test_signup_allows_an_address_another_account_holds_unverified():
    other = factories.UserFactory(email="shared@example.com", email__verified=False)

    user = signup(email="shared@example.com")

    assert UserEmail.objects.filter(email="shared@example.com").count() == 2
    assert user.pk != other.pk


def test_signup_refuses_every_broken_rule_at_once():
    factories.UserFactory(username="grace", email="taken@example.com")

    error = refused("username_taken", signup, email="taken@example.com", password="short-pw")

    assert [(e.field, e.code) for e in error.errors] == [
        ("username", "username_taken"),
        ("email", "email_taken"),
        ("password", "weak_password"),
    ]
    assert selectors.signup_invitation_get(token="") is None


def invited(*, token):
    """A stand-in for KEEL_INVITATION_LOOKUP_HOOK: one pending invitation, to grace@example.com."""
    if token != "the-token":
        return None
    return selectors.SignupInvitation(
        email="grace@example.com", organization="Acme", inviter="Olivia", terms="as a member", url="/invitations/x/"
    )


@pytest.mark.parametrize(
    ("token", "email", "verified"),
    [
        ("the-token", "Grace@Example.com", True),  # the invited address, however it is typed
        ("the-token", "grace.home@example.com", False),  # another address: the token proves nothing of it
        ("another-token", "grace@example.com", False),  # no such (pending) invitation
        ("", "grace@example.com", False),
    ],
)
def test_an_invitation_token_verifies_the_invited_address_only(settings, mailoutbox, committed, token, email, verified):
    settings.KEEL_INVITATION_LOOKUP_HOOK = "tests.accounts.test_services.invited"

    with committed():
        user = signup(email=email, invitation_token=token)

    assert user.emails.get().verified is verified
    assert [m.to for m in mailoutbox] == ([] if verified else [[email.lower()]])  # a link only if still to verify


def test_without_a_lookup_hook_a_token_verifies_nothing(settings):
    settings.KEEL_INVITATION_LOOKUP_HOOK = ""

    assert not signup(invitation_token="the-token").emails.get().verified
    assert services.signup_invitation_accept(token="the-token", user=User.objects.get()) is None


# --- addresses ------------------------------------------------------------------------


def test_add_email_sends_a_verification_and_verify_marks_it(member, committed, mailoutbox):
    with committed():
        added = services.email_add(user=member, email=" Second@Example.COM ")

    assert (added.email, added.verified, added.is_primary) == ("second@example.com", False, False)
    token = mailoutbox[-1].body.split("/accounts/verify/")[1].split("/")[0]
    assert services.email_verify(token=token).verified is True
    assert authenticate(None, username="SECOND@example.com", password=factories.DEFAULT_PASSWORD) == member


def test_add_email_refuses_duplicates_and_addresses_verified_elsewhere(member):
    factories.UserFactory(email="theirs@example.com")

    refused("email_taken", services.email_add, user=member, email="ADA@example.com")
    refused("email_taken", services.email_add, user=member, email="theirs@example.com")
    refused("invalid_email", services.email_add, user=member, email="nope")
    assert member.emails.count() == 1


def test_an_account_holds_at_most_ten_addresses(member):
    for n in range(9):
        services.email_add(user=member, email=f"extra{n}@example.com")

    refused("too_many_emails", services.email_add, user=member, email="one-too-many@example.com")
    assert member.emails.count() == 10


def test_verifying_an_address_another_account_verified_first_is_refused(member, committed, mailoutbox):
    with committed():
        services.email_add(user=member, email="contested@example.com")
    token = mailoutbox[-1].body.split("/accounts/verify/")[1].split("/")[0]
    factories.UserFactory(email="contested@example.com")  # verified by someone else meanwhile

    refused("email_taken", services.email_verify, token=token)
    assert not member.emails.get(email="contested@example.com").verified


def test_tampered_or_foreign_verification_tokens_are_refused(member):
    unverified = factories.UserEmailFactory(user=member, email="later@example.com", verified=False)
    from accounts.tokens import verification_token_make

    token = verification_token_make(user_email=unverified)
    head, stamp, signature = token.split(":")

    refused("invalid_token", services.email_verify, token=f"{head}:{stamp}:{signature[:-2]}xx")
    refused("invalid_token", services.email_verify, token="garbage")
    unverified.delete()
    refused("invalid_token", services.email_verify, token=token)  # address removed since


def test_make_primary_needs_a_verified_address_and_keeps_one_primary(member):
    verified = factories.UserEmailFactory(user=member, email="work@example.com", verified=True)
    unverified = factories.UserEmailFactory(user=member, email="new@example.com", verified=False)

    refused("email_unverified", services.email_make_primary, user=member, user_email=unverified)
    services.email_make_primary(user=member, user_email=verified)

    assert list(member.emails.filter(is_primary=True).values_list("email", flat=True)) == ["work@example.com"]
    assert member.email == "work@example.com"


def test_remove_never_the_last_never_the_primary(member):
    primary = member.emails.get()
    refused("last_email", services.email_remove, user=member, user_email=primary)

    other = factories.UserEmailFactory(user=member, email="other@example.com")
    refused("primary_email", services.email_remove, user=member, user_email=primary)

    services.email_remove(user=member, user_email=other)
    assert list(member.emails.values_list("email", flat=True)) == ["ada@example.com"]


def test_another_users_address_cannot_be_touched(member):
    theirs = factories.UserFactory().emails.get()
    from core.errors import NotFound

    with pytest.raises(NotFound):
        selectors.user_email_get(user=member, email_id=theirs.pk)
    with pytest.raises(NotFound):
        services.email_remove(user=member, user_email=theirs)
    with pytest.raises(NotFound):
        services.email_make_primary(user=member, user_email=theirs)


# --- preferences, profile, status ---------------------------------------------------


def test_preferences_default_to_subscribed_and_update_in_place(member):
    assert selectors.email_preferences_get(user=member) == {
        "marketing": True,
        "product_updates": True,
        "payment_receipts": True,
    }
    services.email_preferences_update(user=member, preferences={"marketing": False})
    services.email_preferences_update(user=member, preferences={"marketing": False, "payment_receipts": True})

    assert selectors.email_preferences_get(user=member)["marketing"] is False
    assert UserEmailPreference.objects.filter(user=member).count() == 2
    refused("invalid", services.email_preferences_update, user=member, preferences={"spam": True})


def test_profile_update_checks_username_and_avatar_url(member):
    factories.UserFactory(username="taken")

    refused("username_taken", services.user_update_profile, user=member, username="TAKEN")
    refused("invalid_avatar", services.user_update_profile, user=member, avatar_url="javascript:alert(1)")
    services.user_update_profile(
        user=member, username="ada2", first_name=" Ada ", avatar_url="https://img.example/a.png"
    )

    member.refresh_from_db()
    assert (member.username, member.first_name, member.avatar_url) == ("ada2", "Ada", "https://img.example/a.png")


def test_set_status_reports_whether_it_changed(member):
    assert services.user_set_status(user=member, status="disabled") is True
    assert services.user_set_status(user=member, status="disabled") is False
    member.refresh_from_db()
    assert not member.is_active
    refused("invalid", services.user_set_status, user=member, status="banned")


def test_password_change_checks_the_old_password_and_the_validators(member):
    refused(
        "wrong_password", services.user_password_change, user=member, old_password="nope", new_password=STRONG_PASSWORD
    )
    refused(
        "weak_password",
        services.user_password_change,
        user=member,
        old_password=factories.DEFAULT_PASSWORD,
        new_password="ada@example.com1",
    )
    services.user_password_change(user=member, old_password=factories.DEFAULT_PASSWORD, new_password=STRONG_PASSWORD)
    member.refresh_from_db()
    assert member.check_password(STRONG_PASSWORD)


def test_google_account_without_password_can_set_one():
    user = factories.UserFactory(password="!unusable")

    services.user_password_change(user=user, old_password=None, new_password=STRONG_PASSWORD)

    user.refresh_from_db()
    assert user.check_password(STRONG_PASSWORD)
