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


# ---- every change happens once: a repeat from its own state is refused ------------------------
def _to_submitted(generation: Generation, provider) -> None:
    generation.mark_submitted(provider, "task-1")


def _to_processing(generation: Generation, provider) -> None:
    _to_submitted(generation, provider)
    generation.mark_processing(progress=10)


REPEATS = {
    # status: (how to reach the state it starts from, the change, what must stay as it was)
    Status.SUBMITTED: (
        lambda g, p: None,
        lambda g, p, n: g.mark_submitted(p, f"task-{n}"),
        {"upstream_task_id": "task-1"},
    ),
    Status.PROCESSING: (
        _to_submitted,
        lambda g, p, n: g.mark_processing(progress=40 * n),
        {"progress": 40},
    ),
    Status.SUCCEEDED: (
        _to_processing,
        lambda g, p, n: g.mark_succeeded(video=f"v{n}.mp4", poster="p.jpg", meta=META),
        {"video": "v1.mp4"},
    ),
    Status.FAILED: (
        _to_processing,
        lambda g, p, n: g.mark_failed(f"reason {n}"),
        {"status_message": "reason 1"},
    ),
    Status.CANCELLED: (lambda g, p: None, lambda g, p, n: g.cancel(), {}),
}


@pytest.mark.parametrize("status", list(REPEATS))
def test_a_change_is_not_repeated_from_its_own_state(
    status: str, make_generation, local_provider, django_capture_on_commit_callbacks
) -> None:
    """A second "processing" answer must not re-send the client's callback (nor re-log it)."""
    reach, change, kept = REPEATS[status]
    generation = make_generation(client_callback_url="https://hooks.example.org/kling")
    reach(generation, local_provider)
    stale = Generation.objects.get(pk=generation.pk)
    with django_capture_on_commit_callbacks() as callbacks:
        assert change(generation, local_provider, 1)
        assert not change(generation, local_provider, 2)  # the same worker again
        assert not change(stale, local_provider, 3)  # another worker, from an older copy
    assert len(callbacks) == 1  # one callback job enqueued for this status
    fresh = Generation.objects.get(pk=generation.pk)
    assert fresh.status == status
    for name, value in kept.items():
        assert str(getattr(fresh, name)) == str(value), name
    assert generation.events.filter(kind="status", status=status).count() == 1


# ---- leases: a token held for one step, that runs out, and is given back only by its holder ----
def lease_runs_out(generation: Generation) -> None:
    """The holder's step outlasted its lease (set in the past through the model's field)."""
    Generation.objects.filter(pk=generation.pk).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )


def test_a_lease_taken_with_the_configured_length_runs_out_by_itself(
    make_generation, settings
) -> None:
    from simulator.testing import wait_until

    settings.STUDIO_LEASE_SECONDS = 0.05
    generation = make_generation()
    other = Generation.objects.get(pk=generation.pk)
    assert generation.claim()
    held_until = generation.lease_until
    assert held_until <= timezone.now() + timedelta(seconds=1)  # the setting was used
    # No sleep of a guessed length: wait (with a generous deadline) until it is free again.
    assert wait_until(other.claim, timeout=10, step=0.02)
    assert other.lease_until > held_until


def test_a_lease_on_a_finished_job_cannot_be_taken(make_generation, local_provider) -> None:
    generation = make_generation()
    generation.mark_failed("done")
    assert not generation.claim(seconds=60)
    assert Generation.objects.get(pk=generation.pk).lease_until is None


def test_an_expired_lease_is_due_again_and_a_live_one_is_not(make_generation) -> None:
    generation = make_generation(next_poll_at=timezone.now() - timedelta(seconds=5))
    assert generation.claim(seconds=60)
    assert not Generation.objects.due().filter(pk=generation.pk).exists()
    lease_runs_out(generation)
    assert Generation.objects.due().filter(pk=generation.pk).exists()


def test_release_after_the_lease_was_lost_leaves_the_new_holder_alone(make_generation) -> None:
    slow = make_generation()
    assert slow.claim(seconds=60)
    lease_runs_out(slow)
    second = Generation.objects.get(pk=slow.pk)
    assert second.claim(seconds=60)
    held = Generation.objects.values("lease_until", "next_poll_at").get(pk=slow.pk)

    assert not slow.release(next_poll_in=0)  # the slow worker finally gives back what it lost
    assert Generation.objects.values("lease_until", "next_poll_at").get(pk=slow.pk) == held
    third = Generation.objects.get(pk=slow.pk)
    assert not third.claim(seconds=60)  # so no third worker polls while the second does
    assert not Generation.objects.due().filter(pk=slow.pk).exists()

    assert second.release(next_poll_in=30)  # the holder's own release works
    after = Generation.objects.get(pk=slow.pk)
    assert after.lease_until is None and after.next_poll_at > timezone.now()


def test_release_by_the_holder_frees_the_job_and_sets_when_it_is_due(make_generation) -> None:
    generation = make_generation()
    assert generation.claim(seconds=60)
    assert generation.release(next_poll_in=None)
    fresh = Generation.objects.get(pk=generation.pk)
    assert fresh.lease_until is None and fresh.next_poll_at is None
    assert Generation.objects.due().filter(pk=generation.pk).exists()


def test_extend_lease_only_while_the_lease_is_still_ours(make_generation) -> None:
    slow = make_generation()
    assert slow.claim(seconds=60)
    assert slow.extend_lease(600)  # still ours: a long download may hold it
    assert slow.lease_until > timezone.now() + timedelta(seconds=500)
    assert Generation.objects.get(pk=slow.pk).lease_until == slow.lease_until

    lease_runs_out(slow)
    second = Generation.objects.get(pk=slow.pk)
    assert second.claim(seconds=60)
    assert not slow.extend_lease(600)  # lost meanwhile: the second worker downloads
    assert Generation.objects.get(pk=slow.pk).lease_until == second.lease_until


def test_a_lease_never_taken_cannot_be_extended(make_generation) -> None:
    """extend_lease is for the holder: on a job nobody holds it must not take it unclaimed."""
    idle = make_generation()
    assert idle.lease_until is None
    assert not idle.extend_lease(600)
    assert Generation.objects.get(pk=idle.pk).lease_until is None


def test_a_claim_of_zero_seconds_is_a_lease_that_has_already_run_out(make_generation) -> None:
    generation = make_generation()
    assert generation.claim(seconds=0)  # not "the default length": zero means zero
    assert Generation.objects.due().filter(pk=generation.pk).exists()


def test_the_provider_poll_lease_is_taken_once_runs_out_and_is_released_by_its_holder(
    local_provider,
) -> None:
    from videos.models import Provider

    first = Provider.objects.get(pk=local_provider.pk)
    second = Provider.objects.get(pk=local_provider.pk)
    assert first.claim_poll(60)
    assert not second.claim_poll(60)  # one batch poll of a provider at a time

    Provider.objects.filter(pk=first.pk).update(
        poll_lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert second.claim_poll(60)  # the first poller's lease ran out
    first.release_poll()  # late: must not free the second poller's lease
    assert Provider.objects.get(pk=first.pk).poll_lease_until == second.poll_lease_until
    third = Provider.objects.get(pk=local_provider.pk)
    assert not third.claim_poll(60)

    second.release_poll()
    assert Provider.objects.get(pk=first.pk).poll_lease_until is None
    assert third.claim_poll(60)
