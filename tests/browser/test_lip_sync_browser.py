"""In a real Chromium: "Lip-sync" on a finished clip shows the faces the studio found (their
pictures and times), takes a voice line, and the result plays with its sound."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM
from tests.browser.studio_pages import csp_violations, finished, sign_in
from tests.renders import audio_streams, rms, sound_file, sound_of

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's /usr/bin/chromium is not installed"),
]


def test_a_member_gives_a_face_a_voice_line_and_hears_it(
    live_server: Any,
    transactional_db: None,
    desktop_context: Any,
    django_user_model: Any,
    tmp_path: Path,
) -> None:
    from videos.models import Generation, Provider, Status

    member = django_user_model.objects.create_user("mei", password="pw-mei-12345")
    local = Provider.objects.get(name="local")
    source = finished(member, "a paper lantern", provider=local, upstream_video_id="local-1")
    voice = sound_file(tmp_path / "line.wav", 2.5, pitch=300)
    sign_in(desktop_context, live_server, member)
    page = desktop_context.new_page()
    page.goto(f"{live_server.url}/generations/{source.pk}/")
    page.click("#lip-sync-clip")
    page.wait_for_url("**/generations/new/advanced-lip-sync/?session_id=*")
    # The face the studio identified: its picture really loads, with its time range.
    page.wait_for_function("document.querySelector('img.face-thumb').naturalWidth > 0")
    assert "Face 0: 0–3000 ms" in page.inner_text(".face-range")
    assert page.is_checked("input[name=face_id][value='0']")

    page.set_input_files("#id_sound_file", str(voice))
    page.fill("#id_sound_start_time", "0")
    page.fill("#id_sound_end_time", "2000")
    page.fill("#id_sound_insert_time", "2500")  # runs past the 3 s clip: refused beside it
    page.click("#kind-form button[type=submit]")
    error = page.locator("#field-sound_insert_time .error")
    error.wait_for()
    assert "runs past the video's end (3000 ms)" in error.inner_text()
    assert page.locator("img.face-thumb").count() == 1  # the faces are still there

    page.set_input_files("#id_sound_file", str(voice))  # a re-rendered form forgets files
    page.fill("#id_sound_insert_time", "500")
    page.click("#kind-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    synced = Generation.objects.get(kind="advanced-lip-sync")
    assert synced.status == Status.SUCCEEDED, synced.status_message
    assert synced.parent == source

    page.goto(f"{live_server.url}/generations/{synced.pk}/")
    page.wait_for_function("document.querySelector('#player').readyState >= 1")
    assert abs(page.evaluate("document.querySelector('#player').duration") - 3.0) < 0.2
    stored = tmp_path / "synced.mp4"
    stored.write_bytes(synced.video.read())
    assert len(audio_streams(stored)) == 1  # the result carries the voice...
    samples = sound_of(stored)
    assert rms(samples, 0.1, 0.4) < 0.01 and rms(samples, 0.8, 2.2) > 0.05  # ...from 0.5 s
    assert csp_violations(page) == []
