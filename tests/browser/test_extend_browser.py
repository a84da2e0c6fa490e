"""In a real Chromium: a finished clip's "Extend" leads to the extend form, and the extension
plays as the whole clip, five seconds longer, linked to its parent."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM
from tests.browser.studio_pages import csp_violations, finished, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's /usr/bin/chromium is not installed"),
]


def test_a_member_extends_a_finished_clip_and_watches_the_longer_video(
    live_server: Any, transactional_db: None, desktop_context: Any, django_user_model: Any
) -> None:
    from videos.models import Generation, Provider, Status

    member = django_user_model.objects.create_user("mei", password="pw-mei-12345")
    local = Provider.objects.get(name="local")
    source = finished(
        member,
        "a paper lantern",
        model_name="kling-v1-6",
        provider=local,
        upstream_video_id="local-1",
    )
    sign_in(desktop_context, live_server, member)
    page = desktop_context.new_page()
    page.goto(f"{live_server.url}/generations/{source.pk}/")
    page.click("#extend-clip")
    page.wait_for_url(f"**/generations/new/video-extend/?video_id={source.pk}")
    assert page.input_value("#id_video_id") == str(source.pk)
    page.fill("#id_prompt", "the lantern drifts up into the dark")
    page.click("#kind-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")  # queued: back to the gallery
    child = Generation.objects.get(kind="video-extend")
    assert child.status == Status.SUCCEEDED, child.status_message  # rendered by the local renderer

    page.goto(f"{live_server.url}/generations/{child.pk}/")
    page.wait_for_function("document.querySelector('#player').readyState >= 1")
    seconds = page.evaluate("document.querySelector('#player').duration")
    assert abs(seconds - (source.video_duration + 5)) < 0.3, seconds
    parent_link = page.locator(f"a[href='/generations/{source.pk}/']")
    assert parent_link.count() >= 1
    assert csp_violations(page) == []
