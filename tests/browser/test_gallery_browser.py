"""In a real Chromium: log in, submit a text-to-video, watch its card turn into a playing video."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator

import pytest

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None
)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Debian's chromium is not installed (make test installs it as root)",
    ),
]
# Playwright's sync API runs an event loop; Django refuses ORM calls from it otherwise.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def page(tmp_path) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context()
        yield context.new_page()
        context.close()
        browser.close()


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
            time.sleep(0.3)
        connection.close()

    def __enter__(self) -> Worker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def test_a_member_watches_a_new_job_become_a_playing_video(
    live_server, page, transactional_db, monkeypatch
) -> None:
    from django.contrib.auth.models import User

    from videos import creation
    from videos.models import Generation

    User.objects.create_user("carol", password="pw-carol-123")
    # Hand jobs to the worker thread only (not inline in the request) so the page
    # first shows the job pending, as it would with a separate worker process.
    monkeypatch.setattr(creation, "enqueue_submit", lambda pk: None)

    violations: list[str] = []
    page.on(
        "console", lambda msg: "Content Security Policy" in msg.text and violations.append(msg.text)
    )
    page.goto(f"{live_server.url}/")
    page.fill("input[name=username]", "carol")
    page.fill("input[name=password]", "pw-carol-123")
    page.click("button[type=submit]")
    page.click("text=New text to video")
    page.fill("textarea[name=prompt]", "a lantern floating over a dark lake")
    page.click("button[type=submit]:has-text('Generate')")

    page.wait_for_url(f"{live_server.url}/")
    generation = Generation.objects.get()
    card = page.locator(f"#card-{generation.pk}")
    assert "a lantern floating over a dark lake" in card.inner_text()
    assert card.get_attribute("data-status") == "queued"
    assert card.locator("video").count() == 0
    page.evaluate("window.__notReloaded = true")

    with Worker():
        page.wait_for_selector(f"#card-{generation.pk} video", timeout=60_000)

    assert page.evaluate("window.__notReloaded") is True  # htmx swapped the card in place
    assert card.get_attribute("data-status") == "succeeded"
    video = card.locator("video")
    video.evaluate("v => { v.muted = true; return v.play(); }")
    # Poll from Python: wait_for_function evaluates strings, which our CSP forbids.
    deadline = time.monotonic() + 20
    while video.evaluate("v => v.currentTime") <= 0.5 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert video.evaluate("v => v.currentTime") > 0.5
    width, paused = video.evaluate("v => [v.videoWidth, v.paused]")
    assert width == 1280 and paused is False
    assert "0 running" in page.locator("#running-badge").inner_text()
    page.goto(f"{live_server.url}/generations/{generation.pk}/")
    page.wait_for_selector("video#player")
    assert violations == []  # every page so far satisfied the Content-Security-Policy


def log_in(page, live_server, username: str) -> None:
    """Sign in through the real login form (sets the session cookie in the browser)."""
    from django.contrib.auth.models import User

    User.objects.create_user(username, password=f"pw-{username}-123")
    page.goto(f"{live_server.url}/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"pw-{username}-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def count_during(page, requests: list[str], seconds: int) -> int:
    """How many poll requests the page sent during a window of `seconds` (browser time)."""
    before = len(requests)
    page.wait_for_timeout(seconds * 1000)
    return len(requests) - before


def hide_tab(page, hidden: bool) -> None:
    """What a browser does when the tab goes to the background, and back."""
    state = "hidden" if hidden else "visible"
    page.evaluate(
        """state => {
            const define = (name, value) =>
                Object.defineProperty(document, name, {value: value, configurable: true});
            define("visibilityState", state);
            define("hidden", state === "hidden");
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        state,
    )


@pytest.mark.parametrize("where", ["gallery", "detail"])
def test_a_pending_job_is_polled_every_two_seconds_and_not_in_a_hidden_tab(
    live_server, page, transactional_db, where: str
) -> None:
    from django.contrib.auth.models import User

    from videos.models import Generation

    log_in(page, live_server, "dave")
    # A queued job and no worker: it stays pending, so the page keeps polling for it.
    pending = Generation.objects.create(
        owner=User.objects.get(username="dave"), prompt="a kite over dunes"
    )
    poll_marker = "watch=" if where == "gallery" else f"/generations/{pending.pk}/"
    polls: list[str] = []
    page.on(
        "request",
        lambda r: r.headers.get("hx-request") and poll_marker in r.url and polls.append(r.url),
    )
    page.goto(live_server.url + ("/" if where == "gallery" else pending.get_absolute_url()))
    page.wait_for_selector(f"#card-{pending.pk}" if where == "gallery" else "#generation-status")

    # The template promises one request per 2 s: at most N/2 + 1 in any N seconds, and
    # at least one (so the page does poll). A slow machine only makes fewer requests.
    window = 8
    sent = count_during(page, polls, window)
    assert 1 <= sent <= window // 2 + 1, f"{sent} poll requests in {window} s"

    hide_tab(page, True)
    page.wait_for_timeout(1000)  # a request already in flight may still be reported
    assert count_during(page, polls, 6) == 0  # nothing while nobody can see the page

    hide_tab(page, False)
    assert count_during(page, polls, 4) >= 1  # polling resumes when the tab is shown again
