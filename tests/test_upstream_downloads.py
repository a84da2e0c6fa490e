"""Results are copied into storage with checks; nothing succeeds without a stored file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from simulator import Simulator
from simulator.testing import (
    disable_local_providers,
    provider_for,
    submitted_generation,
)
from videos import tasks
from videos.models import Generation, Status


@pytest.fixture(autouse=True)
def setup(db: None, settings) -> None:
    disable_local_providers()
    settings.STUDIO_DOWNLOAD_RETRIES = 2


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(slow_seconds=0.5) as running:
        provider_for(running)
        yield running


def finished_upstream(user) -> Generation:
    """Submitted; the upstream task has already succeeded (the simulator runs in 0 s)."""
    generation = submitted_generation(user)
    return generation


def poll_again(generation: Generation) -> None:
    Generation.objects.filter(pk=generation.pk).update(next_poll_at=timezone.now())
    tasks.poll_generation(generation.pk)
    generation.refresh_from_db()


def assert_nothing_stored(generation: Generation) -> None:
    assert not generation.video and not generation.poster
    assert not default_storage.exists(f"videos/{generation.pk}/video.mp4")


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("wrong_type", "is text/html, expected video/mp4"),
        ("missing", "answered HTTP 404"),
        ("corrupt", "not a playable video"),
    ],
)
def test_a_bad_download_is_retried_then_shown_clearly(
    sim: Simulator, user, mode: str, reason: str
) -> None:
    sim.video_mode = mode
    generation = finished_upstream(user)
    tasks.poll_generation(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED and generation.download_attempts == 1
    assert generation.next_poll_at > timezone.now() + timedelta(seconds=20)  # backing off
    assert reason in generation.events.filter(kind="error").last().message
    poll_again(generation)
    assert generation.status == Status.FAILED
    assert generation.status_message.startswith(
        "the finished video could not be copied into the studio after 2 attempts"
    )
    assert reason in generation.status_message
    assert generation.upstream_video_url  # kept for reference
    assert_nothing_stored(generation)


def test_a_video_over_the_size_cap_is_refused(sim: Simulator, user, settings) -> None:
    settings.STUDIO_MAX_DOWNLOAD_BYTES = 10_000
    generation = finished_upstream(user)
    tasks.poll_generation(generation.pk)
    poll_again(generation)
    assert (
        generation.status == Status.FAILED
        and "more than the 10000 allowed" in generation.status_message
    )
    assert_nothing_stored(generation)


def test_a_stalled_download_times_out(sim: Simulator, user, settings) -> None:
    settings.STUDIO_UPSTREAM_TIMEOUT = 0.2
    sim.video_mode = "slow"  # 8 KB then 0.5 s of silence, over and over
    generation = finished_upstream(user)
    tasks.poll_generation(generation.pk)
    generation.refresh_from_db()
    assert "timed out" in generation.events.filter(kind="error").last().message
    assert generation.status == Status.SUBMITTED and not generation.video


def test_a_trickling_download_stops_at_the_overall_deadline(sim: Simulator, user, settings) -> None:
    settings.STUDIO_DOWNLOAD_TIMEOUT = 0.3
    sim.video_mode, sim.slow_seconds = "slow", 0.1  # never idle long, but far too slow overall
    generation = finished_upstream(user)
    tasks.poll_generation(generation.pk)
    generation.refresh_from_db()
    assert "took longer than allowed" in generation.events.filter(kind="error").last().message
    assert not generation.video


def test_a_transient_failure_is_retried_into_success(sim: Simulator, user) -> None:
    sim.add_fault("missing", on="video")
    generation = finished_upstream(user)
    tasks.poll_generation(generation.pk)
    poll_again(generation)
    assert generation.status == Status.SUCCEEDED and generation.download_attempts == 1
    assert default_storage.size(generation.video.name) == generation.video_bytes > 0
    assert default_storage.exists(generation.poster.name)
    assert sim.counts["video"] == 2


def test_downloads_go_through_the_private_address_guard(sim: Simulator, user, settings) -> None:
    settings.STUDIO_ALLOW_LOOPBACK_URLS = False  # the simulator is on 127.0.0.1
    generation = finished_upstream(user)
    tasks.poll_generation(generation.pk)
    generation.refresh_from_db()
    assert "private or loopback address" in generation.events.filter(kind="error").last().message
    assert sim.counts["video"] == 0 and not generation.video
