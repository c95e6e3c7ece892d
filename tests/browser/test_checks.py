"""`check_page` itself: each of its checks fails on a page made to fail it, and passes a clean one
(a check that cannot fail would let every page through)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.browser.checks import check_page, icon_problems

pytestmark = pytest.mark.browser

CLEAN = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Clean</title></head>
<body><main><h1>Clean</h1><p>Nothing wrong here.</p>{extra}</main></body></html>"""


@pytest.fixture
def screenshot_dir(tmp_path):
    """Never docs/screenshots/, even for `make screenshots`: these pages are not Keel's."""
    return tmp_path


@pytest.fixture
def site():
    """No live server (nor database) for these: the pages are served by the browser's router."""
    return "http://checks.test"


@pytest.fixture
def serve(new_page, site):
    """`serve(html, viewport)`: a page at {site}/ showing `html`; any other path is a 404."""

    def open_page(html: str, viewport: str = "desktop", headers: dict | None = None):
        page = new_page(viewport)

        def fulfil(route):
            if route.request.url == f"{site}/":
                route.fulfill(status=200, content_type="text/html", body=html, headers=headers or {})
            else:
                route.fulfill(status=404, content_type="text/plain", body="Not Found")

        page.context.route(f"{site}/**", fulfil)
        page.goto("/")
        return page

    return open_page


def failure(page, name: str = "probe") -> str:
    with pytest.raises(AssertionError) as raised:
        check_page(page, name)
    return str(raised.value)


def test_a_clean_page_passes_and_is_screenshot(serve):
    page = serve(CLEAN.format(extra=""), "phone")
    shot = check_page(page, "clean")
    assert shot.name == "clean-phone-light.png" and shot.stat().st_size > 0


def test_overflow_at_phone_width_names_the_widest_element(serve):
    extra = '<div id="clipped" style="overflow-x:auto"><p style="width:2000px">scrolls</p></div>'
    extra += '<table id="wide"><tr><td><div style="width:840px">wide</div></td></tr></table>'
    message = failure(serve(CLEAN.format(extra=extra), "phone"))
    assert "in a 375 px viewport" in message
    assert "table#wide: 846 px wide, x 8..854" in message  # 840 px, cell padding and spacing
    assert "scrolls" not in message  # inside a scrolling box: it does not widen the page


def test_a_page_without_a_viewport_meta_is_980_px_wide_on_a_phone(serve):
    old = "<!doctype html><html lang='en'><head><title>Old</title></head><body><main>Hi</main></body></html>"
    page = serve(old, "phone")
    assert "laid out 980 px wide" in failure(page)


def test_serious_axe_violations_are_reported_with_their_targets(serve):
    page = serve(CLEAN.format(extra='<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" id="no-alt">'))
    message = failure(page)
    assert "axe image-alt (critical" in message
    assert "#no-alt" in message


def test_console_errors_exceptions_and_missing_files_are_reported(serve):
    extra = (
        '<link rel="stylesheet" href="/static/css/no-such-file.css">'
        "<script>console.error('boom'); setTimeout(() => { throw new Error('kaboom'); });</script>"
    )
    page = serve(CLEAN.format(extra=extra))
    page.wait_for_timeout(50)
    message = failure(page)
    assert "console error: boom" in message
    assert "page error: kaboom" in message
    assert "HTTP 404 for stylesheet" in message and "/static/css/no-such-file.css" in message


POLICY = {"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'"}


def test_content_security_policy_violations_are_reported(serve):
    page = serve(
        CLEAN.format(extra='<p style="color: red">styled</p><script>document.title = "ran"</script>'),
        headers=POLICY,
    )
    problems = failure(page)

    assert "CSP violation: script-src-elem refused inline" in problems
    assert "CSP violation: style-src-attr refused inline" in problems
    assert page.title() == "Clean"  # the inline script was refused


def test_a_page_keeping_its_policy_passes(serve):
    check_page(serve(CLEAN.format(extra=""), headers=POLICY), "clean-with-policy")


def test_the_problems_are_cleared_once_reported(serve):
    page = serve(CLEAN.format(extra="<script>console.error('once')</script>"))
    failure(page)
    check_page(page, "after")


@pytest.fixture
def plain_server():
    """A real HTTP server with one page, /, and 404 for anything else: the icon is fetched
    over HTTP, not through the browser's router."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = CLEAN.format(extra="").encode() if self.path == "/" else b"Not Found"
            self.send_response(200 if self.path == "/" else 404)
            self.send_header("Content-Type", "text/html" if self.path == "/" else "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_site_without_an_icon_is_reported(new_page, plain_server):
    page = new_page()
    page.goto(f"{plain_server}/")
    assert icon_problems(page) == [f"icon: HTTP 404 for {plain_server}/favicon.ico (no <link rel=icon>)"]
