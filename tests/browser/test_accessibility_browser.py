"""In a real Chromium: axe-core finds no serious or critical problem on any page, at desktop
and phone sizes; the focus is always visible; the menu and the form work from the keyboard."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM, DESKTOP, PHONE, RECORD_CSP_VIOLATIONS
from tests.browser.studio_pages import (
    PAGES,
    Page,
    build_world,
    create_a_key,
    csp_violations,
    keep_a_frame,
    open_page,
    wait_until,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's /usr/bin/chromium is not installed"),
]

AXE = Path(__file__).parent / "vendor" / "axe.min.js"  # see vendor/README.md
AXE_VERSION = "4.14.1"
FAILING_IMPACTS = ("serious", "critical")

RUN_AXE = """
async (include) => {
  const where = include ? {include: [include]} : document;
  const results = await axe.run(where, {resultTypes: ["violations"]});
  return {version: axe.version, violations: results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(
      (n) => n.target.join(" ") + " — " + n.failureSummary.replace(/\\s+/g, " ")
    ),
  }))};
}
"""


@pytest.fixture(params=["desktop", "phone"])
def axe_context(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A context whose pages all carry axe-core.

    axe is added as an init script: Playwright injects those through the DevTools protocol,
    so the studio's CSP (script-src 'self') does not block it and stays in force, and the
    pages are checked exactly as they are served. add_script_tag would be refused by that
    CSP, and bypass_csp=True would test pages under a policy they never run with.
    """
    context = chromium.new_context(**(DESKTOP if request.param == "desktop" else PHONE))
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    context.add_init_script(path=str(AXE))
    context.size = request.param
    yield context
    context.close()


def serious_violations(page: Any, include: str | None = None) -> list[str]:
    """axe's serious and critical findings, one readable line each (printed on failure)."""
    result = page.evaluate(RUN_AXE, include)
    assert result["version"] == AXE_VERSION
    found = []
    for violation in result["violations"]:
        line = f"{violation['impact']} {violation['id']}: {violation['help']}"
        if violation["impact"] in FAILING_IMPACTS:
            found.append(line + "".join(f"\n    {node}" for node in violation["nodes"]))
        else:
            print(f"(not failing) {page.url}: {line}")
    return found


def test_the_form_with_a_kept_frame_and_an_error_passes_axe(
    live_server: Any, transactional_db: None, axe_context: Any, tmp_path: Path
) -> None:
    world = build_world()
    spec = Page("kept", "/generations/new/?kind=image2video", main="#generation-form")
    page = open_page(axe_context, live_server, world, spec)
    keep_a_frame(page, tmp_path)
    found = serious_violations(page)
    assert found == [], f"{axe_context.size} kept frame:\n" + "\n".join(found)
    assert csp_violations(page) == [] and page.errors == []


def test_a_new_keys_secrets_pass_axe(
    live_server: Any, transactional_db: None, axe_context: Any
) -> None:
    world = build_world()
    page = open_page(axe_context, live_server, world, Page("keys", "/keys/", main="#key-create"))
    create_a_key(page)
    found = serious_violations(page)
    assert found == [], f"{axe_context.size} new key:\n" + "\n".join(found)
    assert csp_violations(page) == [] and page.errors == []


def test_notices_and_messages_sit_inside_a_landmark(
    live_server: Any, transactional_db: None, axe_context: Any
) -> None:
    world = build_world()
    # An admin's pages carry the low-balance banner above the content.
    page = open_page(axe_context, live_server, world, Page("usage", "/usage/", who="admin"))
    assert page.locator(".notices .balance-banner").is_visible()
    regions = [v for v in page.evaluate(RUN_AXE, None)["violations"] if v["id"] == "region"]
    assert regions == []
    # A member's delete answers with a message (and its undo) above the gallery.
    spec = Page("detail", f"/generations/{world.second.pk}/", main="#player")
    page = open_page(axe_context, live_server, world, spec)
    page.locator("button.danger:has-text('Delete')").click()
    page.wait_for_selector(".notices .messages li")
    regions = [v for v in page.evaluate(RUN_AXE, None)["violations"] if v["id"] == "region"]
    assert regions == []
    assert csp_violations(page) == [] and page.errors == []


@pytest.mark.parametrize("spec", PAGES, ids=[spec.name for spec in PAGES])
def test_every_page_passes_axe(
    live_server: Any, transactional_db: None, axe_context: Any, spec: Page
) -> None:
    world = build_world()
    page = open_page(axe_context, live_server, world, spec)
    found = serious_violations(page)
    menu = page.locator("header.topbar summary")
    if axe_context.size == "phone" and menu.count():
        menu.click()  # the open menu is checked too: its links only show on a phone when asked
        wait_until(page, lambda: page.locator("header.topbar nav a").first.is_visible(), "menu")
        found += serious_violations(page, "header.topbar")
    assert found == [], f"{axe_context.size} {spec.path}:\n" + "\n".join(found)
    assert csp_violations(page) == [] and page.errors == []


# The focused element's visible indicator: an outline or a box-shadow ring at least 2 px
# wide whose colour stands 3:1 against the background behind it (WCAG 2.4.7, 1.4.11).
FOCUS_RING = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const rgba = (css) => {
    const parts = (css.match(/[\\d.]+/g) || [0, 0, 0, 0]).map(Number);
    return parts.length > 3 ? parts : [...parts, 1];
  };
  const over = (top, below) => [0, 1, 2].map((i) => top[i] * top[3] + below[i] * (1 - top[3]));
  const channel = (v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const lum = (c) => 0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2]);
  const ratio = (a, b) => {
    const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  let background = [255, 255, 255];
  const up = [];
  for (let n = el.parentElement; n; n = n.parentElement) up.unshift(n);
  for (const node of up) {
    background = over(rgba(getComputedStyle(node).backgroundColor), background);
  }
  const s = getComputedStyle(el);
  const r = el.getBoundingClientRect();
  const isOnTop = (el, r) => {
    const x = Math.min(Math.max(r.left + r.width / 2, 0), window.innerWidth - 1);
    const y = Math.min(Math.max(r.top + Math.min(r.height / 2, 10), 0), window.innerHeight - 1);
    const hit = document.elementFromPoint(x, y);
    return hit !== null && (hit === el || el.contains(hit));
  };
  const label = (el.textContent || el.name || "").trim().slice(0, 30);
  const what = `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}.${el.className} "${label}"`;
  const rings = [];
  if (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2) {
    rings.push(ratio(over(rgba(s.outlineColor), background), background));
  }
  const shadow = s.boxShadow.match(/rgba?\\([^)]*\\)[^,]*?(\\d+(\\.\\d+)?)px\\s*$/);
  if (s.boxShadow !== "none" && shadow && parseFloat(shadow[1]) >= 2) {
    rings.push(ratio(over(rgba(s.boxShadow), background), background));
  }
  return {
    // Inside a video's native controls the focus is in the browser's shadow DOM: the
    // video itself then only matches :focus-within, and must show the ring for them.
    what,
    focusVisible: el.matches(":focus-visible")
      || (el.tagName === "VIDEO" && el.matches(":focus-within")),
    contrast: Math.max(0, ...rings),
    // On the screen and on top: not scrolled away, not under the sticky header.
    onScreen: r.bottom > 0 && r.top < window.innerHeight && isOnTop(el, r),
  };
}
"""


def tab_through(page: Any, stop: str | None = None, limit: int = 80) -> list[dict[str, Any]]:
    """Press Tab until the focus leaves the page (or reaches `stop`), measuring each stop."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        ring = page.evaluate(FOCUS_RING)
        if ring is None or (seen and ring["what"] == seen[0]["what"]):
            break
        seen.append(ring)
        if stop and page.evaluate("(s) => document.activeElement.matches(s)", stop):
            break
    return seen


def badly_focused(seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in seen if not (s["focusVisible"] and s["contrast"] >= 3 and s["onScreen"])]


@pytest.fixture
def keyboard_context(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(**DESKTOP)
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    yield context
    context.close()


def test_tabbing_through_the_gallery_always_shows_the_focus(
    live_server: Any, transactional_db: None, keyboard_context: Any
) -> None:
    world = build_world()
    page = open_page(keyboard_context, live_server, world, Page("gallery", "/"))
    seen = tab_through(page)
    assert len(seen) >= 15, seen  # header links, the actions and every card were reached
    texts = " | ".join(s["what"] for s in seen)
    assert "Skip to content" in seen[0]["what"], texts  # first: a way past the menu
    for expected in ("History", "Log out", "New text to video", "a paper lantern drifting"):
        assert expected in texts, expected
    assert badly_focused(seen) == [], badly_focused(seen)

    # The skip link moves the focus to the page's content, past the menu.
    page.goto(page.url)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")
    assert csp_violations(page) == [] and page.errors == []


def test_the_form_is_filled_and_sent_from_the_keyboard(
    live_server: Any, transactional_db: None, keyboard_context: Any
) -> None:
    world = build_world()
    page = open_page(keyboard_context, live_server, world, Page("form", "/generations/new/"))
    seen = tab_through(page, stop="button[type=submit].big")
    names = page.evaluate(
        # Only what shows: the form hides what the chosen model does not take (shots.js).
        "Array.from(document.querySelectorAll('#generation-form [name]:not([type=hidden])'))"
        ".filter(el => el.checkVisibility()).map(el => el.name)"
    )
    assert len(names) >= 9  # the six camera axes show only for a simple move
    reached = " ".join(s["what"] for s in seen)
    for name in names:
        assert f'"{name}"' in reached or name in reached, (name, reached)
    assert "Generate" in seen[-1]["what"]
    assert badly_focused(seen) == [], badly_focused(seen)

    page.keyboard.press("Enter")  # send with the prompt left empty
    page.wait_for_selector(".error:has-text('A prompt is required.')")
    wait_until(page, lambda: page.evaluate("document.activeElement.name") == "prompt", "focus")
    page.keyboard.type("a heron lifting off a misty river")
    page.keyboard.press("Shift+Tab")  # no trap: the focus moves on both ways
    assert page.evaluate("document.activeElement.name") == "model_name"
    assert csp_violations(page) == [] and page.errors == []


def test_the_phone_menu_opens_and_closes_from_the_keyboard(
    live_server: Any, transactional_db: None, chromium: Any
) -> None:
    world = build_world()
    context = chromium.new_context(**PHONE)
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    page = open_page(context, live_server, world, Page("gallery", "/"))
    links = page.locator("header.topbar nav a")
    seen = tab_through(page, stop="header.topbar summary")
    assert page.evaluate("document.activeElement.matches('header.topbar summary')"), seen
    assert badly_focused(seen) == [], badly_focused(seen)

    page.keyboard.press("Enter")
    wait_until(page, links.first.is_visible, "Enter to open the menu")
    page.keyboard.press(" ")
    wait_until(page, lambda: not links.first.is_visible(), "Space to close the menu")
    page.keyboard.press(" ")
    wait_until(page, links.first.is_visible, "Space to open the menu")
    seen = tab_through(page, stop="header.topbar nav a")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Gallery"
    assert badly_focused(seen) == [], badly_focused(seen)
    page.keyboard.press("Escape")  # closes the menu and gives the focus back to its button
    wait_until(page, lambda: not links.first.is_visible(), "Escape to close the menu")
    assert page.evaluate("document.activeElement.matches('header.topbar summary')")
    assert csp_violations(page) == [] and page.errors == []
    context.close()
