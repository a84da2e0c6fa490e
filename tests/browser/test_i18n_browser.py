"""In a real Chromium: a phone user switches the studio to Chinese from the menu, the choice
follows them to another device, and the Chinese pages still pass axe-core."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM, PHONE, RECORD_CSP_VIOLATIONS
from tests.browser.studio_pages import (
    PAGES,
    build_world,
    csp_violations,
    horizontal_overflow,
    open_page,
    sign_in,
    wait_until,
)
from tests.browser.test_accessibility_browser import AXE, serious_violations

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's /usr/bin/chromium is not installed"),
]

GALLERY = PAGES[0]


def open_menu(page: Any) -> None:
    page.locator("header.topbar summary").tap()
    wait_until(page, lambda: page.locator("header.topbar nav a").first.is_visible(), "the menu")


def test_a_phone_user_switches_to_chinese_in_the_menu_and_it_is_remembered(
    live_server: Any, transactional_db: None, chromium: Any
) -> None:
    world = build_world()
    phone = chromium.new_context(**PHONE, locale="en-US")
    phone.add_init_script(RECORD_CSP_VIOLATIONS)
    phone.add_init_script(path=str(AXE))
    page = open_page(phone, live_server, world, GALLERY)
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("main h1").inner_text() == "Gallery"

    open_menu(page)
    switch = page.locator("header.topbar form.language-switch")
    assert switch.is_visible()
    switch.locator("select").select_option("zh-hans")
    switch.locator("button").tap()
    page.wait_for_load_state()
    wait_until(page, lambda: page.locator("html").get_attribute("lang") == "zh-hans", "Chinese")

    assert page.url == live_server.url + "/"  # back on the page it was switched from
    assert page.locator("main h1").inner_text() == "作品库"
    assert page.title() == "作品库 · 工作室"
    assert "已完成" in page.locator("#gallery-grid").inner_text()  # status words too
    assert not page.locator("header.topbar nav a").first.is_visible()  # the menu folded again
    open_menu(page)
    nav = page.locator("header.topbar nav").inner_text()
    assert "历史" in nav and "我的密钥" in nav and "History" not in nav
    assert switch.locator("select").input_value() == "zh-hans"
    assert horizontal_overflow(page) is None
    # The Chinese page, its open menu included, passes axe as the English one does.
    found = serious_violations(page)
    assert found == [], "\n".join(found)
    assert csp_violations(page) == [] and page.errors == []
    phone.close()

    # Another device with an English browser: the member's choice comes along at sign-in.
    laptop = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    laptop.add_init_script(RECORD_CSP_VIOLATIONS)
    sign_in(laptop, live_server, world.member)
    other = laptop.new_page()
    other.goto(live_server.url + "/history/")
    assert other.locator("html").get_attribute("lang") == "zh-hans"
    assert other.locator("main h1").inner_text() == "历史"
    switch = other.locator("header.topbar form.language-switch")
    assert switch.is_visible()  # on a wide screen it sits in the bar, no menu to open
    switch.locator("select").select_option("en")
    switch.locator("button").click()
    wait_until(other, lambda: other.locator("html").get_attribute("lang") == "en", "English")
    assert other.locator("main h1").inner_text() == "History"
    assert csp_violations(other) == []
    laptop.close()


def test_the_login_page_offers_the_switch_and_follows_a_chinese_browser(
    live_server: Any, transactional_db: None, chromium: Any
) -> None:
    context = chromium.new_context(**PHONE, locale="zh-CN")
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    page.goto(live_server.url + "/login/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert page.locator("main h1").inner_text() == "登录工作室"
    header = page.locator("header.topbar").bounding_box()
    assert header["height"] <= 64, header
    assert horizontal_overflow(page) is None
    found = serious_violations(page)
    assert found == [], "\n".join(found)
    assert csp_violations(page) == []
    context.close()
