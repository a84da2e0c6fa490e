"""In a real Chromium: the generation form shows the shot editor only for a model with shots,
sums the shots live against the clip's duration, and the job it sends appears in the gallery."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM
from tests.browser.studio_pages import csp_violations, sign_in, wait_until

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's /usr/bin/chromium is not installed"),
]


def shot_prompts(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "[data-shots] input[name=multi_prompt_prompt]", "els => els.map(e => e.value)"
    )


def test_three_shots_are_summed_live_and_the_job_appears(
    live_server: Any, transactional_db: None, desktop_context: Any
) -> None:
    from django.contrib.auth.models import User

    from videos.models import Generation

    member = User.objects.create_user("shots", password="pw-shots-12345")
    sign_in(desktop_context, live_server, member)
    page = desktop_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/generations/new/")

    # kling-v1 takes no sound and no shots: the whole box is hidden, 5 and 10 s offered.
    assert not page.is_visible("#sound-shots")
    durations = page.eval_on_selector_all("#id_duration option", "els => els.map(e => e.value)")
    assert durations == ["5", "10"]

    # Camera axes only for a simple move; kling-v1 takes a cfg_scale.
    assert not page.is_visible("#field-camera_zoom") and page.is_visible("#field-cfg_scale")
    page.select_option("#id_camera_type", "simple")
    assert page.is_visible("#field-camera_zoom")
    page.select_option("#id_camera_type", "")

    page.select_option("#id_model_name", "kling-v3")
    wait_until(page, lambda: page.is_visible("#field-multi_shot"), "the shots section")
    assert not page.is_visible("#field-cfg_scale")  # v2.x and later take none
    durations = page.eval_on_selector_all("#id_duration option", "els => els.map(e => e.value)")
    assert durations == [str(d) for d in range(3, 16)]
    assert page.is_visible("#field-sound") and not page.is_visible("#field-voice_list")
    assert not page.is_visible("[data-shot-editor]")  # until several shots are asked for
    page.select_option("#id_duration", "12")
    page.check("#id_sound")
    page.check("#id_multi_shot")
    page.select_option("#id_shot_type", "customize")
    assert page.is_visible("[data-shot-editor]")

    rows = page.locator("[data-shots] [data-shot]")
    rows.nth(0).locator("input[name=multi_prompt_prompt]").fill("A harbour at dawn")
    rows.nth(0).locator("input[name=multi_prompt_duration]").fill("4")
    for prompt, seconds in (("Gulls over the sea", "3"), ("A ferry leaves the quay", "4")):
        page.click("[data-shot-add]")
        rows.last.locator("input[name=multi_prompt_prompt]").fill(prompt)
        rows.last.locator("input[name=multi_prompt_duration]").fill(seconds)
    assert rows.count() == 3
    assert page.text_content("[data-shot-total]") == "11"
    assert page.text_content("[data-clip-duration]") == "12"
    assert page.is_visible("[data-shot-mismatch]")  # 11 of 12 s: said before sending

    rows.nth(1).locator("input[name=multi_prompt_duration]").fill("4")
    assert page.text_content("[data-shot-total]") == "12"
    assert not page.is_visible("[data-shot-mismatch]")
    rows.nth(2).locator("[data-shot-up]").click()  # the ferry before the gulls
    assert shot_prompts(page) == [
        "A harbour at dawn",
        "A ferry leaves the quay",
        "Gulls over the sea",
    ]
    assert page.eval_on_selector_all("[data-shot-number]", "els => els.map(e => e.textContent)")[
        :3
    ] == ["1", "2", "3"]

    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    generation = Generation.objects.get(owner=member)
    assert (generation.model_name, generation.duration, generation.sound) == ("kling-v3", 12, True)
    assert generation.params["multi_prompt"] == [
        {"index": 1, "prompt": "A harbour at dawn", "duration": "4"},
        {"index": 2, "prompt": "A ferry leaves the quay", "duration": "4"},
        {"index": 3, "prompt": "Gulls over the sea", "duration": "4"},
    ]
    assert page.is_visible(f"#card-{generation.pk}")
    assert errors == [] and csp_violations(page) == []
