"""What the browser tests share: one headless Chromium per module, and a context per test.

The older modules (test_gallery_browser, test_review_browser, test_visible_fixes_browser)
keep their own fixtures; new modules use these. Helpers that are not fixtures (signing in,
the pages of the studio, measuring) live in tests/browser/studio_pages.py.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium")
# Playwright's sync API runs an event loop; Django refuses ORM calls from it otherwise.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

# A phone as the issue measures it: 390 CSS pixels wide, touch, the mobile viewport rules.
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}

# Runs before any page script (through the DevTools protocol, so the page's CSP does not
# apply to it): every Content-Security-Policy violation the page causes is recorded.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


def skip_without_chromium() -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)"
    )


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One browser for the module: launching Chromium per test would dominate the run."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def _context(chromium: Any, **options: Any) -> Iterator[Any]:
    context = chromium.new_context(**options)
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    yield context
    context.close()


@pytest.fixture
def phone_context(chromium: Any) -> Iterator[Any]:
    yield from _context(chromium, **PHONE)


@pytest.fixture
def desktop_context(chromium: Any) -> Iterator[Any]:
    yield from _context(chromium, **DESKTOP)
