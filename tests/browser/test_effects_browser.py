"""In a real Chromium: a member picks an effect scene, uploads a photo, and watches the five
seconds the local renderer made of it (issue 10's "Done means": an effect on a photo)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM
from tests.browser.studio_pages import csp_violations, sign_in
from tests.renders import photo

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's /usr/bin/chromium is not installed"),
]


def test_a_member_applies_an_effect_to_a_photo_and_watches_it(
    live_server: Any,
    transactional_db: None,
    desktop_context: Any,
    django_user_model: Any,
    tmp_path: Path,
) -> None:
    from videos.models import Generation, Status

    member = django_user_model.objects.create_user("ines", password="pw-ines-12345")
    picture = photo(tmp_path / "me.png", (30, 160, 60))
    sign_in(desktop_context, live_server, member)
    page = desktop_context.new_page()
    page.goto(f"{live_server.url}/generations/new/effects/")
    page.fill("#id_effect_scene", "bullet_time")
    page.set_input_files("#id_image", str(picture))
    page.click("#kind-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")  # queued: back to the gallery
    effect = Generation.objects.get(kind="effects")
    assert effect.status == Status.SUCCEEDED, effect.status_message  # the local renderer's
    assert (effect.owner, effect.params["effect_scene"]) == (member, "bullet_time")

    page.goto(f"{live_server.url}/generations/{effect.pk}/")
    page.wait_for_function("document.querySelector('#player').readyState >= 1")
    seconds = page.evaluate("document.querySelector('#player').duration")
    assert abs(seconds - 5.0) < 0.3, seconds
    assert csp_violations(page) == []
