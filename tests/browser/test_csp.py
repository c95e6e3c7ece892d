"""Pages Keel does not draw itself keep the Content Security Policy too: Swagger UI at
/api/docs/ (drf-spectacular's split view: its start-up script is a file, its styles a
stylesheet) and Django's admin. Their layout and accessibility are their authors' (no
check_page here), but no CSP violation, console error or failed request is allowed."""

import pytest
from playwright.sync_api import expect

from tests.browser.checks import recorder_of, traffic_problems
from tests.browser.helpers import sign_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def assert_clean(page):
    page.wait_for_load_state("load")
    problems = traffic_problems(page, recorder_of(page), None)
    assert not problems, "\n".join(problems)


def test_the_api_docs_render_under_the_policy(new_page):
    page = new_page()
    response = page.goto("/api/docs/")

    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Keel API")
    expect(page.locator(".opblock").first).to_be_visible()  # the schema was fetched and drawn
    page.locator(".opblock-summary").first.click()  # an operation opens (React, no inline script)
    expect(page.locator(".opblock-body").first).to_be_visible()
    assert_clean(page)


def test_the_admin_renders_under_the_policy(new_page):
    page = new_page()
    sign_in(page, UserFactory(username="boss", role="owner"))
    for path in ("/admin/", "/admin/accounts/user/", "/admin/organizations/tenant/"):
        page.goto(path)
        expect(page.locator("#content")).to_be_visible()
        assert_clean(page)
