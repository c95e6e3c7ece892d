import re

import pytest

from tests import factories
from tests.accounts.oidc_provider import CLIENT_ID, CLIENT_SECRET, OIDCProvider

STRONG_PASSWORD = "violet-anchor-meadow-42"


@pytest.fixture
def client(client, django_capture_on_commit_callbacks):
    """The test client, with each request's on-commit work run as a real commit would.

    Tests run inside a transaction that never commits; emails go out in
    `transaction.on_commit`, so without this no mail would ever be sent.
    """
    send = client.request

    def request(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return send(**kwargs)

    client.request = request
    return client


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """For service-level tests: `with committed(): service(...)` runs its on-commit work."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def member(db):
    return factories.UserFactory(username="ada", email="ada@example.com", first_name="Ada", last_name="Lovelace")


@pytest.fixture
def signed_in(client, member):
    client.force_login(member)
    return client


def link_in(message, pattern: str = r"http://[^\s\"<>]+") -> str:
    """The first link in a mail's text body matching `pattern`."""
    found = re.search(pattern, message.body)
    assert found, f"no link in: {message.body}"
    return found.group(0)


def path_of(url: str) -> str:
    """`http://127.0.0.1:8000/accounts/...?x=1` -> `/accounts/...?x=1` for the test client."""
    return re.sub(r"^https?://[^/]+", "", url)


@pytest.fixture(scope="session")
def oidc_provider():
    provider = OIDCProvider().start()
    yield provider
    provider.stop()


@pytest.fixture
def google(oidc_provider, settings):
    """Google sign-in turned on, pointing at the local provider."""
    oidc_provider.reset()
    settings.GOOGLE_CLIENT_ID = CLIENT_ID
    settings.GOOGLE_CLIENT_SECRET = CLIENT_SECRET
    settings.GOOGLE_OIDC_METADATA_URL = oidc_provider.metadata_url
    return oidc_provider
