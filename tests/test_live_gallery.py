"""The gallery as the team's live board: a calm changed-since poll, filters, load more,
previews instead of full players, and cancelling a queued job from its card."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from videos.models import Generation, Project, Status

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
POLL = {"HTTP_HX_TARGET": "gallery-poll", **HTMX}


def poll_url(html: str) -> str:
    """The URL the page's poll element asks next (as htmx would read it)."""
    trigger = re.search(r'<div id="gallery-poll"[^>]*>', html).group(0)
    return html_lib.unescape(re.search(r'hx-get="([^"]*)"', trigger).group(1))


def poll_trigger(html: str) -> str:
    return re.search(r'<div id="gallery-poll"[^>]*>', html).group(0)


def card_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<article id="card-(\d+)"', html)]


def test_a_teammates_new_job_arrives_though_none_of_mine_is_pending(
    alice_client, make_generation, other_user
) -> None:
    make_generation(status=Status.SUCCEEDED, prompt="my finished fox")
    page = alice_client.get("/").content.decode()
    assert 'data-poll="5000"' in poll_trigger(page)  # calm, but polling
    teammate = make_generation(owner=other_user, prompt="bob's lighthouse at dusk")
    response = alice_client.get(poll_url(page), **POLL)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert 'hx-swap-oob="afterbegin:#gallery-grid"' in html
    assert f'id="card-{teammate.pk}"' in html and "bob&#x27;s lighthouse at dusk" in html
    # Now a card is pending: the next poll watches it, every 2 s.
    assert f"watch={teammate.pk}" in poll_url(html) and 'data-poll="2000"' in poll_trigger(html)


def test_a_poll_with_nothing_new_is_an_empty_204(alice_client, make_generation) -> None:
    done = make_generation(status=Status.SUCCEEDED)
    # Older than the poll's look-back (a change committed late is sent twice, never lost).
    Generation.objects.filter(pk=done.pk).update(updated_at=timezone.now() - timedelta(seconds=10))
    page = alice_client.get("/").content.decode()
    with CaptureQueriesContext(connection) as queries:
        response = alice_client.get(poll_url(page), **POLL)
    assert response.status_code == 204 and response.content == b""
    # session, user, filter choices (models), new cards, changed cards: nothing per card
    assert len(queries) <= 6, [q["sql"][:80] for q in queries.captured_queries]


def test_a_changed_card_comes_back_in_place(alice_client, make_generation, user) -> None:
    done = make_generation(status=Status.SUCCEEDED, prompt="a finished kite")
    page = alice_client.get("/").content.decode()
    url = poll_url(page)
    project = Project.objects.create(name="Kites", created_by=user)
    done.move_to(project)
    html = alice_client.get(url, **POLL).content.decode()
    card = re.search(rf'<article id="card-{done.pk}"[^>]*>', html).group(0)
    assert 'hx-swap-oob="true"' in card
    assert "Kites" in html and "afterbegin" not in html  # updated in place, not added


def test_a_change_from_long_ago_is_not_sent_again(alice_client, make_generation) -> None:
    old = make_generation(status=Status.SUCCEEDED)
    Generation.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    page = alice_client.get("/").content.decode()
    assert alice_client.get(poll_url(page), **POLL).status_code == 204


def test_my_pending_job_keeps_a_slow_poll_in_a_background_tab(
    alice_client, make_generation, other_user
) -> None:
    make_generation(owner=other_user)  # a teammate's pending job: not mine to be told about
    assert "data-poll-hidden" not in poll_trigger(alice_client.get("/").content.decode())
    make_generation()
    trigger = poll_trigger(alice_client.get("/").content.decode())
    assert 'data-poll-hidden="10000"' in trigger and 'data-poll="2000"' in trigger


def test_my_cards_are_marked_for_done_notices(alice_client, make_generation, other_user) -> None:
    mine = make_generation()
    theirs = make_generation(owner=other_user)
    html = alice_client.get("/").content.decode()
    assert "data-mine" in re.search(rf'<article id="card-{mine.pk}"[^>]*>', html).group(0)
    assert "data-mine" not in re.search(rf'<article id="card-{theirs.pk}"[^>]*>', html).group(0)
    assert 'id="notify-me"' in html and "favicon-done.svg" in html


# ---- filters ------------------------------------------------------------------------------------
@pytest.fixture
def team(make_generation, user, other_user) -> dict[str, Generation]:
    board = Project.objects.create(name="Trailer", created_by=user)
    return {
        "mine": make_generation(prompt="alpha mine", status=Status.SUCCEEDED),
        "theirs": make_generation(owner=other_user, prompt="beta theirs"),
        "project": make_generation(owner=other_user, prompt="gamma board", project=board),
        "pro": make_generation(prompt="delta model", model_name="kling-v1-6"),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("scope=mine", {"mine", "pro"}),
        ("scope=all", {"mine", "theirs", "project", "pro"}),
        ("status=succeeded", {"mine"}),
        ("model=kling-v1-6", {"pro"}),
        ("scope=mine&status=queued", {"pro"}),
    ],
)
def test_the_filters_narrow_the_cards(alice_client, team, query: str, expected: set[str]) -> None:
    html = alice_client.get(f"/?{query}").content.decode()
    assert set(card_ids(html)) == {team[name].pk for name in expected}


def test_the_project_filter_shows_its_board(alice_client, team) -> None:
    project = team["project"].project
    html = alice_client.get(f"/?project={project.pk}").content.decode()
    assert card_ids(html) == [team["project"].pk]
    assert f'<option value="{project.pk}" selected>Trailer</option>' in html


def test_the_poll_keeps_the_filters(alice_client, team, make_generation, other_user) -> None:
    page = alice_client.get("/?scope=mine").content.decode()
    assert "scope=mine" in poll_url(page)
    make_generation(owner=other_user, prompt="not for a mine-only gallery")
    fresh_mine = make_generation(prompt="epsilon mine")
    html = alice_client.get(poll_url(page), **POLL).content.decode()
    assert "epsilon mine" in html and "not for a mine-only gallery" not in html
    assert f'id="card-{fresh_mine.pk}"' in html


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("status=exploded", "status"),
        ("project=999999", "project"),
        ("project=abc", "project"),
        ("project=99999999999999999999999", "project"),
        ("model=no-such-model", "model"),
        ("scope=everyone", "scope"),
        ("before=-1", "before"),
        ("before=99999999999999999999999", "before"),
    ],
)
def test_an_invalid_filter_is_a_message_not_an_error(
    alice_client, team, query: str, named: str
) -> None:
    response = alice_client.get(f"/?{query}")
    html = response.content.decode()
    assert response.status_code == 200
    assert "These filters cannot be used" in html and f"{named}:" in html
    assert card_ids(html) == []


def test_a_poll_with_an_invalid_filter_is_refused_by_name(alice_client, team) -> None:
    response = alice_client.get("/?newest=1&status=exploded", **POLL)
    assert response.status_code == 400 and "status:" in response.content.decode()


def test_a_poll_with_an_impossible_time_is_refused_by_name(alice_client) -> None:
    response = alice_client.get("/?newest=1&since=" + "9" * 30, **POLL)
    assert response.status_code == 400 and "since:" in response.content.decode()


# ---- load more ----------------------------------------------------------------------------------
def test_more_than_48_cards_load_more_in_pages(alice_client, make_generation) -> None:
    made = [make_generation(prompt=f"clip {n}").pk for n in range(50)]
    newest_first = sorted(made, reverse=True)
    html = alice_client.get("/").content.decode()
    assert card_ids(html) == newest_first[:48]
    more = re.search(r'<div id="gallery-more"[^>]*>.*?hx-get="([^"]+)"', html, re.S).group(1)
    assert f"before={newest_first[47]}" in more
    rest = alice_client.get(
        html_lib.unescape(more), HTTP_HX_TARGET="gallery-more", **HTMX
    ).content.decode()
    assert card_ids(rest) == newest_first[48:]
    assert "<html" not in rest and 'id="gallery-more"' not in rest  # nothing after these


def test_load_more_keeps_the_filters(alice_client, make_generation, other_user) -> None:
    for n in range(49):
        make_generation(prompt=f"mine {n}")
    make_generation(owner=other_user)
    html = alice_client.get("/?scope=mine").content.decode()
    more = re.search(r'id="gallery-more".*?hx-get="([^"]+)"', html, re.S).group(1)
    assert "scope=mine" in html_lib.unescape(more)


def test_a_later_page_without_htmx_is_a_page_of_older_cards(alice_client, make_generation) -> None:
    made = sorted((make_generation().pk for _ in range(3)), reverse=True)
    html = alice_client.get(f"/?before={made[0]}").content.decode()
    assert card_ids(html) == made[1:]
    assert "hx-get" not in poll_trigger(html)  # an older page does not grow at the top


# ---- cards --------------------------------------------------------------------------------------
def test_a_finished_card_shows_its_poster_and_a_muted_preview(alice_client, make_generation):
    done = make_generation(status=Status.SUCCEEDED)
    html = alice_client.get("/").content.decode()
    video = re.search(rf'<article id="card-{done.pk}".*?(<video[^>]*>)', html, re.S).group(1)
    assert "controls" not in video and "muted" in video and 'preload="none"' in video
    assert f'poster="/generations/{done.pk}/media/poster/"' in video
    assert "js/preview.js" in html


# ---- cancel from the card -----------------------------------------------------------------------
def cancel(client, generation: Generation):
    return client.post(
        f"/generations/{generation.pk}/cancel/",
        HTTP_HX_TARGET=f"card-{generation.pk}",
        **HTMX,
    )


def test_the_owner_cancels_a_queued_job_from_its_card(alice_client, make_generation) -> None:
    queued = make_generation(prompt="a slow snail")
    page = alice_client.get("/").content.decode()
    card = re.search(rf'<article id="card-{queued.pk}".*?</article>', page, re.S).group(0)
    assert f'hx-post="/generations/{queued.pk}/cancel/"' in card
    response = cancel(alice_client, queued)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert f'<article id="card-{queued.pk}"' in html and 'data-status="cancelled"' in html
    assert "Cancelled." in html
    queued.refresh_from_db()
    assert queued.status == Status.CANCELLED


def test_a_running_job_is_not_cancelled_and_the_card_says_why(
    alice_client, make_generation
) -> None:
    running = make_generation(status=Status.PROCESSING)
    html = cancel(alice_client, running).content.decode()
    assert "Only queued jobs can be cancelled; this one is Processing." in html
    running.refresh_from_db()
    assert running.status == Status.PROCESSING


def test_a_teammate_cannot_cancel_my_job(bob_client, make_generation) -> None:
    queued = make_generation()
    assert cancel(bob_client, queued).status_code == 404
    queued.refresh_from_db()
    assert queued.status == Status.QUEUED
    html = bob_client.get("/").content.decode()
    assert f"/generations/{queued.pk}/cancel/" not in html  # no button either


def test_an_admin_cancels_anyones_job(staff_client, make_generation) -> None:
    queued = make_generation()
    assert 'data-status="cancelled"' in cancel(staff_client, queued).content.decode()


def test_a_cancel_without_htmx_goes_back_where_it_came_from(alice_client, make_generation):
    queued = make_generation()
    response = alice_client.post(f"/generations/{queued.pk}/cancel/", {"next": "/?scope=mine"})
    assert response.status_code == 302 and response["Location"] == "/?scope=mine"
    elsewhere = alice_client.post(
        f"/generations/{make_generation().pk}/cancel/", {"next": "https://evil.example/"}
    )
    assert elsewhere["Location"].startswith("/generations/")


def test_only_one_of_two_racing_cancels_wins(make_generation) -> None:
    queued = make_generation()
    stale = Generation.objects.get(pk=queued.pk)
    assert queued.cancel() is True
    assert stale.cancel() is False  # the conditional UPDATE saw it was no longer queued
    assert queued.events.filter(message="cancelled by user").count() == 1


def test_the_gallery_costs_the_same_queries_for_two_cards_or_forty(
    alice_client, make_generation, user
) -> None:
    board = Project.objects.create(name="Board", created_by=user)

    def page_queries(count: int) -> int:
        Generation.objects.all().delete()
        for n in range(count):
            make_generation(status=Status.SUCCEEDED if n % 2 else Status.QUEUED, project=board)
        with CaptureQueriesContext(connection) as ctx:
            html = alice_client.get("/").content.decode()
        assert len(card_ids(html)) == count and html.count(">Board</a>") == count
        return len(ctx.captured_queries)

    assert page_queries(2) == page_queries(40)
