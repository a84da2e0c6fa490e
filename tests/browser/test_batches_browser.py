"""A batch in a real browser: `{red|blue} kite` with 2 variants shows "4 jobs" and its cost
before anything is sent, asks to confirm above the threshold, and lands as 4 grouped cards."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import skip_without_chromium
from tests.browser.studio_pages import csp_violations, sign_in, wait_until

pytestmark = [pytest.mark.browser, skip_without_chromium()]


def estimate_text(page: Any) -> str:
    return page.inner_text("#estimate")


def test_a_batch_shows_its_cost_asks_to_confirm_and_lands_grouped(
    desktop_context: Any, live_server: Any, transactional_db: None, monkeypatch: Any
) -> None:
    from django.contrib.auth.models import User

    from videos import creation
    from videos.models import Generation

    # No worker: the jobs stay queued, as they are the moment the gallery first shows them.
    monkeypatch.setattr(creation, "enqueue_submit", lambda pk: None)
    sign_in(desktop_context, live_server, User.objects.create_user("mei", password="pw-mei-123"))
    page = desktop_context.new_page()
    page.goto(live_server.url + "/generations/new/")
    page.locator("#id_prompt").press_sequentially("{red|blue} kite", delay=10)
    page.select_option("#id_variants", "2")
    wait_until(page, lambda: "4 jobs, 4.00 units" in estimate_text(page), "the batch estimate")
    assert "1.00 units each" in estimate_text(page)
    assert page.locator("#id_confirm_cost").count() == 0  # 4 units: under the threshold

    page.select_option("#id_mode", "pro")
    wait_until(page, lambda: "4 jobs, 14.00 units" in estimate_text(page), "the pro estimate")
    assert "more than 10 units" in estimate_text(page)
    assert page.locator("#id_confirm_cost").is_visible()
    assert Generation.objects.count() == 0  # nothing sent while the estimate changes

    # Sent without confirming: the server refuses it beside the confirmation.
    page.click("button[type=submit].big")
    wait_until(
        page,
        lambda: "tick “Yes, spend this” to send it" in page.inner_text("#field-confirm_cost"),
        "the server's refusal",
    )
    assert Generation.objects.count() == 0

    page.check("#id_confirm_cost")
    page.click("button[type=submit].big")
    page.wait_for_url(live_server.url + "/")
    wait_until(page, lambda: page.locator("article.gen.in-batch").count() == 4, "4 cards")
    badges = sorted(page.locator("article.gen .badge.batch").all_inner_texts())
    assert badges == ["1 of 4", "2 of 4", "3 of 4", "4 of 4"]
    batch_ids = set(
        page.locator("article.gen .badge.batch").evaluate_all(
            "nodes => nodes.map(n => n.dataset.batch)"
        )
    )
    rows = list(Generation.objects.order_by("batch_index"))
    assert batch_ids == {str(rows[0].batch_id)}
    assert [g.prompt for g in rows] == ["red kite", "red kite", "blue kite", "blue kite"]
    assert {g.mode for g in rows} == {"pro"}
    assert "Queued 4 jobs: {red|blue} kite." in page.inner_text(".messages")
    assert csp_violations(page) == []
