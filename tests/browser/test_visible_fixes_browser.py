"""In a real Chromium: what a user could see broken, measured (contrast, columns, widths, CSP)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's /usr/bin/chromium is not installed"),
]
# Playwright's sync API runs an event loop; Django refuses ORM calls from it otherwise.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

# Runs before any page script (through the DevTools protocol, so the page's CSP does not
# apply to it): every Content-Security-Policy violation the page causes is recorded.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""

# WCAG 2.x contrast of every visible element that holds text of its own, inside `root`:
# the text colour (with the opacity of it and its ancestors) over the background that
# the ancestors' background colours compose to (from the white canvas up).
CONTRAST = """
(root) => {
  const rgba = (css) => {
    const parts = css.match(/[\\d.]+/g).map(Number);
    return parts.length > 3 ? parts : [...parts, 1];
  };
  const over = (top, below) => [0, 1, 2].map((i) => top[i] * top[3] + below[i] * (1 - top[3]));
  const channel = (v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const luminance = (c) => 0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2]);
  const ratio = (a, b) => {
    const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  const ancestry = (el) => {
    const up = [];
    for (let n = el; n; n = n.parentElement) up.unshift(n);
    return up;
  };
  const ownText = (el) =>
    Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
  const found = [];
  for (const el of document.querySelectorAll(root + ", " + root + " *")) {
    if (!ownText(el) || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden") continue;
    let background = [255, 255, 255];
    let opacity = 1;
    for (const node of ancestry(el)) {
      const s = getComputedStyle(node);
      background = over(rgba(s.backgroundColor), background);
      opacity *= parseFloat(s.opacity);
    }
    const text = over([...over(rgba(style.color), background).slice(0, 3), opacity], background);
    found.push({
      ratio: Math.round(ratio(text, background) * 100) / 100,
      what: `${el.tagName.toLowerCase()}.${el.className}: ${el.textContent.trim().slice(0, 40)}`,
    });
  }
  return found;
}
"""


@pytest.fixture
def browser_context() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.add_init_script(RECORD_CSP_VIOLATIONS)
        yield context
        context.close()
        browser.close()


def signed_in_page(context: Any, live_server: Any, user: Any) -> Any:
    """A page of the context whose session is the user's."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.failed = []  # answers of 400 and above: a missing favicon, stylesheet or script
    page.on("response", lambda r: r.status >= 400 and page.failed.append(f"{r.status} {r.url}"))
    return page


def csp_violations(page: Any) -> list[str]:
    return page.evaluate("window.__cspViolations")


def wait_until(page: Any, predicate: Any, what: str, seconds: float = 20) -> None:
    """Poll from Python (wait_for_function evaluates strings, which our CSP forbids)."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(100)


def too_faint(page: Any, root: str = "main") -> list[dict[str, Any]]:
    return [found for found in page.evaluate(CONTRAST, root) if found["ratio"] < 4.5]


def test_the_api_docs_and_the_one_time_secret_are_readable(
    live_server: Any, transactional_db: None, browser_context: Any
) -> None:
    from django.contrib.auth.models import User

    from api.models import ApiKey

    alice = User.objects.create_user("alice", password="pw-alice-123")
    ApiKey.issue(alice, "old laptop")[0].revoke()  # a revoked row is dimmed, still readable
    page = signed_in_page(browser_context, live_server, alice)

    page.goto(f"{live_server.url}/api/")
    examples = page.evaluate(CONTRAST, "pre.example")
    assert len(examples) >= 5  # the measure sees the curl examples themselves
    assert too_faint(page) == []

    page.goto(f"{live_server.url}/keys/")
    page.fill("#id_name", "contrast check")
    page.click("button:has-text('Create key')")
    page.wait_for_selector("#new-secret")
    assert page.evaluate(CONTRAST, ".secret-once code") != []
    assert too_faint(page) == []
    assert csp_violations(page) == [] and page.errors == [] and page.failed == []


def test_a_key_created_on_my_keys_joins_the_list_without_a_reload(
    live_server: Any, transactional_db: None, browser_context: Any
) -> None:
    from django.contrib.auth.models import User

    from api.models import ApiKey

    alice = User.objects.create_user("alice", password="pw-alice-123")
    ApiKey.issue(alice, "older key")
    page = signed_in_page(browser_context, live_server, alice)
    page.goto(f"{live_server.url}/keys/")
    page.evaluate("window.__notReloaded = true")
    assert page.locator("#key-list tbody tr").count() == 1

    page.fill("#id_name", "made with htmx")
    page.click("button:has-text('Create key')")
    page.wait_for_selector("#new-secret")
    key = ApiKey.objects.get(name="made with htmx")
    page.wait_for_selector(f"#key-list #key-{key.pk}")
    assert "made with htmx" in page.locator(f"#key-{key.pk}").inner_text()
    assert page.locator("#key-list tbody tr").count() == 2
    assert page.evaluate("window.__notReloaded") is True  # swapped in place by htmx
    # The new row works at once: revoke it through htmx, the secret panel stays.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#key-{key.pk} button:has-text('Revoke')").click()
    wait_until(page, lambda: "revoked" in page.locator(f"#key-{key.pk}").inner_text(), "revoke")
    assert page.locator("#new-secret").count() == 1
    assert csp_violations(page) == [] and page.errors == []


def cell_boxes(page: Any) -> list[dict[str, float]]:
    return page.locator(".compare-cell").evaluate_all(
        "cells => cells.map(c => { const r = c.getBoundingClientRect();"
        " return {x: Math.round(r.x), y: Math.round(r.y), width: r.width}; })"
    )


@pytest.mark.parametrize("count", [2, 3, 4])
def test_compare_lays_out_each_clip_in_its_own_column(
    live_server: Any, transactional_db: None, browser_context: Any, count: int
) -> None:
    from django.contrib.auth.models import User

    from videos.models import Generation

    alice = User.objects.create_user("alice", password="pw-alice-123")
    ids = [Generation.objects.create(owner=alice, prompt=f"clip {n}").pk for n in range(count)]
    page = signed_in_page(browser_context, live_server, alice)
    page.goto(f"{live_server.url}/compare/?" + "&".join(f"ids={pk}" for pk in ids))

    boxes = cell_boxes(page)
    assert len(boxes) == count
    assert len({box["y"] for box in boxes}) == 1, boxes  # one row
    assert len({box["x"] for box in boxes}) == count, boxes  # one column each
    grid = page.locator(".compare-grid").evaluate("g => g.getBoundingClientRect().width")
    assert all(box["width"] < grid / count + 1 for box in boxes), (boxes, grid)
    assert csp_violations(page) == [] and page.errors == [] and page.failed == []


def test_the_history_refuses_a_fifth_clip_and_an_empty_zip_with_a_message(
    live_server: Any, transactional_db: None, browser_context: Any
) -> None:
    from django.contrib.auth.models import User

    from videos.models import Generation

    alice = User.objects.create_user("alice", password="pw-alice-123")
    ids = [Generation.objects.create(owner=alice, prompt=f"clip {n}").pk for n in range(5)]
    page = signed_in_page(browser_context, live_server, alice)
    page.goto(f"{live_server.url}/history/")

    page.click("button:has-text('Download selected videos')")
    wait_until(page, lambda: page.locator("#selection-message").inner_text() != "", "a message")
    assert "Select at least one" in page.locator("#selection-message").inner_text()
    assert page.url == f"{live_server.url}/history/"

    for pk in ids:
        page.check(f"input[name=ids][value='{pk}']")
    page.click("button:has-text('Compare selected')")
    wait_until(page, lambda: "at most 4" in page.locator("#selection-message").inner_text(), "5")
    assert page.url == f"{live_server.url}/history/"  # stayed: nothing was lost

    page.uncheck(f"input[name=ids][value='{ids[0]}']")
    page.click("button:has-text('Compare selected')")
    page.wait_for_url("**/compare/?*")
    assert page.locator(".compare-cell").count() == 4
    assert csp_violations(page) == [] and page.errors == []


def page_width(page: Any) -> tuple[int, int]:
    return tuple(
        page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
    )


def test_the_history_fits_a_1440_pixel_window(
    live_server: Any, transactional_db: None, browser_context: Any
) -> None:
    from decimal import Decimal

    from django.contrib.auth.models import User

    from api.models import ApiKey
    from review.models import Comment, Rating, Star, Tagging
    from videos.models import Generation

    alice = User.objects.create_user("alice-with-a-rather-long-user-name", password="pw-a-123")
    key, _ = ApiKey.issue(alice, "the nightly batch renderer on the build server")
    long_prompt = " ".join(["an extraordinarily detailed panoramic establishing shot"] * 8)
    unbroken = "https://example.org/" + "x" * 150  # one 170-character word
    for n in range(6):
        generation = Generation.objects.create(
            owner=alice, prompt=f"{n} {long_prompt if n else unbroken}",
            negative_prompt="blurry " * 20, api_key=key if n % 2 else None,
            status="succeeded", units=Decimal("3.50"), video="videos/x.mp4", poster="p/x.jpg",
            model_name="kling-v2-1-master", mode="pro", duration=10, aspect_ratio="16:9",
            kind="image2video",
        )  # fmt: skip
        for tag in ("establishing-shots", "panoramas-for-review", "a" * 50):
            Tagging.add(generation, tag, alice)
        Rating.set(alice, generation, 4)
        Star.toggle(alice, generation)
        Comment.post(generation, alice, "noted", None)
    page = signed_in_page(browser_context, live_server, alice)
    page.goto(f"{live_server.url}/history/")
    assert page.locator("tr.history-row").count() == 6

    for width in (1440, 1400, 1399, 1280, 1201, 1200, 1101, 1100, 1024):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(50)  # a layout pass
        scroll, client = page_width(page)
        assert scroll <= client, (width, scroll, client)
        # The table itself fits its column (not merely hidden behind a scrolling box).
        table, results = page.evaluate(
            "[document.querySelector('.history-table').getBoundingClientRect().right,"
            " document.querySelector('#history-results').getBoundingClientRect().right]"
        )
        assert table <= results + 0.5, (width, table, results)
        # ...with room left to read the prompt.
        prompt = page.locator("td.prompt").first.evaluate("td => td.getBoundingClientRect().width")
        assert prompt >= 240, (width, prompt)
    assert csp_violations(page) == [] and page.errors == []
