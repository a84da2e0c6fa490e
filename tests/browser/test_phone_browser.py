"""In a real Chromium as a 390 px touch phone: every page fits, its header is a menu, and
what a page is for (its results, its player, its form's errors) is on the screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM
from tests.browser.studio_pages import (
    PAGES,
    Page,
    build_world,
    create_a_key,
    csp_violations,
    horizontal_overflow,
    in_viewport,
    keep_a_frame,
    open_page,
    wait_until,
    with_faces,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's /usr/bin/chromium is not installed"),
]

HEADER_MAX = 64  # px: a closed header may take no more of an 844 px screen than this
TOUCH_MIN = 44  # px: the smallest comfortable touch target (Apple's and WCAG 2.5.5's figure)
CHECKBOX_MIN = 24  # px: WCAG 2.2's minimum target (2.5.8) for a bare checkbox

# Every visible control of ours that is too small to tap. Links inside text are exempt
# (WCAG 2.5.8 exempts inline targets); a control wrapped in a <label> is measured with
# its label, which is what a finger hits. Native video controls are the browser's.
SMALL_TARGETS = """
([touchMin, checkboxMin]) => {
  const small = [];
  const selector = "button, .button, summary, select, input:not([type=hidden])";
  for (const el of document.querySelectorAll(selector)) {
    if (!el.checkVisibility({visibilityProperty: true, opacityProperty: true})) continue;
    const target = el.closest("label") || el;
    const r = target.getBoundingClientRect();
    const box = el.type === "checkbox" || el.type === "radio" ? checkboxMin : touchMin;
    if (r.height < box - 0.5 || r.width < box - 0.5) {
      const label = (el.textContent || el.name || "").trim().slice(0, 30);
      const size = `${Math.round(r.width)}x${Math.round(r.height)}`;
      small.push(`${el.tagName.toLowerCase()}.${el.className} "${label}" ${size}`);
    }
  }
  return small;
}
"""

# Tables either fit the screen or scroll inside a box of their own that fits it (and can
# be focused, so that a keyboard can scroll it too).
TABLES_THAT_OVERFLOW = """
() => {
  const width = document.documentElement.clientWidth;
  const bad = [];
  for (const table of document.querySelectorAll("main table")) {
    if (!table.checkVisibility()) continue;
    const r = table.getBoundingClientRect();
    if (r.right <= width + 0.5) continue;
    const box = table.closest(".table-scroll");
    const fits = box && box.getBoundingClientRect().right <= width + 0.5
      && getComputedStyle(box).overflowX === "auto" && box.tabIndex === 0;
    if (!fits) bad.push(`${table.className || table.id || "table"} ${Math.round(r.right)}px`);
  }
  return bad;
}
"""


@pytest.mark.parametrize("spec", PAGES, ids=[spec.name for spec in PAGES])
def test_every_page_fits_a_phone_with_a_compact_menu(
    live_server: Any, transactional_db: None, phone_context: Any, spec: Page
) -> None:
    world = build_world()
    page = open_page(phone_context, live_server, world, spec)

    assert horizontal_overflow(page) is None
    assert page.evaluate(TABLES_THAT_OVERFLOW) == []
    header = page.locator("header.topbar").bounding_box()
    assert header["height"] <= HEADER_MAX, header
    # What the page is for is on the first screen, not under the (sticky) header.
    main = in_viewport(page, spec.main)
    assert main["height"] > 0 and main["top"] >= main["headerBottom"] - 0.5, main
    assert main["top"] < main["viewport"], main
    assert page.evaluate(SMALL_TARGETS, [TOUCH_MIN, CHECKBOX_MIN]) == []

    links = page.locator("header.topbar nav a")
    if spec.who == "anonymous" or spec.status == 500:
        assert links.count() == 0  # nobody is signed in: no menu to open
    else:
        assert links.count() >= 7
        assert not links.first.is_visible()  # folded away until asked for
        toggle = page.locator("header.topbar summary")
        box = toggle.bounding_box()
        assert box["height"] >= TOUCH_MIN - 0.5 and box["width"] >= TOUCH_MIN - 0.5, box
        toggle.tap()
        wait_until(page, lambda: links.first.is_visible(), "the menu to open")
        for n in range(links.count()):
            box = links.nth(n).bounding_box()
            assert box is not None, links.nth(n).inner_text()
            assert box["y"] >= 0 and box["y"] + box["height"] <= 844, (n, box)
            assert box["height"] >= TOUCH_MIN - 0.5, (links.nth(n).inner_text(), box)
        assert page.locator("header.topbar button:has-text('Log out')").is_visible()
        assert horizontal_overflow(page) is None
    assert csp_violations(page) == [] and page.errors == []


def test_a_menu_link_takes_a_phone_user_to_its_page(
    live_server: Any, transactional_db: None, phone_context: Any
) -> None:
    world = build_world()
    page = open_page(phone_context, live_server, world, PAGES[0])
    page.locator("header.topbar summary").tap()
    page.locator("header.topbar nav a:has-text('History')").tap()
    page.wait_for_url("**/history/")
    assert page.locator("tr.history-row").count() == 5  # the member sees the team's work
    # The menu is folded again on the new page.
    assert not page.locator("header.topbar nav a").first.is_visible()


@pytest.mark.parametrize(
    "path, error",
    [
        ("/generations/new/", "A prompt is required."),
        ("/generations/new/?kind=image2video", "Image-to-video needs a first or a last frame."),
        ("/generations/new/video-extend/?video_id=999999", "No video 999999 exists."),
    ],
    ids=["text", "image", "extend"],
)
def test_a_form_error_is_on_the_screen_after_submit(
    live_server: Any, transactional_db: None, phone_context: Any, path: str, error: str
) -> None:
    world = build_world()
    page = open_page(phone_context, live_server, world, Page("form", path))
    page.locator("button:has-text('Generate')").tap()  # at the foot of a long, one-column form
    page.wait_for_selector(f".error:has-text('{error}')")
    page.wait_for_timeout(300)  # let a smooth scroll, if any, come to rest
    shown = in_viewport(page, ".error", error)
    assert shown["visible"], shown
    # The field the error is about has the focus, so typing fixes it at once.
    assert page.evaluate("document.activeElement.closest('.field, fieldset') !== null")
    assert horizontal_overflow(page) is None
    assert csp_violations(page) == [] and page.errors == []


def test_history_rows_become_cards_that_fit_a_phone(
    live_server: Any, transactional_db: None, phone_context: Any
) -> None:
    world = build_world()
    page = open_page(phone_context, live_server, world, Page("history", "/history/"))
    rows = page.locator("tr.history-row")
    assert rows.count() == 5
    for n in range(rows.count()):
        box = rows.nth(n).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    # Each card shows its prompt, status and rating and can be ticked and starred.
    card = page.locator(f"#row-{world.first.pk}")
    for part in ("td.prompt", ".badge", ".rating-cell", "input[name=ids]", ".star-toggle"):
        assert card.locator(part).first.is_visible(), part
    prompt = card.locator("td.prompt").bounding_box()
    assert prompt["width"] >= 240, prompt  # room to read the prompt
    card.locator("input[name=ids]").tap()
    page.locator(f"#row-{world.second.pk} input[name=ids]").tap()
    page.locator("button:has-text('Compare selected')").tap()
    page.wait_for_url("**/compare/?*")
    assert page.locator("video.compare-video").count() == 2

    # The filters are folded under one button; opened, they filter the cards.
    page.go_back()
    page.wait_for_selector("tr.history-row")
    search = page.locator("#id_q")
    assert not search.is_visible()
    page.locator(".history-side summary").tap()
    wait_until(page, search.is_visible, "the filters to open")
    search.fill("windy")
    wait_until(page, lambda: page.locator("tr.history-row").count() == 1, "the search")
    assert horizontal_overflow(page) is None


def test_compare_controls_are_big_enough_to_play_by_touch(
    live_server: Any, transactional_db: None, phone_context: Any
) -> None:
    world = build_world()
    spec = next(spec for spec in PAGES if spec.name == "compare")
    page = open_page(phone_context, live_server, world, spec)
    toggle = page.locator("[data-sync=toggle]")
    seek = page.locator("[data-sync=seek]")
    loop = page.locator("label:has([data-sync=loop])")
    for control in (toggle, seek, loop):
        box = control.bounding_box()
        assert box["height"] >= TOUCH_MIN - 0.5 and box["width"] >= TOUCH_MIN - 0.5, box
    wait_until(
        page,
        lambda: page.evaluate(
            "Array.from(document.querySelectorAll('video.compare-video'))"
            ".every(v => v.readyState >= 2)"
        ),
        "the videos to load",
    )
    page.evaluate("document.querySelectorAll('video').forEach(v => { v.muted = true; })")
    toggle.tap()
    clocks = "Array.from(document.querySelectorAll('video.compare-video')).map(v => v.currentTime)"
    wait_until(page, lambda: min(page.evaluate(clocks)) > 0.3, "both clips to play")
    toggle.tap()
    assert page.evaluate(
        "Array.from(document.querySelectorAll('video.compare-video')).every(v => v.paused)"
    )


def test_a_phone_user_picks_a_face_by_its_picture_and_time(
    live_server: Any, transactional_db: None, phone_context: Any
) -> None:
    world = build_world()
    with_faces(world)
    path = f"/generations/new/advanced-lip-sync/?session_id={world.session.pk}"
    page = open_page(phone_context, live_server, world, Page("faces", path, main="ul.faces"))
    cards = page.locator("ul.faces label")
    assert cards.count() == 3
    wait_until(
        page,
        lambda: page.evaluate(
            "[...document.querySelectorAll('img.face-thumb')].every(i => i.naturalWidth > 0)"
        ),
        "the face pictures to load",
    )
    ranges = page.locator(".face-range").all_inner_texts()
    assert ranges == ["Face 0: 0–3000 ms", "Face 1: 500–2500 ms", "Face 2: 1200–3000 ms"]
    for n in range(3):
        card = cards.nth(n).bounding_box()
        thumb = cards.nth(n).locator("img.face-thumb").bounding_box()
        # A card is a big target holding its picture and its time range, inside the screen.
        assert card["height"] >= TOUCH_MIN and card["width"] >= 100, card
        assert card["x"] >= 0 and card["x"] + card["width"] <= 390, card
        assert thumb["width"] >= 80 and thumb["height"] >= 80, thumb
    # Two faces side by side at least: the picker is not a long single column.
    assert cards.nth(1).bounding_box()["y"] == cards.nth(0).bounding_box()["y"]
    cards.nth(2).locator("img.face-thumb").tap()  # the picture is the target, not only the dot
    assert page.is_checked("input[name=face_id][value='2']")
    assert not page.is_checked("input[name=face_id][value='0']")
    assert horizontal_overflow(page) is None
    assert csp_violations(page) == [] and page.errors == []


def test_a_kept_frame_fits_a_phone_and_its_remove_button_is_tappable(
    live_server: Any, transactional_db: None, phone_context: Any, tmp_path: Path
) -> None:
    world = build_world()
    spec = Page("kept", "/generations/new/?kind=image2video", main="#generation-form")
    page = open_page(phone_context, live_server, world, spec)
    keep_a_frame(page, tmp_path)
    kept = page.locator("#field-image [data-kept]")
    assert "kept: a-kite-photographed-over-the-dunes-at-noon.png" in kept.inner_text()
    preview = page.locator("#field-image img").bounding_box()
    assert preview["x"] >= 0 and preview["x"] + preview["width"] <= 390, preview
    assert horizontal_overflow(page) is None
    assert page.evaluate(SMALL_TARGETS, [TOUCH_MIN, CHECKBOX_MIN]) == []
    kept.locator("button[data-kept-clear]").tap()  # the frame is dropped: no token is sent
    wait_until(page, lambda: page.locator("[data-kept]").count() == 0, "the kept frame to go")
    assert not page.locator("#field-image img").is_visible()
    assert page.locator("input[name=kept_image]").count() == 0
    assert csp_violations(page) == [] and page.errors == []


def test_a_new_keys_secrets_fit_a_phone_and_copy_by_touch(
    live_server: Any, transactional_db: None, phone_context: Any
) -> None:
    world = build_world()
    page = open_page(phone_context, live_server, world, Page("keys", "/keys/", main="#key-create"))
    create_a_key(page)
    secret = page.locator("#new-secret").bounding_box()
    assert secret["x"] >= 0 and secret["x"] + secret["width"] <= 390, secret
    assert horizontal_overflow(page) is None
    assert page.evaluate(TABLES_THAT_OVERFLOW) == []
    assert page.evaluate(SMALL_TARGETS, [TOUCH_MIN, CHECKBOX_MIN]) == []
    assert page.locator("#key-create button[data-copy]").count() == 3
    assert csp_violations(page) == [] and page.errors == []
