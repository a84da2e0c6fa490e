"""In a real Chromium: filter the history, open two generations in compare, play them in sync."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's /usr/bin/chromium is not installed"),
]
# Playwright's sync API runs an event loop; Django refuses ORM calls from it otherwise.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

REVIEW_CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip


@pytest.fixture
def review_page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=REVIEW_CHROMIUM_ARGS, headless=True
        )
        context = browser.new_context()
        yield context
        context.close()
        browser.close()


def finished_generation(owner: Any, prompt: str, seconds: int) -> Any:
    """A succeeded generation with a real (small) MP4 and poster from the local renderer."""
    from videos.models import Generation
    from videos.rendering import RenderSpec, render_video
    from videos.tasks import store_files

    generation = Generation.objects.create(
        owner=owner, prompt=prompt, duration=seconds, status="processing"
    )
    with tempfile.TemporaryDirectory() as tmp:
        video, poster = Path(tmp) / "video.mp4", Path(tmp) / "poster.jpg"
        meta = render_video(
            RenderSpec(prompt=prompt, duration=seconds, aspect_ratio="1:1"), str(video), str(poster)
        )
        video_name, poster_name = store_files(generation, video, poster)
    assert generation.mark_succeeded(video=video_name, poster=poster_name, meta=meta)
    return generation


def test_a_member_filters_history_and_compares_two_videos_in_sync(
    live_server: Any, transactional_db: None, review_page: Any
) -> None:
    from django.contrib.auth.models import User
    from django.test import Client

    alice = User.objects.create_user("alice", password="pw-alice-123")
    first = finished_generation(alice, "paper lantern over a calm lake", 3)
    second = finished_generation(alice, "paper lantern in a windy street", 4)
    finished_generation(alice, "a red kite on a beach", 3)

    client = Client()
    client.force_login(alice)
    review_page.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = review_page.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # Filter: typing updates the results with htmx and puts the search in the URL.
    page.goto(f"{live_server.url}/history/")
    assert page.locator("tr.history-row").count() == 3
    page.fill("#id_q", "lantern")
    page.wait_for_url("**/history/?*q=lantern*")
    page.wait_for_function("document.querySelectorAll('tr.history-row').length === 2")
    shown = sorted(
        int(x)
        for x in page.locator("tr.history-row").evaluate_all("rows => rows.map(r => r.dataset.id)")
    )
    assert shown == sorted([first.pk, second.pk])
    page.select_option("#id_status", "succeeded")  # a select filter reloads on change
    page.wait_for_url("**/history/?*status=succeeded*")
    assert page.locator("tr.history-row").count() == 2

    # Compare the two.
    page.check(f"input[name=ids][value='{first.pk}']")
    page.check(f"input[name=ids][value='{second.pk}']")
    page.click("text=Compare selected")
    page.wait_for_url("**/compare/?*")
    assert page.locator("video.compare-video").count() == 2
    # The prompt diff, word by word (the baseline is the first selected in page order).
    html = page.content()
    html = html[html.index('class="prompt-row"') :]
    html = html[: html.index("</tr>")]
    assert "<span>paper lantern</span>" in html
    changed = re.findall(r"<(ins|del)>([^<]*)</(?:ins|del)>", html)
    assert {kind for kind, _ in changed} == {"ins", "del"}
    assert "lantern" not in " ".join(words for _, words in changed)
    page.wait_for_function(
        "Array.from(document.querySelectorAll('video.compare-video')).every(v => v.readyState >= 2)"
    )

    # Play all: both clocks advance together.
    page.click("[data-sync=toggle]")
    times = "Array.from(document.querySelectorAll('video.compare-video')).map(v => v.currentTime)"
    samples = []
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        samples.append(page.evaluate(times))
        page.wait_for_timeout(250)  # never time.sleep: Playwright's loop must keep running
    assert samples[-1][0] > 1.0 and samples[-1][1] > 1.0, samples
    assert all(b[0] >= a[0] for a, b in zip(samples, samples[1:], strict=False)), samples
    drift = max(abs(x - y) for x, y in samples)
    assert drift < 0.2, samples

    # Pause all: both stop at the same moment; seeking moves both.
    page.click("[data-sync=toggle]")
    paused = page.evaluate(
        "Array.from(document.querySelectorAll('video.compare-video')).map(v => v.paused)"
    )
    assert paused == [True, True]
    page.eval_on_selector(
        "[data-sync=seek]", "el => { el.value = '0.5'; el.dispatchEvent(new Event('input')); }"
    )
    page.wait_for_function(f"{times}.every(t => Math.abs(t - 0.5) < 0.05)")
    assert errors == []
