"""Polling is adaptive per task and batched per provider: a few list pages, not a query per task."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from simulator import Simulator
from simulator.testing import (
    disable_local_providers,
    provider_for,
    queued_generation,
    submitted_generation,
)
from videos import tasks
from videos.models import Generation, Provider, Status
from videos.providers import kling


@pytest.fixture(autouse=True)
def no_local_fallback(db: None) -> None:
    disable_local_providers()


@pytest.fixture
def sim(db: None) -> Iterator[Simulator]:
    with Simulator(min_seconds=600, max_seconds=600) as running:
        provider_for(running)
        yield running


def submit_many(user, count: int, **fields) -> list[Generation]:
    generations = [submitted_generation(user, prompt=f"shot {i}", **fields) for i in range(count)]
    assert {generation.status for generation in generations} == {Status.SUBMITTED}
    return generations


def make_due(*generations: Generation) -> None:
    pks = [g.pk for g in generations] or None
    rows = Generation.objects.filter(status__in=Generation.RUNNING)
    (rows.filter(pk__in=pks) if pks else rows).update(next_poll_at=timezone.now())


def test_it_queries_a_few_running_tasks_one_by_one(sim: Simulator, user) -> None:
    submit_many(user, 2)
    sim.reset_counts()
    make_due()
    tasks.run_due_once()
    assert (sim.counts["query"], sim.counts["list"]) == (2, 0)


def test_it_lists_many_running_tasks_in_one_request(sim: Simulator, user) -> None:
    generations = submit_many(user, 30)
    sim.reset_counts()
    make_due(generations[0])  # one due task is enough to list them all
    tasks.run_due_once()
    assert (sim.counts["list"], sim.counts["query"]) == (1, 0)


def test_a_finished_task_is_seen_within_one_cycle_even_if_not_due(sim: Simulator, user) -> None:
    generations = submit_many(user, 10)
    done, failed = generations[3], generations[4]
    Generation.objects.filter(pk__in=[done.pk, failed.pk]).update(
        next_poll_at=timezone.now() + timedelta(hours=1)
    )
    sim.finish(done.upstream_task_id)
    sim.finish(failed.upstream_task_id, "failed", "content moderation")
    make_due(generations[0])
    tasks.run_due_once()
    done.refresh_from_db()
    failed.refresh_from_db()
    assert done.status == Status.SUCCEEDED and done.video and sim.counts["video"] == 1
    assert failed.status == Status.FAILED and failed.status_message == "content moderation"


def test_unchanged_tasks_are_rescheduled_in_bulk(sim: Simulator, user) -> None:
    generations = submit_many(user, 6)
    make_due()
    before = timezone.now()
    tasks.run_due_once()
    for generation in generations:
        generation.refresh_from_db()
        assert generation.status == Status.SUBMITTED and generation.polls >= 1
        assert generation.next_poll_at >= before + timedelta(seconds=tasks.BATCH_POLL_SECONDS - 1)
        assert generation.lease_until is None


def test_it_reads_as_many_pages_as_needed(sim: Simulator, user, monkeypatch) -> None:
    monkeypatch.setattr(kling, "PAGE_SIZE", 10)
    generations = submit_many(user, 35)
    oldest = generations[0]
    sim.finish(oldest.upstream_task_id)
    sim.reset_counts()
    make_due()
    tasks.run_due_once()
    oldest.refresh_from_db()
    assert sim.counts["list"] == 4 and sim.counts["query"] == 0  # 35 tasks, 10 a page
    assert oldest.status == Status.SUCCEEDED


def test_a_gateway_without_a_list_falls_back_to_a_few_queries(user) -> None:
    with Simulator(
        gateway=True, api_key="gw", min_seconds=600, max_seconds=600, gateway_list=False
    ) as gw:
        Provider.objects.exclude(kind=Provider.Kind.LOCAL).delete()
        provider_for(gw)
        submit_many(user, 8)
        gw.reset_counts()
        make_due()
        tasks.run_due_once()
        assert gw.counts["list"] == 1 and gw.counts["query"] == tasks.MAX_SINGLE_POLLS


def test_a_task_still_processing_at_the_next_poll_is_announced_once(
    sim: Simulator, user, django_capture_on_commit_callbacks
) -> None:
    """Polls see "processing" again and again: one status change, one client callback."""
    generation = submitted_generation(user, client_callback_url="https://hooks.example.org/k")
    [task] = sim.tasks_for(str(generation.pk))

    def poll_after(elapsed: float) -> int:
        """One poll with the upstream task `elapsed` seconds old; the callbacks it enqueued."""
        task.created = sim.now() - elapsed
        make_due(generation)
        with django_capture_on_commit_callbacks() as callbacks:
            tasks.poll_generation(generation.pk)
        generation.refresh_from_db()
        return len(callbacks)

    assert poll_after(300) == 1  # half of its 600 s: now processing
    assert generation.status == Status.PROCESSING
    assert poll_after(420) == 0  # still processing: nothing to announce
    assert poll_after(480) == 0
    assert generation.status == Status.PROCESSING and generation.upstream_status == "processing"
    assert generation.events.filter(kind="status", status=Status.PROCESSING).count() == 1
    assert generation.lease_until is None and generation.polls == 4  # the create answer + 3
    sim.finish(task.task_id, "failed", "content moderation")
    assert poll_after(420) == 1 and generation.status == Status.FAILED


def test_polling_is_soon_after_submit_then_spread_over_the_typical_time(user) -> None:
    generation = queued_generation(user, model_name="kling-v1")  # typical 120 s
    now = timezone.now()
    for age, expected in ((5, 3), (60, 10), (120 * 3, 36), (3600, 60)):
        generation.submitted_at = now - timedelta(seconds=age)
        assert tasks.next_poll_delay(generation) == pytest.approx(expected, abs=0.1)
