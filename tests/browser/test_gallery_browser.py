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
    # A teammate's queued job and no worker: it stays pending, so the page keeps polling for
    # it. (Not dave's own: the gallery keeps a slow poll in a background tab for those, to
    # tell him when they are done; see test_my_job_done_in_a_background_tab_is_announced.)
    teammate = User.objects.create_user("erin")
    pending = Generation.objects.create(owner=teammate, prompt="a kite over dunes")
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


# ---- the team's live gallery (issue 9) ---------------------------------------------------------
# A stand-in for the browser's Notification API, installed before any page script (through
# the DevTools protocol, so the CSP does not apply): headless Chromium cannot show one, and
# the test must see what the page asked for.
FAKE_NOTIFICATIONS = """
window.__notes = [];
window.__permission = "default";
class FakeNotification {
  constructor(title, options) { window.__notes.push([title, (options || {}).body || ""]); }
  static get permission() { return window.__permission; }
  static requestPermission() { window.__permission = "granted"; return Promise.resolve("granted"); }
}
window.Notification = FakeNotification;
"""


@pytest.fixture
def gallery_page(desktop_context, live_server, transactional_db):
    """A signed-in member ("mei") on a desktop-sized page, and a teammate ("bob")."""
    from django.contrib.auth.models import User

    from tests.browser.studio_pages import sign_in

    mei = User.objects.create_user("mei", password="pw-mei-12345")
    bob = User.objects.create_user("bob", password="pw-bob-12345")
    desktop_context.add_init_script(FAKE_NOTIFICATIONS)
    sign_in(desktop_context, live_server, mei)
    page = desktop_context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and page.errors.append(msg.text))
    return page, mei, bob


def wait_for(page, predicate, what: str, seconds: float = 20) -> None:
    from tests.browser.studio_pages import wait_until

    wait_until(page, predicate, what, seconds)


def test_a_teammates_new_job_appears_without_a_reload(gallery_page, live_server) -> None:
    from tests.browser.studio_pages import csp_violations, finished
    from videos.models import Generation

    page, mei, bob = gallery_page
    finished(mei, "my finished lantern")  # nothing of mine is pending: the calm poll runs
    page.goto(f"{live_server.url}/")
    page.evaluate("window.__notReloaded = true")
    job = Generation.objects.create(owner=bob, prompt="bob's kite over the harbour")
    card = page.locator(f"#card-{job.pk}")
    wait_for(page, lambda: card.count() == 1, "bob's card", seconds=15)
    assert "bob's kite over the harbour" in card.inner_text()
    assert page.locator("#gallery-grid > article").first.get_attribute("id") == f"card-{job.pk}"
    assert page.evaluate("window.__notReloaded") is True
    # Now pending and watched: its end shows too, still without a reload.
    assert job.mark_failed("the upstream refused it")
    wait_for(page, lambda: card.get_attribute("data-status") == "failed", "the failed status")
    assert page.evaluate("window.__notReloaded") is True
    assert csp_violations(page) == [] and page.errors == []


def test_hovering_a_card_plays_its_muted_preview(gallery_page, live_server) -> None:
    from tests.browser.studio_pages import csp_violations, finished

    page, mei, _bob = gallery_page
    clip = finished(mei, "a lantern to preview")
    page.goto(f"{live_server.url}/")
    video = page.locator(f"#card-{clip.pk} video")
    assert video.evaluate("v => [v.controls, v.muted, v.paused]") == [False, True, True]
    assert video.get_attribute("poster").endswith(f"/generations/{clip.pk}/media/poster/")
    page.locator(f"#card-{clip.pk} .thumb").hover()
    wait_for(page, lambda: video.evaluate("v => v.currentTime") > 0.3, "the preview to play")
    assert video.evaluate("v => !v.paused && v.muted")
    page.mouse.move(0, 0)  # leave the card
    wait_for(page, lambda: video.evaluate("v => v.paused"), "the preview to stop")
    assert csp_violations(page) == [] and page.errors == []


def test_cancelling_a_queued_job_from_its_card(gallery_page, live_server) -> None:
    from tests.browser.studio_pages import csp_violations
    from videos.models import Generation

    page, mei, _bob = gallery_page
    job = Generation.objects.create(owner=mei, prompt="a job I changed my mind about")
    page.goto(f"{live_server.url}/")
    page.evaluate("window.__notReloaded = true")
    card = page.locator(f"#card-{job.pk}")
    card.locator("button:has-text('Cancel')").click()
    wait_for(page, lambda: card.get_attribute("data-status") == "cancelled", "the cancelled card")
    # The card's own answer says "Cancelled."; the next poll may already have replaced it with
    # the plain cancelled card. Either way it stays cancelled, with nothing left to cancel.
    page.wait_for_timeout(2500)
    assert card.get_attribute("data-status") == "cancelled"
    assert card.locator("button:has-text('Cancel')").count() == 0
    assert page.evaluate("window.__notReloaded") is True
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert csp_violations(page) == [] and page.errors == []


def hide(page, hidden: bool) -> None:
    hide_tab(page, hidden)


def test_my_job_done_in_a_background_tab_is_announced(gallery_page, live_server) -> None:
    from tests.browser.studio_pages import csp_violations
    from videos.models import Generation

    page, mei, _bob = gallery_page
    job = Generation.objects.create(owner=mei, prompt="a lantern for the notice")
    page.goto(f"{live_server.url}/")
    title = page.title()
    button = page.locator("#notify-me")
    assert button.is_visible()  # permission not asked yet: the button offers it
    button.click()
    wait_for(page, lambda: not button.is_visible(), "the button to go once allowed")

    hide(page, True)
    assert job.mark_failed("out of credit upstream")
    # In the background the gallery polls every 10 s for my pending jobs.
    wait_for(page, lambda: page.title().startswith("(1)"), "the title to count it", seconds=25)
    assert "1 job done" in page.title()
    icon = page.locator('link[rel="icon"][type="image/svg+xml"]').get_attribute("href")
    assert icon.endswith("favicon-done.svg")
    assert page.evaluate("window.__notes") == [["Job failed", "a lantern for the notice"]]

    hide(page, False)
    assert page.title() == title
    icon = page.locator('link[rel="icon"][type="image/svg+xml"]').get_attribute("href")
    assert icon.endswith("favicon.svg")
    assert csp_violations(page) == [] and page.errors == []


def test_a_job_done_while_i_watch_needs_no_notice(gallery_page, live_server) -> None:
    from videos.models import Generation

    page, mei, _bob = gallery_page
    job = Generation.objects.create(owner=mei, prompt="watched as it ends")
    page.goto(f"{live_server.url}/")
    title = page.title()
    assert job.mark_failed("nope")
    card = page.locator(f"#card-{job.pk}")
    wait_for(page, lambda: card.get_attribute("data-status") == "failed", "the failed card")
    assert page.title() == title and page.evaluate("window.__notes") == []


def test_a_first_tap_plays_the_preview_and_a_second_opens_the_video(
    phone_context, live_server, transactional_db
) -> None:
    from django.contrib.auth.models import User

    from tests.browser.studio_pages import csp_violations, finished, sign_in

    mei = User.objects.create_user("mei", password="pw-mei-12345")
    clip = finished(mei, "a lantern to tap")
    sign_in(phone_context, live_server, mei)
    page = phone_context.new_page()
    page.goto(f"{live_server.url}/")
    thumb = page.locator(f"#card-{clip.pk} .thumb")
    video = thumb.locator("video")
    thumb.tap()
    wait_for(page, lambda: video.evaluate("v => v.currentTime") > 0.3, "the preview to play")
    assert page.url == f"{live_server.url}/"  # the first tap did not leave the gallery
    thumb.tap()
    page.wait_for_url(f"{live_server.url}/generations/{clip.pk}/")
    assert csp_violations(page) == []
