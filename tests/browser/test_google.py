"""Google sign-in in a real browser, against the local OpenID provider (tests/accounts/oidc_provider.py):
Keel's button, the provider's account page, the callback, signed in."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_with_google_from_the_login_page(new_page, google, site):
    google.consent_page = True
    google.claims = {"email": "ada@gmail.com", "email_verified": True, "given_name": "Ada", "family_name": "Lovelace"}
    page = new_page()

    page.goto("/accounts/login/")
    page.get_by_role("link", name="Sign in with Google").click()

    # The provider's page, on the provider's origin, with Keel's request in it.
    expect(page.get_by_role("heading", name="Choose an account")).to_be_visible()
    assert page.url.startswith(f"{google.issuer}/authorize?")
    page.get_by_role("button", name="Continue as ada@gmail.com").click()
    page.wait_for_url(re.compile(re.escape(f"{site}/o/") + r"[\w-]+/$"))  # "/" leads to the dashboard

    user = User.objects.get(emails__email="ada@gmail.com")
    expect(page.get_by_role("link", name=user.username, exact=True)).to_be_visible()  # the header's account link
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    email = user.emails.get()
    assert (email.verified, email.via) == (True, "google")
    assert google.token_requests and google.token_requests[0]["grant_type"] == "authorization_code"
