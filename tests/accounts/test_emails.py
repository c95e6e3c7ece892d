"""The one sending function: preferences, unsubscribe links and headers, templates."""

from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.emails import email_send
from accounts.models import EmailType, UserEmailPreference
from accounts.selectors import email_preferences_get
from tests import factories
from tests.accounts.conftest import link_in, path_of

pytestmark = pytest.mark.django_db

TEMPLATES = Path(django_settings.BASE_DIR) / "templates" / "emails"


def announce(committed, **kwargs):
    with committed():
        return email_send(
            to=kwargs.pop("to", "ada@example.com"),
            template="announcement",
            context={"subject": "News", "message": "Something new & shiny."},
            **kwargs,
        )


def unsubscribe_link(message) -> str:
    return path_of(link_in(message, r"http://\S+/accounts/unsubscribe/[^/\s]+/"))


def test_security_mail_always_goes_out_even_to_someone_unsubscribed_from_everything(member, committed, mailoutbox):
    for email_type in EmailType.values:
        factories.UserEmailPreferenceFactory(user=member, email_type=email_type, subscribed=False)

    assert announce(committed, user=member) is True  # email_type=None: essential

    assert len(mailoutbox) == 1
    assert "List-Unsubscribe" not in mailoutbox[0].extra_headers
    assert "unsubscribe" not in mailoutbox[0].body.lower()


def test_non_essential_mail_carries_a_one_click_unsubscribe_link_and_headers(member, committed, mailoutbox):
    assert announce(committed, user=member, email_type="product_updates") is True

    message = mailoutbox[0]
    link = link_in(message, r"http://\S+/accounts/unsubscribe/[^/\s]+/")
    assert message.extra_headers["List-Unsubscribe"] == f"<{link}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = message.alternatives[0][0]
    assert link in html and html.rstrip().endswith("</html>")
    assert "Something new & shiny." in message.body  # text mail is not HTML-escaped
    assert "Something new &amp; shiny." in html


def test_preferences_are_honoured_per_type(member, committed, mailoutbox):
    factories.UserEmailPreferenceFactory(user=member, email_type="marketing", subscribed=False)

    assert announce(committed, user=member, email_type="marketing") is False
    assert announce(committed, user=member, email_type="payment_receipts") is True
    assert len(mailoutbox) == 1


def test_the_recipient_is_found_by_address_when_no_user_is_given(member, committed, mailoutbox):
    factories.UserEmailPreferenceFactory(user=member, email_type="marketing", subscribed=False)
    assert announce(committed, to="ADA@example.com", email_type="marketing") is False

    with pytest.raises(ValueError, match="recipient account"):
        announce(committed, to="stranger@example.com", email_type="marketing")
    with pytest.raises(ValueError, match="unknown email type"):
        announce(committed, user=member, email_type="spam")
    assert mailoutbox == []


def test_nothing_is_sent_if_the_transaction_rolls_back(member, mailoutbox):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        email_send(to="ada@example.com", template="announcement", context={"subject": "s", "message": "m"})
        raise RuntimeError
    assert mailoutbox == []


def test_one_click_post_unsubscribes_without_a_session_or_csrf_token(member, committed, mailoutbox):
    announce(committed, user=member, email_type="marketing")
    mail_client = Client(enforce_csrf_checks=True)

    response = mail_client.post(unsubscribe_link(mailoutbox[0]), {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert email_preferences_get(user=member) == {
        "marketing": False,
        "product_updates": True,
        "payment_receipts": True,
    }
    assert announce(committed, user=member, email_type="marketing") is False


def test_get_only_asks_for_confirmation(client, member, committed, mailoutbox):
    announce(committed, user=member, email_type="product_updates")
    link = unsubscribe_link(mailoutbox[0])

    page = client.get(link)

    assert page.status_code == 200
    assert "Stop receiving <strong>product updates</strong> emails" in page.content.decode()
    assert not UserEmailPreference.objects.exists()  # a link scanner's GET changes nothing
    assert "You are unsubscribed" in client.post(link).content.decode()


@pytest.mark.parametrize("mangle", [lambda t: t[:-4] + "AAAA", lambda t: "x" + t, lambda t: "not-a-token"])
def test_a_forged_unsubscribe_link_is_refused_and_writes_nothing(client, member, committed, mailoutbox, mangle):
    announce(committed, user=member, email_type="marketing")
    token = unsubscribe_link(mailoutbox[0]).rstrip("/").rsplit("/", 1)[1]
    forged = f"/accounts/unsubscribe/{mangle(token)}/"

    assert client.get(forged).status_code == 400
    response = client.post(forged)

    assert response.status_code == 400
    assert "This unsubscribe link is not valid." in response.content.decode()
    assert not UserEmailPreference.objects.exists()


def test_an_unsubscribe_token_is_bound_to_its_user_and_type(member):
    from accounts.tokens import InvalidToken, unsubscribe_token_make, unsubscribe_token_read

    token = unsubscribe_token_make(user=member, email_type="marketing")
    claim = unsubscribe_token_read(token)
    assert (claim.user_id, claim.email_type) == (str(member.pk), "marketing")
    # A verification token (another salt) is not an unsubscribe token.
    from accounts.tokens import verification_token_make

    with pytest.raises(InvalidToken):
        unsubscribe_token_read(verification_token_make(user_email=member.emails.get()))


def test_a_deleted_user_gets_no_non_essential_mail(member, committed, mailoutbox):
    member.deleted_at = 1
    member.save()
    assert announce(committed, user=member, email_type="product_updates") is False


def test_every_email_template_exists_in_text_and_html():
    names = {p.name.removesuffix("_subject.txt") for p in TEMPLATES.glob("*_subject.txt")}
    assert {"verify_email", "password_reset", "password_changed", "account_deleted", "announcement"} <= names
    for name in names:
        assert (TEMPLATES / f"{name}.txt").exists(), name
        assert (TEMPLATES / f"{name}.html").exists(), name


def test_announce_command_mails_active_verified_users_who_did_not_opt_out(committed, mailoutbox, tmp_path):
    keen = factories.UserFactory(email="keen@example.com")
    opted_out = factories.UserFactory(email="no@example.com")
    factories.UserEmailPreferenceFactory(user=opted_out, email_type="product_updates", subscribed=False)
    factories.UserFactory(email="off@example.com", status="disabled")
    factories.UserFactory(email="unverified@example.com", email__verified=False)
    message = tmp_path / "news.txt"
    message.write_text("We shipped dark mode.", encoding="utf-8")

    with committed():
        call_command(
            "email_announce", "--type", "product_updates", "--subject", "Dark mode", "--message-file", str(message)
        )

    assert [m.to for m in mailoutbox] == [["keen@example.com"]]
    assert mailoutbox[0].subject == "Dark mode"
    assert "We shipped dark mode." in mailoutbox[0].body
    assert "List-Unsubscribe" in mailoutbox[0].extra_headers
    assert mailoutbox[0].to == [keen.email]


def test_announce_command_refuses_empty_messages():
    with pytest.raises(CommandError):
        call_command("email_announce", "--type", "marketing", "--subject", "Hi", "--message", "   ")
