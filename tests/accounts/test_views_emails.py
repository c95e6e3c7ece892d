"""The account pages: emails, verification links, profile (with avatar upload), preferences."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import UserEmail
from tests import factories
from tests.accounts.conftest import link_in, path_of

pytestmark = pytest.mark.django_db

EMAILS = reverse("accounts:emails")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.mark.parametrize(
    "url",
    ["accounts:profile", "accounts:emails", "accounts:preferences", "accounts:password_change", "accounts:delete"],
)
def test_account_pages_need_sign_in(client, url):
    response = client.get(reverse(url))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login") + "?next=")


def test_add_an_address_then_verify_it_through_the_mailed_link(signed_in, member, mailoutbox):
    response = signed_in.post(EMAILS, {"email": "Work@Example.com"})
    assert response.status_code == 302
    assert mailoutbox[-1].to == ["work@example.com"]
    assert "<a href=" in mailoutbox[-1].alternatives[0][0]

    page = signed_in.get(EMAILS).content.decode()
    assert "work@example.com" in page and "Not verified" in page

    verified = signed_in.get(path_of(link_in(mailoutbox[-1])), follow=True)
    assert "work@example.com is verified." in messages_of(verified)
    assert member.emails.get(email="work@example.com").verified


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("ada@example.com", "You have already added this address."),
        ("theirs@example.com", "already in use by another account"),
        ("not an email", "Enter a valid email address."),
    ],
)
def test_adding_a_bad_address_shows_the_reason_on_the_field(signed_in, member, address, message):
    factories.UserFactory(email="theirs@example.com")

    response = signed_in.post(EMAILS, {"email": address})

    assert response.status_code == 200
    assert message in str(response.context["form"].errors["email"])
    assert member.emails.count() == 1


def test_verification_links_that_are_tampered_or_expired_are_refused(signed_in, member, mailoutbox, settings):
    signed_in.post(EMAILS, {"email": "work@example.com"})
    link = path_of(link_in(mailoutbox[-1]))

    tampered = signed_in.get(link.replace("/verify/", "/verify/x"))
    assert tampered.status_code == 400
    assert "invalid or has expired" in tampered.content.decode()

    settings.EMAIL_VERIFICATION_MAX_AGE = -1
    expired = signed_in.get(link)
    assert expired.status_code == 400
    assert not member.emails.get(email="work@example.com").verified


def test_verifying_does_not_need_a_session_and_ignores_an_unsafe_next(client, member, mailoutbox, committed):
    pending = factories.UserEmailFactory(user=member, email="later@example.com", verified=False)
    from accounts.services import email_verification_send

    with committed():
        email_verification_send(user_email=pending)
    link = path_of(link_in(mailoutbox[-1]))

    response = client.get(link + "?next=https://evil.example/")

    assert response["Location"] == reverse("accounts:login")
    pending.refresh_from_db()
    assert pending.verified


def test_resend_make_primary_and_remove_from_the_page(signed_in, member, mailoutbox):
    pending = factories.UserEmailFactory(user=member, email="pending@example.com", verified=False)
    work = factories.UserEmailFactory(user=member, email="work@example.com", verified=True)

    resent = signed_in.post(reverse("accounts:email_resend", args=[pending.pk]), follow=True)
    assert "We sent a new verification link to pending@example.com." in messages_of(resent)
    assert mailoutbox[-1].to == ["pending@example.com"]

    refused = signed_in.post(reverse("accounts:email_primary", args=[pending.pk]), follow=True)
    assert "Verify this address before making it your primary email." in messages_of(refused)

    signed_in.post(reverse("accounts:email_primary", args=[work.pk]))
    assert member.email == "work@example.com"

    primary = signed_in.post(reverse("accounts:email_remove", args=[work.pk]), follow=True)
    assert "Make another verified address primary before removing this one." in messages_of(primary)

    signed_in.post(reverse("accounts:email_remove", args=[pending.pk]))
    assert sorted(member.emails.values_list("email", flat=True)) == ["ada@example.com", "work@example.com"]


def test_the_emails_page_asks_before_removing_and_names_each_state(signed_in, member):
    factories.UserEmailFactory(user=member, email="pending@example.com", verified=False)

    page = signed_in.get(EMAILS).content.decode()

    # One confirmation (keel.js opens it) per removable address: the primary has no Remove.
    assert page.count("data-confirm=") == 1
    assert 'data-confirm="Remove pending@example.com from your account?' in page
    assert 'aria-label="Remove pending@example.com"' in page
    assert ">Primary<" in page and ">Verified<" in page and ">Not verified<" in page
    assert '<a href="/accounts/emails/" aria-current="page">Emails</a>' in page


def test_the_last_address_cannot_be_removed(signed_in, member):
    only = member.emails.get()
    response = signed_in.post(reverse("accounts:email_remove", args=[only.pk]), follow=True)
    assert "You cannot remove your only email address." in messages_of(response)
    assert member.emails.count() == 1


def test_another_users_address_is_a_404_and_untouched(signed_in):
    theirs = factories.UserEmailFactory(email="theirs@example.com", verified=True)
    for name in ["accounts:email_resend", "accounts:email_primary", "accounts:email_remove"]:
        assert signed_in.post(reverse(name, args=[theirs.pk])).status_code == 404
    assert signed_in.post(reverse("accounts:email_remove", args=["not-a-uuid"])).status_code == 404
    assert UserEmail.objects.filter(pk=theirs.pk).exists()


def test_action_buttons_are_post_only(signed_in, member):
    assert signed_in.get(reverse("accounts:email_remove", args=[member.emails.get().pk])).status_code == 405


def test_verification_resends_are_rate_limited(signed_in, member):
    pending = factories.UserEmailFactory(user=member, email="pending@example.com", verified=False)
    url = reverse("accounts:email_resend", args=[pending.pk])
    for _ in range(5):
        signed_in.post(url)
    response = signed_in.post(url, follow=True)
    assert any("Too many requests" in m for m in messages_of(response))


def test_emails_page_query_count_does_not_grow_with_addresses(signed_in, member, django_assert_max_num_queries):
    for n in range(9):
        factories.UserEmailFactory(user=member, email=f"a{n}@example.com", verified=n % 2 == 0)
    with django_assert_max_num_queries(5):  # session, user, emails, the nav's organizations (+1 spare)
        response = signed_in.get(EMAILS)
    page = response.content.decode()
    assert page.count('<article class="card">') == 10  # one card per address
    assert "the most it can" in page and 'action="/accounts/emails/"' not in page  # at the cap: no add form


# --- profile -------------------------------------------------------------------------------


def test_profile_updates_names_username_and_avatar_url(signed_in, member):
    response = signed_in.post(
        reverse("accounts:profile"),
        {
            "username": "countess",
            "first_name": "Augusta",
            "last_name": "King",
            "avatar_url": "https://img.example/a.png",
        },
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.username, member.first_name, member.last_name, member.avatar_url) == (
        "countess",
        "Augusta",
        "King",
        "https://img.example/a.png",
    )


def test_profile_refuses_a_taken_username_on_the_field(signed_in, member):
    factories.UserFactory(username="babbage")
    response = signed_in.post(reverse("accounts:profile"), {"username": "Babbage", "first_name": "Changed"})
    assert "This username is already taken." in response.context["form"].errors["username"]
    member.refresh_from_db()
    assert (member.username, member.first_name) == ("ada", "Ada")


def test_a_refused_profile_keeps_what_was_typed_and_shows_every_error_at_once(signed_in, member):
    factories.UserFactory(username="babbage")

    response = signed_in.post(
        reverse("accounts:profile"),
        {
            "username": "Babbage",
            "first_name": "Augusta",
            "last_name": "x" * 300,
            "avatar_url": "ftp://files.example/a.png",
        },
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert set(response.context["form"].errors) == {"username", "last_name", "avatar_url"}
    for message in ["This username is already taken.", "at most 255 characters", "Enter a full http(s) URL"]:
        assert message in page
    for typed in ['value="Babbage"', 'value="Augusta"', 'value="ftp://files.example/a.png"']:
        assert typed in page
    member.refresh_from_db()
    assert (member.username, member.first_name, member.avatar_url) == ("ada", "Ada", "")
    assert 'title="Your account: ada"' in page  # the nav still names the account as it is


def test_avatar_upload_is_stored_through_the_storage_api(signed_in, member, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("me.png", PNG, content_type="image/png")

    response = signed_in.post(reverse("accounts:profile"), {"username": "ada", "avatar": upload})

    assert response.status_code == 302
    member.refresh_from_db()
    assert member.avatar_url.startswith(f"/media/avatars/{member.pk.hex}/") and member.avatar_url.endswith(".png")
    stored = tmp_path / member.avatar_url.removeprefix("/media/")
    assert stored.read_bytes() == PNG


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "PNG, JPEG, GIF or WebP"),
        (PNG + b"\x00" * 2048, "larger than 1 KB"),
    ],
)
def test_bad_avatar_uploads_are_refused_and_nothing_changes(signed_in, member, settings, tmp_path, content, message):
    settings.MEDIA_ROOT = tmp_path
    settings.AVATAR_MAX_BYTES = 1024
    upload = SimpleUploadedFile("me.svg", content, content_type="image/png")

    response = signed_in.post(
        reverse("accounts:profile"), {"username": "ada", "first_name": "Changed", "avatar": upload}
    )

    assert message in str(response.context["form"].errors["avatar"])
    member.refresh_from_db()
    assert (member.first_name, member.avatar_url) == ("Ada", "")
    assert not any(tmp_path.rglob("*.*"))


# --- preferences page ---------------------------------------------------------------------


def test_preferences_page_shows_and_saves_every_type(signed_in, member):
    page = signed_in.get(reverse("accounts:preferences")).content.decode()
    assert page.count('type="checkbox"') == 3 and page.count("checked") == 3

    signed_in.post(reverse("accounts:preferences"), {"product_updates": "on"})

    from accounts.selectors import email_preferences_get

    assert email_preferences_get(user=member) == {
        "marketing": False,
        "product_updates": True,
        "payment_receipts": False,
    }
    assert signed_in.get(reverse("accounts:preferences")).content.decode().count("checked") == 1
