"""In a real Chromium: the image-to-video form follows the chosen model, previews the chosen
frame, keeps it when another field fails, and sends it once the error is fixed (issue 9)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM
from tests.browser.studio_pages import csp_violations, sign_in, wait_until
from tests.images import image_bytes

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's /usr/bin/chromium is not installed"),
]


def durations(page: Any) -> list[str]:
    return page.eval_on_selector_all("#id_duration option", "els => els.map(e => e.value)")


def test_the_form_follows_the_model_previews_and_keeps_the_frame(
    live_server: Any, transactional_db: None, desktop_context: Any, tmp_path: Path
) -> None:
    from django.contrib.auth.models import User

    from videos.models import Generation

    frame = image_bytes(640, 360, fmt="PNG", color=(30, 140, 90))
    picked = tmp_path / "kite.png"
    picked.write_bytes(frame)
    member = User.objects.create_user("frames", password="pw-frames-12345")
    sign_in(desktop_context, live_server, member)
    page = desktop_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/generations/new/?kind=image2video")

    # The durations are the chosen model's.
    page.select_option("#id_model_name", "kling-v1-6")
    wait_until(page, lambda: durations(page) == ["5", "10"], "kling-v1-6's durations")
    page.select_option("#id_model_name", "kling-v3")
    wait_until(page, lambda: durations(page) == [str(d) for d in range(3, 16)], "kling-v3's")
    page.select_option("#id_model_name", "kling-v1-6")
    wait_until(page, lambda: durations(page) == ["5", "10"], "kling-v1-6's again")

    # A picked frame shows at once, from the page itself.
    preview = "#field-image [data-frame-preview]"
    assert not page.is_visible(preview)
    page.set_input_files("#id_image", str(picked))
    wait_until(page, lambda: page.is_visible(preview), "the preview")
    assert page.get_attribute(preview, "src").startswith("blob:")
    wait_until(
        page, lambda: page.eval_on_selector(preview, "img => img.naturalWidth") == 640, "decoded"
    )

    # A prompt citing a voice that is not there fails; the frame is kept, with its preview.
    page.fill("#id_prompt", "<<<voice_1>>> a kite rises over the dunes")
    page.click("button[type=submit]")
    wait_until(page, lambda: page.is_visible("#field-prompt .error"), "the prompt's error")
    assert "kept: kite.png" in page.text_content("#field-image")
    assert "/generations/kept/" in page.get_attribute(preview, "src")
    wait_until(
        page, lambda: page.eval_on_selector(preview, "img => img.naturalWidth") == 640, "kept"
    )
    assert not Generation.objects.exists()

    # The prompt fixed, nothing picked again: the job is created with the kept frame's bytes.
    page.fill("#id_prompt", "a kite rises over the dunes")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    generation = Generation.objects.get(owner=member)
    assert (generation.kind, generation.model_name) == ("image2video", "kling-v1-6")
    with generation.image.open("rb") as stored:
        assert stored.read() == frame
    assert errors == [] and csp_violations(page) == []
