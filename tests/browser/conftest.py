"""Chromium through Playwright's sync API against pytest-django's live server.

One browser for the whole browser suite (package scope: it is closed when the suite ends,
before the rest of the tests run); `new_page(viewport, scheme)` opens a page in one context
per (viewport, scheme) per test. The Stripe sandbox, the shop and the Google stand-in are the
fixtures of tests/billing and tests/accounts, reused.

Chromium is not optional: without it every browser test fails (`apt-get install chromium`).
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from stripe_sandbox import testing
from tests.accounts import conftest as accounts_fixtures
from tests.billing import conftest as billing_fixtures
from tests.browser.checks import AXE, DOCS_SCREENSHOTS, Variant, record, screenshots_for_docs

stripe_sandbox_server = testing.stripe_sandbox_server
stripe_sandbox = testing.stripe_sandbox
catalogue = billing_fixtures.catalogue
shop = billing_fixtures.shop
oidc_provider = accounts_fixtures.oidc_provider
google = accounts_fixtures.google

CHROMIUM = os.environ.get("KEEL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True},
}
SCHEMES = ("light", "dark")
TIMEOUT_MS = 15_000


MISSING_CHROMIUM = (
    f"Chromium is missing ({CHROMIUM}): the browser tests need it. Install it with "
    "`apt-get install chromium` (Debian's package), or set KEEL_CHROMIUM to its path."
)


@pytest.fixture(scope="package")
def chromium() -> Iterator[Browser | None]:
    """The browser, or None without Chromium: then each test fails (not errors, not skips)
    when it opens its first page."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        yield None
        return
    # Playwright's sync API keeps an asyncio loop marked as running in this thread, so Django
    # sees an "async context" and refuses ORM calls (SynchronousOnlyOperation) from the test
    # and its fixtures. Nothing here runs in that loop concurrently with them: allow it, for
    # the browser suite only; the loop and the variable are gone when the suite ends.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="package")
def screenshot_dir(tmp_path_factory) -> Path:
    """docs/screenshots/ for `make screenshots` (KEEL_SCREENSHOTS=1), else a temporary folder."""
    if screenshots_for_docs():
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return DOCS_SCREENSHOTS
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def site(live_server, settings) -> str:
    """The live server's base URL, which is also SITE_URL: links in emails, Stripe's way back
    and Google's redirect URI all lead to it."""
    settings.SITE_URL = live_server.url
    return live_server.url


@pytest.fixture
def new_page(chromium, site, screenshot_dir):
    """`new_page("desktop" | "phone", "light" | "dark")`: a page on the live site, in the
    context of that variant (contexts share nothing: cookies, storage)."""
    contexts: dict[Variant, BrowserContext] = {}

    def open_page(viewport: str = "desktop", scheme: str = "light") -> Page:
        if chromium is None:
            pytest.fail(MISSING_CHROMIUM, pytrace=False)
        variant = Variant(viewport, scheme)
        if variant not in contexts:
            assert viewport in VIEWPORTS and scheme in SCHEMES, variant
            context = chromium.new_context(base_url=site, color_scheme=scheme, **VIEWPORTS[viewport])
            context.set_default_timeout(TIMEOUT_MS)
            # axe-core in every document before its own scripts: cheaper than a script tag per check.
            context.add_init_script(path=AXE)
            contexts[variant] = context
        return record(contexts[variant].new_page(), variant, screenshot_dir)

    yield open_page
    for context in contexts.values():
        context.close()
