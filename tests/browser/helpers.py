"""Small steps the browser tests share: signing in, reading the outbox."""

import re

from django.conf import settings
from django.core import mail
from django.test import Client
from playwright.sync_api import Page, expect

from tests.factories import DEFAULT_PASSWORD


def sign_in(page: Page, user) -> None:
    """Sign `user` in without the form: a session made by Django's test client, its cookie
    given to the page's context (every page of the context is then signed in)."""
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": settings.SITE_URL,
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )


def sign_in_with_form(page: Page, login: str, password: str = DEFAULT_PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username or email").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in", exact=True)).to_be_visible()


def last_email_to(address: str):
    """The latest message in Django's outbox (locmem: the live server runs in this process,
    so what its thread sends lands in the same `mail.outbox`) sent to `address`."""
    sent = [message for message in mail.outbox if address in message.to]
    assert sent, f"no email to {address}; outbox: {[(m.to, m.subject) for m in mail.outbox]}"
    return sent[-1]


def link_in(message, path_prefix: str) -> str:
    """The first link of the message's text body whose path starts with `path_prefix`."""
    found = re.search(rf"{re.escape(settings.SITE_URL)}{re.escape(path_prefix)}[^\s\"<>]*", message.body)
    assert found, f"no {settings.SITE_URL}{path_prefix}... link in: {message.body}"
    return found.group(0)
