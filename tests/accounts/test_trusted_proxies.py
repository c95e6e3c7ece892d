"""The sign-in throttle keys on the address the deployment's proxies vouch for (TRUSTED_PROXIES),
never on an X-Forwarded-For hop the client wrote (docs/accounts.md, "Brute force")."""

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from core.context import client_ip

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")


def fail_sign_in(client, **headers):
    return client.post(LOGIN, {"username": "ada", "password": "wrong password!"}, **headers)


def test_with_no_trusted_proxy_a_forged_hop_is_not_a_new_address(member, settings):
    # The old rule trusted the last X-Forwarded-For hop whenever X-Forwarded-Proto was trusted
    # (BEHIND_PROXY): a client writing a new hop on each try was a new address each time.
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.TRUSTED_PROXIES = 0
    client = Client(REMOTE_ADDR="203.0.113.9")
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        fail_sign_in(client, HTTP_X_FORWARDED_FOR=f"198.51.100.{attempt}")

    locked = client.post(LOGIN, {"username": "ada", "password": "irrelevant"}, HTTP_X_FORWARDED_FOR="198.51.100.200")
    assert locked.status_code == 429


def test_behind_one_proxy_forged_hops_left_of_the_proxy_s_are_ignored(member, settings):
    settings.TRUSTED_PROXIES = 1
    proxy = Client(REMOTE_ADDR="10.0.0.2")  # every request comes from the proxy's address
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        # The client forged the first hop; the proxy appended the address it saw.
        fail_sign_in(proxy, HTTP_X_FORWARDED_FOR=f"198.51.100.{attempt}, 203.0.113.9")

    assert fail_sign_in(proxy, HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9").status_code == 429
    # Someone else behind the same proxy is not locked out with them.
    other = proxy.post(LOGIN, {"username": "ada", "password": "wrong password!"}, HTTP_X_FORWARDED_FOR="203.0.113.77")
    assert other.status_code == 200


@pytest.mark.parametrize(
    ("trusted", "forwarded", "expected"),
    [
        (0, "198.51.100.1", "10.0.0.1"),  # no proxy: the header is the client's own
        (1, "198.51.100.1", "198.51.100.1"),
        (1, "6.6.6.6, 198.51.100.1", "198.51.100.1"),
        (2, "6.6.6.6, 198.51.100.1, 10.0.0.5", "198.51.100.1"),  # the second from the right
        (2, "198.51.100.1", "10.0.0.1"),  # fewer hops than proxies: it did not come through them
        (1, "", "10.0.0.1"),
        (1, "not-an-address", "10.0.0.1"),
        (1, " 2001:db8::1 ", "2001:db8::1"),
    ],
)
def test_the_client_is_the_n_th_address_from_the_right(settings, trusted, forwarded, expected):
    settings.TRUSTED_PROXIES = trusted
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_a_request_with_no_address_has_none(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="")
    assert client_ip(request) is None


def test_axes_asks_the_same_function(settings):
    # Every user of the client address goes through core.context.client_ip.
    assert settings.AXES_CLIENT_IP_CALLABLE == "core.context.client_ip"
