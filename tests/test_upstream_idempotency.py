"""Never pay twice (kling-api.md §4.3): one generation, at most one upstream task, come what may."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from simulator import Simulator
from simulator.testing import (
    disable_local_providers,
    provider_for,
    queued_generation,
    submitted_generation,
    wait_until,
)
from videos import tasks
from videos.models import Generation, Status
from videos.providers import UpstreamRequest
from videos.providers.kling import PAGE_SIZE, KlingClient

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def no_waiting(db: None, settings) -> None:
    """No local fallback, and no grace period before looking an ambiguous create up."""
    disable_local_providers()
    settings.STUDIO_LOOKUP_GRACE_SECONDS = 0


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(slow_seconds=0.6, min_seconds=60, max_seconds=60) as running:
        yield running


def run_again(generation: Generation) -> None:
    """A later pass of the due-job loop: the lease and the backoff have expired."""
    Generation.objects.filter(pk=generation.pk).update(
        lease_until=timezone.now() - timedelta(seconds=1), next_poll_at=timezone.now()
    )
    tasks.submit_generation(generation.pk)
    generation.refresh_from_db()


@pytest.mark.parametrize(
    ("fault", "creates_sent"),
    [
        ("drop_after_accept", 1),  # accepted, then the connection died: adopted, never re-sent
        ("accept_then_500", 1),  # accepted, then a 5xx: adopted
        ("ok_without_id", 1),  # accepted with a 200 that names no task: adopted
        ("slow", 1),  # our timeout fired while the upstream was still creating it
        ("500", 2),  # a 5xx before anything was created: looked up, absent, created once
        ("drop", 2),  # a reset before anything was created
        ("malformed", 2),  # an unreadable 200: looked up first
    ],
)
def test_an_ambiguous_create_is_looked_up_before_any_recreate(
    sim: Simulator, user, settings, fault: str, creates_sent: int
) -> None:
    settings.STUDIO_UPSTREAM_TIMEOUT = 0.3
    provider = provider_for(sim)
    sim.add_fault(fault)
    generation = submitted_generation(user)
    assert generation.status == Status.QUEUED
    assert generation.create_provider == provider  # the attempt is on record
    time.sleep(0.7 if fault == "slow" else 0)  # the upstream finishes what it started
    run_again(generation)
    ext = str(generation.pk)
    [task] = sim.tasks_for(ext)
    assert generation.status == Status.SUBMITTED and generation.upstream_task_id == task.task_id
    assert sim.counts["create"] == creates_sent
    assert sim.counts["list"] == 1  # the lookup


def test_an_ambiguous_create_is_not_failed_over_to_another_provider(user) -> None:
    with Simulator() as first, Simulator() as second:
        provider_for(first, "first", priority=1)
        provider_for(second, "second", priority=2)
        first.add_fault("drop_after_accept")
        generation = submitted_generation(user)
        run_again(generation)
        assert generation.provider.name == "first"
        assert len(first.tasks_for(str(generation.pk))) == 1 and second.counts["create"] == 0


def test_an_earlier_create_beyond_the_first_page_of_500_is_found_and_adopted(
    sim: Simulator, user
) -> None:
    provider_for(sim)
    sim.add_fault("drop_after_accept")
    generation = submitted_generation(user)
    sim.seed_tasks(PAGE_SIZE + 100)  # other clients' newer tasks push ours onto page 2
    run_again(generation)
    [task] = sim.tasks_for(str(generation.pk))
    assert generation.status == Status.SUBMITTED and generation.upstream_task_id == task.task_id
    assert sim.counts["list"] == 2 and sim.create_attempts[str(generation.pk)] == 1


def test_an_earlier_create_absent_from_every_page_is_sent_once_more(sim: Simulator, user) -> None:
    provider_for(sim)
    sim.add_fault("500")  # refused before anything was created
    generation = submitted_generation(user)
    sim.seed_tasks(PAGE_SIZE + 100)
    run_again(generation)
    [task] = sim.tasks_for(str(generation.pk))
    assert generation.status == Status.SUBMITTED and generation.upstream_task_id == task.task_id
    assert sim.counts["list"] == 2  # both pages read before concluding it is absent
    assert sim.counts["create"] == 2  # the refused one, then the one that made the task


def test_the_lookup_stops_at_tasks_older_than_the_attempt(sim: Simulator, user) -> None:
    provider_for(sim)
    sim.seed_tasks(2 * PAGE_SIZE + 10, age_seconds=3 * 3600)  # hours before our create
    sim.add_fault("500")
    generation = submitted_generation(user)
    run_again(generation)
    assert generation.status == Status.SUBMITTED and len(sim.tasks_for(str(generation.pk))) == 1
    assert sim.counts["list"] == 1  # page 1 already reached tasks too old to be ours


def test_a_lookup_that_cannot_finish_within_its_pages_never_recreates(sim: Simulator, user) -> None:
    provider_for(sim)
    sim.add_fault("drop_after_accept")
    generation = submitted_generation(user)
    sim.seed_tasks(10 * PAGE_SIZE)  # ours is on page 11, past the lookup's 10 pages
    run_again(generation)
    assert generation.status == Status.QUEUED and generation.create_provider is not None
    assert sim.counts["list"] == 10 and sim.create_attempts[str(generation.pk)] == 1
    assert generation.events.filter(message__contains="within 10 pages").exists()


def test_an_unanswered_lookup_never_leads_to_a_recreate(sim: Simulator, user) -> None:
    provider_for(sim)
    sim.add_fault("drop_after_accept")
    sim.add_fault("500", on="list", times=2)
    generation = submitted_generation(user)
    run_again(generation)
    run_again(generation)
    assert generation.status == Status.QUEUED and sim.create_attempts[str(generation.pk)] == 1
    run_again(generation)
    assert generation.status == Status.SUBMITTED and sim.create_attempts[str(generation.pk)] == 1


def test_an_attempt_unresolved_past_the_stuck_limit_fails_without_recreating(
    sim: Simulator, user, settings
) -> None:
    provider_for(sim)
    sim.add_fault("drop_after_accept")
    sim.add_fault("500", on="list", times=5)
    generation = submitted_generation(user)
    settings.STUDIO_STUCK_AFTER_SECONDS = 0
    Generation.objects.filter(pk=generation.pk).update(
        create_attempted_at=timezone.now() - timedelta(seconds=5)
    )
    run_again(generation)
    assert generation.status == Status.FAILED
    assert "not sent again so as not to pay twice" in generation.status_message
    assert sim.create_attempts[str(generation.pk)] == 1


class WorkerKilled(BaseException):
    """Stands for the process dying: not an Exception, so nothing in the job catches it."""


@pytest.mark.parametrize("after_sending", [True, False])
def test_a_worker_killed_mid_submit_is_resumed_without_loss_or_double(
    sim: Simulator, user, monkeypatch: pytest.MonkeyPatch, after_sending: bool
) -> None:
    provider_for(sim)
    real_submit = KlingClient.submit

    def dying_submit(self: KlingClient, request: UpstreamRequest) -> object:
        if after_sending:
            real_submit(self, request)
        raise WorkerKilled

    monkeypatch.setattr(KlingClient, "submit", dying_submit)
    generation = queued_generation(user)
    with pytest.raises(WorkerKilled):
        tasks.submit_generation(generation.pk)
    monkeypatch.setattr(KlingClient, "submit", real_submit)
    generation.refresh_from_db()
    assert generation.status == Status.QUEUED and generation.lease_until > timezone.now()
    tasks.run_due_once()  # the lease is still held: nothing happens yet
    assert sim.create_attempts[str(generation.pk)] == int(after_sending)

    Generation.objects.filter(pk=generation.pk).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )
    tasks.run_due_once()  # the restarted worker
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED
    assert (
        sim.create_attempts[str(generation.pk)] == 1 and len(sim.tasks_for(str(generation.pk))) == 1
    )
    sim.finish(str(generation.pk))
    tasks.poll_generation(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED and generation.video


def test_random_faults_never_make_two_tasks_for_one_generation(user, monkeypatch) -> None:
    monkeypatch.setattr(tasks, "backoff_delay", lambda generation: 0)
    monkeypatch.setattr(tasks, "next_poll_delay", lambda generation: 0)
    with Simulator(fault_rate=0.35, slow_seconds=0.05, seed=7) as flaky:
        provider_for(flaky)
        generations = [queued_generation(user, prompt=f"clip {i}") for i in range(12)]
        for _ in range(60):
            Generation.objects.filter(status__in=Generation.PENDING).update(
                next_poll_at=timezone.now()
            )
            tasks.run_due_once()
            if not Generation.objects.filter(status__in=Generation.PENDING).exists():
                break
        for generation in generations:
            generation.refresh_from_db()
            assert len(flaky.tasks_for(str(generation.pk))) <= 1
            assert generation.status == Status.SUCCEEDED, generation.status_message
            assert generation.video and generation.upstream_task_id
        assert flaky.counts["total"] > 12  # faults did happen


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_killed_during_a_create_loses_nothing_and_doubles_nothing(user) -> None:
    """A real `kill -9` of a worker process while its create request is in flight."""
    with Simulator(slow_seconds=1.5, min_seconds=60, max_seconds=60) as sim:
        provider_for(sim)
        generation = queued_generation(user)
        sim.add_fault("slow")  # the create is received, then takes 1.5 s to be made
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "studio.test_settings",
            "SQLITE_PATH": str(connection.settings_dict["NAME"]),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        }
        code = (
            "import django; django.setup(); from videos import tasks; "
            f"tasks.submit_generation({generation.pk})"
        )
        worker = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
        try:
            wait_until(lambda: sim.counts["create"] > 0, timeout=30, step=0.02)
            assert sim.counts["create"] == 1, "the worker never sent its create"
        finally:
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait()
        time.sleep(1.7)  # the upstream goes on to create the task nobody heard about
        generation.refresh_from_db()
        assert generation.status == Status.QUEUED and generation.create_provider is not None
        Generation.objects.filter(pk=generation.pk).update(lease_until=timezone.now())
        tasks.run_due_once()
        generation.refresh_from_db()
        assert generation.status == Status.SUBMITTED
        assert sim.create_attempts[str(generation.pk)] == 1
        assert generation.upstream_task_id == sim.tasks_for(str(generation.pk))[0].task_id
