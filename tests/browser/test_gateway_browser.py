"""An OpenAI-style gateway from the browser (issue 11 "Done means"): the admin adds one
openai-video provider serving a Seedance model and MiniMax-Hailuo-02 (the simulator, shape
openai-video, on 127.0.0.1); a creator picks Hailuo in the web form, and the card plays the
gateway's MP4 from the studio's own storage. A failed job shows the gateway's reason."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from simulator import Simulator
from simulator.clip import clip_bytes
from tests.browser.conftest import skip_without_chromium
from tests.browser.studio_pages import csp_violations, sign_in, wait_until

pytestmark = [pytest.mark.browser, skip_without_chromium()]

HAILUO = "MiniMax-Hailuo-02"
SEEDANCE = "doubao-seedance-2-0-fast-720p"


class Worker:
    """The worker's due loop (what the django-q2 schedule runs), in a thread of the test."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        from django.db import connection

        from videos.tasks import run_due_once

        while not self.stop.is_set():
            run_due_once()
            self.stop.wait(0.3)
        connection.close()

    def __enter__(self) -> Worker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


@pytest.fixture
def gateway(transactional_db: None, settings: Any) -> Iterator[Simulator]:
    """The simulator as an OpenAI-style gateway, added as the admin would add it."""
    from django.contrib.auth.models import User

    from videos.models import Provider

    settings.STUDIO_POLL_SCALE = 0.1  # poll within a second, not the model's 3 minutes
    User.objects.create_superuser("root", password="pw-root-12345")
    Provider.objects.filter(kind=Provider.Kind.LOCAL).update(enabled=False)
    with Simulator(shape="openai-video", host="127.0.0.1") as sim:
        call_command(
            "provider", "add", "--kind", "openai-video", "--name", "gw-openai",
            "--base-url", sim.url, "--api-key", sim.api_key,
            "--models", f"{SEEDANCE},{HAILUO}", "--model-map", f"{HAILUO}=minimax/hailuo-02",
            "--by", "root",
        )  # fmt: skip
        yield sim


def submit_hailuo(context: Any, live_server: Any, prompt: str) -> Any:
    """A creator fills the web form for Hailuo (6 s, its shortest) and sends it."""
    page = context.new_page()
    page.goto(live_server.url + "/generations/new/")
    models = page.locator("#id_model_name option").all_inner_texts()
    assert any(SEEDANCE in m for m in models) and any(HAILUO in m for m in models)
    page.select_option("#id_model_name", HAILUO)
    page.select_option("#id_duration", "6")
    page.fill("#id_prompt", prompt)
    page.click("button[type=submit]:has-text('Generate')")
    page.wait_for_url(live_server.url + "/")
    return page


def test_a_creator_makes_a_hailuo_video_through_the_gateway_and_the_card_plays_it(
    desktop_context: Any, live_server: Any, gateway: Simulator, monkeypatch: Any
) -> None:
    from django.contrib.auth.models import User

    from videos import creation
    from videos.models import Generation

    # Jobs go to the worker thread only, as with a separate worker process.
    monkeypatch.setattr(creation, "enqueue_submit", lambda pk: None)
    sign_in(desktop_context, live_server, User.objects.create_user("mei", password="pw-mei-123"))
    page = submit_hailuo(desktop_context, live_server, "a kite over the dunes at dusk")
    generation = Generation.objects.get()
    assert generation.model_name == HAILUO and generation.duration == 6
    card = page.locator(f"#card-{generation.pk}")
    assert card.get_attribute("data-status") == "queued"

    with Worker():
        wait_until(page, lambda: card.locator("video").count() == 1, "the video", seconds=60)

    assert card.get_attribute("data-status") == "succeeded"
    [task] = gateway.tasks
    assert task.body["model"] == "minimax/hailuo-02" and task.body["seconds"] == "6"
    assert gateway.counts["create"] == 1
    # The gateway's MP4, copied into the studio's storage (not a link to the gateway).
    generation.refresh_from_db()
    with default_storage.open(generation.video.name, "rb") as fh:
        stored = fh.read()
    assert stored[4:8] == b"ftyp" and stored == clip_bytes()
    video = card.locator("video")
    assert gateway.url not in (video.get_attribute("src") or "") + card.inner_html()
    video.evaluate("v => { v.muted = true; return v.play(); }")
    wait_until(page, lambda: video.evaluate("v => v.currentTime") > 0.3, "the video to play")
    assert video.evaluate("v => [v.videoWidth > 0, v.paused]") == [True, False]
    assert csp_violations(page) == []


def test_the_gateway_s_failure_reason_shows_on_the_card(
    desktop_context: Any, live_server: Any, gateway: Simulator
) -> None:
    from django.contrib.auth.models import User

    from videos.models import Generation

    sign_in(desktop_context, live_server, User.objects.create_user("mei", password="pw-mei-123"))
    page = submit_hailuo(desktop_context, live_server, "sim:fail a kite over the dunes")
    generation = Generation.objects.get()
    card = page.locator(f"#card-{generation.pk}")
    with Worker():
        wait_until(
            page, lambda: card.get_attribute("data-status") == "failed", "the failure", seconds=60
        )
    reason = "simulated failure: the video could not be generated"
    wait_until(page, lambda: reason[:40] in card.inner_text(), "the reason on the card")
    assert reason in (card.locator(".foot .error").get_attribute("title") or "")
    assert card.locator("video").count() == 0
    assert gateway.counts["create"] == 1
