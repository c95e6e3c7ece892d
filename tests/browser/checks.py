"""What every page must pass in a real browser: `check_page(page, name)`.

(a) nothing wider than the viewport (at 375 px, nothing past 375 px), (b) no `serious` or
`critical` axe-core violation, (c) no console error, uncaught exception, failed request or
Content Security Policy violation (a `securitypolicyviolation` event, or Chromium's "Refused
to ..." console line) since the page was opened or last checked, and (d) a full-page screenshot,
`<name>-<desktop|phone>-<light|dark>.png`, in docs/screenshots/ with KEEL_SCREENSHOTS=1
(`make screenshots`), else in pytest's temporary directory. Every problem of a page is in one
failure message, which names the screenshot. `check_pages` does the same for one page open
in several variants at once; `icon_problems` checks the site's icon, once.

Pages must come from the `new_page` fixture (tests/browser/conftest.py), which records them.
"""

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from urllib.parse import urljoin
from weakref import WeakKeyDictionary

from playwright.sync_api import ConsoleMessage, Page, Request, Response

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
REPO = Path(__file__).resolve().parents[2]
DOCS_SCREENSHOTS = REPO / "docs" / "screenshots"
BLOCKING_IMPACTS = ("serious", "critical")


def screenshots_for_docs() -> bool:
    return os.environ.get("KEEL_SCREENSHOTS") == "1"


@dataclass(frozen=True)
class Variant:
    viewport: str  # "desktop" | "phone"
    scheme: str  # "light" | "dark"

    @property
    def label(self) -> str:
        return f"{self.viewport}-{self.scheme}"


@dataclass
class Recorder:
    """What went wrong on a page since it was opened or last checked."""

    variant: Variant
    screenshot_dir: Path
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    error_responses: list[tuple[int, str, str]] = field(default_factory=list)  # (status, url, resource type)
    csp_violations: list[str] = field(default_factory=list)

    def clear(self) -> None:
        self.csp_violations.clear()
        self.console_errors.clear()
        self.page_errors.clear()
        self.failed_requests.clear()
        self.error_responses.clear()


_recorders: "WeakKeyDictionary[Page, Recorder]" = WeakKeyDictionary()

# Run in every document before its own scripts (an init script, which the page's policy does not
# govern): each violation of the page's Content Security Policy is passed to Python at once, so
# one that happens just before a navigation is not lost with the document.
_CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (event) => {
  window.__keelCspViolation(
    `${event.effectiveDirective} refused ${event.blockedURI || 'inline'} ` +
    `(${event.sourceFile || event.documentURI}${event.lineNumber ? ':' + event.lineNumber : ''}` +
    `${event.sample ? ', "' + event.sample + '"' : ''})`);
});
"""


def record(page: Page, variant: Variant, screenshot_dir: Path) -> Page:
    """Start recording `page`'s console errors, uncaught exceptions and failed requests."""
    recorder = Recorder(variant=variant, screenshot_dir=screenshot_dir)
    _recorders[page] = recorder

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" or _CSP_CONSOLE.match(message.text):
            where = message.location.get("url") or ""
            recorder.console_errors.append(f"{message.text} ({where})" if where else message.text)

    def on_request_failed(request: Request) -> None:
        recorder.failed_requests.append(f"{request.method} {request.url}: {request.failure}")

    def on_response(response: Response) -> None:
        if response.status >= 400:
            recorder.error_responses.append((response.status, response.url, response.request.resource_type))

    page.expose_function("__keelCspViolation", lambda text: recorder.csp_violations.append(text))
    page.add_init_script(_CSP_LISTENER)
    page.on("console", on_console)
    page.on("pageerror", lambda error: recorder.page_errors.append(str(error)))
    page.on("requestfailed", on_request_failed)
    page.on("response", on_response)
    return page


def recorder_of(page: Page) -> Recorder:
    try:
        return _recorders[page]
    except KeyError:
        raise AssertionError("check_page needs a page opened by the `new_page` fixture") from None


# --- (a) horizontal overflow ---------------------------------------------------------------

# The limit is the width of the window the page was given (1280 or 375 px), and the layout
# viewport's (documentElement.clientWidth, less a scrollbar) if narrower. Not window.innerWidth:
# with mobile emulation (is_mobile) Chromium widens innerWidth to the content, so an 840 px
# page at 375 px reports innerWidth 848 and would always pass; and a page without
# <meta name="viewport"> is laid out 980 px wide on a phone, which the limit must catch too.
# The culprits are the elements whose box ends past the limit while their parent's does
# not (where the overflow starts), outside any ancestor that clips or scrolls (those do
# not widen the page), widest first.
_OVERFLOW_JS = """
([windowWidth, limit]) => {
  const root = document.documentElement;
  const layoutWidth = root.clientWidth;
  const viewport = Math.min(layoutWidth, windowWidth);
  const scrollWidth = Math.max(root.scrollWidth, document.body ? document.body.scrollWidth : 0);
  const describe = (el) => {
    let path = [];
    for (let node = el; node && node.nodeType === 1 && path.length < 4; node = node.parentElement) {
      let part = node.tagName.toLowerCase();
      if (node.id) { path.unshift(part + '#' + node.id); break; }
      const classes = [...node.classList].slice(0, 2);
      if (classes.length) part += '.' + classes.join('.');
      if (node.parentElement) {
        const same = [...node.parentElement.children].filter((c) => c.tagName === node.tagName);
        if (same.length > 1) part += ':nth-of-type(' + (same.indexOf(node) + 1) + ')';
      }
      path.unshift(part);
    }
    return path.join(' > ');
  };
  const clipped = (el) => {
    for (let node = el.parentElement; node && node !== document.body && node !== root; node = node.parentElement) {
      if (getComputedStyle(node).overflowX !== 'visible') return true;
    }
    return false;
  };
  const past = (el) => {
    const rect = el.getBoundingClientRect();
    return rect.width > 0 && (rect.right + window.scrollX > viewport + 0.5 || rect.left + window.scrollX < -0.5);
  };
  const culprits = [];
  if (scrollWidth > viewport) {
    for (const el of document.body.querySelectorAll('*')) {
      if (!past(el) || getComputedStyle(el).position === 'fixed' || clipped(el)) continue;
      const parent = el.parentElement;
      if (parent && parent !== document.body && past(parent)) continue;
      const rect = el.getBoundingClientRect();
      const text = (el.innerText || el.getAttribute('aria-label') || '').trim().replace(/\\s+/g, ' ');
      culprits.push({
        selector: describe(el),
        width: Math.round(rect.width),
        left: Math.round(rect.left + window.scrollX),
        right: Math.round(rect.right + window.scrollX),
        text: text.slice(0, 60),
      });
    }
    culprits.sort((a, b) => b.right - a.right || b.width - a.width);
  }
  return {viewport, layoutWidth, scrollWidth, culprits: culprits.slice(0, limit), total: culprits.length};
}
"""


def overflow_problems(page: Page, limit: int = 8) -> list[str]:
    found = page.evaluate(_OVERFLOW_JS, [page.viewport_size["width"], limit])
    if found["scrollWidth"] <= found["viewport"]:
        return []
    lines = [f"overflow: the page is {found['scrollWidth']} px wide in a {found['viewport']} px viewport; widest:"]
    if found["layoutWidth"] > found["viewport"]:
        lines[0] = (
            f"overflow: the page is laid out {found['layoutWidth']} px wide (no <meta name=viewport "
            f'content="width=device-width">?) and {found["scrollWidth"]} px in a {found["viewport"]} px window'
        )
    for culprit in found["culprits"]:
        text = f' "{culprit["text"]}"' if culprit["text"] else ""
        lines.append(
            f"  {culprit['selector']}: {culprit['width']} px wide, x {culprit['left']}..{culprit['right']}{text}"
        )
    if found["total"] > len(found["culprits"]):
        lines.append(f"  ... and {found['total'] - len(found['culprits'])} more")
    return lines


# --- (b) accessibility -----------------------------------------------------------------------


@cache
def _axe_source() -> str:
    return AXE.read_text() + "\n;undefined"


def axe_start(page: Page) -> None:
    """Start axe-core on the page as it is now (every rule axe runs by default), without
    waiting: pages of several contexts then run it at once, each in its own renderer."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, not added as a <script> (which the page's
        # Content Security Policy rightly refuses, being inline and without the page's nonce).
        page.evaluate(_axe_source())
    # axe.run does much of its work before its first await: started from a timer, it runs
    # after this call returns, while the caller goes on to the next page.
    page.evaluate(
        """() => {
            window.__keelAxe = new Promise((started) => setTimeout(started, 0))
              .then(() => axe.run(document, {resultTypes: ['violations']}))
              .then((results) =>
                results.violations.map((v) => ({
                    id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')),
                })));
        }"""
    )


def axe_problems(page: Page, targets_shown: int = 6) -> list[str]:
    """The serious and critical violations found by `axe_start`, with their target selectors."""
    lines = []
    for violation in page.evaluate("() => window.__keelAxe"):
        if violation["impact"] not in BLOCKING_IMPACTS:
            continue
        count = len(violation["targets"])
        lines.append(f"axe {violation['id']} ({violation['impact']}, {count} node(s)): {violation['help']}")
        for target in violation["targets"][:targets_shown]:
            lines.append(f"  {target}")
        if count > targets_shown:
            lines.append(f"  ... and {count - targets_shown} more")
    return lines


# --- (c) console errors and failed requests --------------------------------------------------

# What Chromium logs for a Content Security Policy violation ("Refused to execute inline script
# because it violates ...", "Refused to load the image ...", "Refused to apply inline style ...").
_CSP_CONSOLE = re.compile(r"^Refused to ")
_STATUS_CONSOLE = re.compile(r"^Failed to load resource: the server responded with a status of (\d+)")
# Chromium fetches the icon by itself, after the page has loaded, and logs a failure only when
# it comes back in time: reported here it would come and go from run to run. `icon_problems`
# checks the icon once, deterministically.
_FAVICON = re.compile(r"/favicon\.ico\)?$")


def traffic_problems(page: Page, recorder: Recorder, expect_status: int | None) -> list[str]:
    """Console errors, exceptions and failed requests; `expect_status` excuses the main
    document's own status (a 404 page) and the console line Chromium logs for it."""

    def expected(status: int, url: str) -> bool:
        return expect_status is not None and status == expect_status and url == page.url

    lines = [f"page error: {error}" for error in recorder.page_errors]
    lines += [f"CSP violation: {violation}" for violation in recorder.csp_violations]
    for text in recorder.console_errors:
        if _CSP_CONSOLE.match(text):
            lines.append(f"CSP violation (console): {text}")
            continue
        status = _STATUS_CONSOLE.match(text)
        if status and _FAVICON.search(text):
            continue
        if status and expected(int(status.group(1)), text.rsplit("(", 1)[-1].rstrip(")")):
            continue
        lines.append(f"console error: {text}")
    lines += [f"request failed: {failure}" for failure in recorder.failed_requests]
    for status, url, resource_type in recorder.error_responses:
        if resource_type == "document" and expected(status, url):
            continue
        lines.append(f"HTTP {status} for {resource_type} {url}")
    return lines


def icon_problems(page: Page) -> list[str]:
    """The page's icons (`<link rel="icon">`, else /favicon.ico, which browsers then ask for)
    must load: without one, every visitor's first page costs a 404."""
    hrefs = page.eval_on_selector_all("link[rel~='icon']", "links => links.map((link) => link.href)")
    problems = []
    for href in hrefs or [urljoin(page.url, "/favicon.ico")]:
        # Over HTTP beside the page (the context's cookies, none of its routes), so that
        # these requests are not recorded as the page's.
        response = page.context.request.get(href)
        if not response.ok:
            problems.append(f"icon: HTTP {response.status} for {href}" + ("" if hrefs else " (no <link rel=icon>)"))
    return problems


# --- (d) screenshots -------------------------------------------------------------------------


def screenshot(page: Page, name: str, recorder: Recorder) -> Path:
    path = recorder.screenshot_dir / f"{name}-{recorder.variant.label}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
    return path


def check_page(page: Page, name: str, *, expect_status: int | None = None) -> Path:
    """Check the page as it is now (see the module's docstring); returns the screenshot's path.

    `expect_status` is the status the page itself is meant to have (404 for the not-found
    page); without it any status from 400 fails.
    """
    page.wait_for_load_state("load")
    axe_start(page)
    return check_finish(page, name, expect_status=expect_status)


def check_pages(pages: list[Page], name: str, *, expect_status: int | None = None) -> dict[Page, Callable[[], Path]]:
    """`check_page` for the same page open in several contexts (viewports, schemes): axe runs
    in all of them at once; returns, for each page, what finishes its check (to call in a
    subtest each, so that every variant is reported)."""
    for page in pages:
        page.wait_for_load_state("load")
        axe_start(page)
    return {page: partial(check_finish, page, name, expect_status=expect_status) for page in pages}


def check_finish(page: Page, name: str, *, expect_status: int | None) -> Path:
    recorder = recorder_of(page)
    problems = traffic_problems(page, recorder, expect_status)
    problems += overflow_problems(page)
    problems += axe_problems(page)
    shot = screenshot(page, name, recorder)
    recorder.clear()
    if problems:
        raise AssertionError(
            f"{name} at {recorder.variant.label} ({page.url}), screenshot {shot}:\n" + "\n".join(problems)
        )
    return shot
