"""Throttling, beyond tests/accounts/test_views_signup.py (five failures lock an account from one
address whatever its spelling, the right password then refused, the cool-off, the admin's
sign-in, reset limits per account and per address, a reset lifting the lockout):

- an account that does not exist locks the same way, so the lockout tells nothing about which
  accounts exist;
- behind the site's own proxy, hops a client adds in front of X-Forwarded-For do not make a
  new address: only the hop the proxy appended counts.
"""

import pytest
from django.test import Client

from tests import factories

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def sign_in(client, username, password="wrong password!", **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def test_an_unknown_account_locks_like_a_real_one(settings):
    factories.UserFactory(username="ada")
    answers = {}
    for name in ("ada", "nobody-here"):
        client = Client()
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            assert sign_in(client, name).status_code == 200
        locked = sign_in(client, name)
        answers[name] = (locked.status_code, "Too many failed sign-in attempts" in locked.content.decode())

    assert answers["ada"] == answers["nobody-here"] == (429, True)


def test_hops_a_client_adds_do_not_make_a_new_address(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    factories.UserFactory(username="ada")
    proxy_saw = "203.0.113.7"  # the address our proxy appended: the real client
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(Client(), "ada", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}, {proxy_saw}")

    forged = sign_in(Client(), "ada", factories.DEFAULT_PASSWORD, HTTP_X_FORWARDED_FOR=f"198.51.100.1, {proxy_saw}")
    elsewhere = sign_in(Client(), "ada", factories.DEFAULT_PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.50")

    assert forged.status_code == 429
    assert elsewhere.status_code == 302
