"""In a real Chromium: the omni-video page shows the shot editor only for kling-v3-omni, sums
the shots live, and sends them with element ids as one job."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM
from tests.browser.studio_pages import csp_violations, sign_in, wait_until

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's /usr/bin/chromium is not installed"),
]

SET = "(el, v) => { el.value = v; el.dispatchEvent(new Event('change', {bubbles: true})); }"


def test_omni_shots_appear_for_v3_omni_and_are_sent(
    live_server: Any, transactional_db: None, desktop_context: Any
) -> None:
    from django.contrib.auth.models import User

    from videos.models import Generation

    member = User.objects.create_user("omni", password="pw-omni-12345")
    sign_in(desktop_context, live_server, member)
    page = desktop_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/generations/new/omni-video/")
    assert not page.is_visible("#field-multi_shot")  # kling-video-o1 does no shots
    assert page.is_visible("#field-element_list")

    page.eval_on_selector("#id_model_name", SET, "kling-v3-omni")
    wait_until(page, lambda: page.is_visible("#field-multi_shot"), "the shots section")
    page.eval_on_selector("#id_duration", SET, "5")
    assert not page.is_visible("[data-shot-editor]")
    page.check("#id_multi_shot")
    page.select_option("#id_shot_type", "customize")
    assert page.is_visible("[data-shot-editor]")
    rows = page.locator("[data-shots] [data-shot]")
    rows.nth(0).locator("input[name=multi_prompt_prompt]").fill("A door opens")
    rows.nth(0).locator("input[name=multi_prompt_duration]").fill("2")
    page.click("[data-shot-add]")
    rows.last.locator("input[name=multi_prompt_prompt]").fill("<<<element_1>>> walks in")
    rows.last.locator("input[name=multi_prompt_duration]").fill("2")
    assert page.text_content("[data-shot-total]") == "4"
    assert page.is_visible("[data-shot-mismatch]")
    rows.last.locator("input[name=multi_prompt_duration]").fill("3")
    assert not page.is_visible("[data-shot-mismatch]")
    page.fill("#id_element_list", "123")

    page.click("button[type=submit]")
    wait_until(page, lambda: Generation.objects.filter(owner=member).exists(), "the job")
    generation = Generation.objects.get(owner=member)
    assert generation.model_name == "kling-v3-omni"
    assert [s["prompt"] for s in generation.params["multi_prompt"]] == [
        "A door opens",
        "<<<element_1>>> walks in",
    ]
    assert generation.params["element_list"] == [123]
    assert errors == [] and csp_violations(page) == []
