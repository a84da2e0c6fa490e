"""Status changes are guarded model methods: forward only, exactly once, with a timeline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from videos.models import Generation, Status
from videos.rendering import VideoMeta

pytestmark = pytest.mark.django_db

META = VideoMeta(duration=5.0, width=1280, height=720, fps=24.0, bytes=1000, sha256="ab" * 32)


def test_it_moves_forward_through_the_lifecycle(make_generation, local_provider) -> None:
    generation = make_generation()
    assert generation.mark_submitted(local_provider, "task-1")
    assert generation.mark_processing()
    assert generation.mark_succeeded(video="v.mp4", poster="p.jpg", meta=META)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert (generation.video_width, generation.video_height, generation.video_sha256) == (
        1280,
        720,
        "ab" * 32,
    )
    assert generation.finished_at is not None and generation.submitted_at is not None
    kinds = list(generation.events.filter(kind="status").values_list("status", flat=True))
    assert kinds == ["submitted", "processing", "succeeded"]


def test_it_never_goes_backwards(make_generation, local_provider) -> None:
    generation = make_generation()
    generation.mark_submitted(local_provider, "task-1")
    generation.mark_succeeded(video="v.mp4", poster="p.jpg", meta=META)
    assert not generation.mark_processing()
    assert not generation.mark_submitted(local_provider, "task-2")
    assert not generation.mark_failed("late failure")
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED and generation.upstream_task_id == "task-1"


def test_a_change_runs_only_once_even_from_a_stale_copy(make_generation) -> None:
    generation = make_generation()
    stale = Generation.objects.get(pk=generation.pk)
    assert generation.mark_failed("first reason")
    assert not stale.mark_failed("second reason")
    assert stale.status == Status.FAILED and stale.status_message == "first reason"
    assert generation.events.filter(kind="status").count() == 1


def test_it_cannot_succeed_from_queued(make_generation) -> None:
    generation = make_generation()
    assert not generation.mark_succeeded(video="v.mp4", poster="p.jpg", meta=META)
    assert Generation.objects.get(pk=generation.pk).status == Status.QUEUED


def test_only_a_queued_job_can_be_cancelled(make_generation, local_provider) -> None:
    queued, running = make_generation(), make_generation()
    running.mark_submitted(local_provider, "t")
    assert queued.cancel() and queued.status == Status.CANCELLED
    assert not running.cancel() and running.status == Status.SUBMITTED


def test_a_lease_is_held_by_one_worker_until_it_expires(make_generation) -> None:
    generation = make_generation()
    other = Generation.objects.get(pk=generation.pk)
    assert generation.claim(seconds=60)
    assert not other.claim(seconds=60)
    assert not Generation.objects.due().filter(pk=generation.pk).exists()
    Generation.objects.filter(pk=generation.pk).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert other.claim(seconds=60)


def test_due_lists_pending_jobs_whose_time_has_come(make_generation, local_provider) -> None:
    now = timezone.now()
    due = make_generation(next_poll_at=now - timedelta(seconds=1))
    later = make_generation(next_poll_at=now + timedelta(minutes=5))
    done = make_generation(status=Status.SUCCEEDED)
    ids = set(Generation.objects.due().values_list("pk", flat=True))
    assert due.pk in ids and later.pk not in ids and done.pk not in ids


def test_ids_are_numeric_unique_and_time_ordered(make_generation) -> None:
    first, second = make_generation(), make_generation()
    assert second.pk > first.pk > 10**15
    assert str(first.pk).isdigit()
