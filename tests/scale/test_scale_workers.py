"""Four qcluster processes racing on PostgreSQL over 100 jobs: none lost, doubled or co-polled."""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django_q.tasks import async_task

from tests.scale.helpers import SCALE
from videos.models import Generation, Status
from videos.simulator import Simulator
from videos.simulator.testing import (
    disable_local_providers,
    provider_for,
    queued_generation,
    wait_until,
)

pytestmark = SCALE
JOBS = 100
WORKERS = 4


def in_flight_at_once(sim: Simulator) -> int:
    """The most API requests the simulator was serving at the same moment."""
    edges = sorted(
        [(start, 1) for _, _, start, _ in sim.request_log]
        + [(end, -1) for _, _, _, end in sim.request_log]
    )
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


def test_four_workers_submit_each_job_once_and_never_poll_one_job_twice_at_once(
    clusters, user
) -> None:
    disable_local_providers()
    # Every answer takes 50 ms, so two workers polling one task would overlap visibly.
    with Simulator(min_seconds=4, max_seconds=8, latency=0.05) as sim:
        provider_for(sim, max_concurrent=JOBS)
        generations = [
            queued_generation(user, prompt=f"scale clip {n}", next_poll_at=timezone.now())
            for n in range(JOBS)
        ]
        # One query per task (no list batching) so every poll is a per-job claim race;
        # short poll delays so each job is polled many times within the run.
        clusters(WORKERS, STUDIO_BATCH_MIN_RUNNING="100000", STUDIO_POLL_SCALE="0.1")
        started = time.monotonic()
        # What a deployment runs: the submissions the web requests enqueue, and due-job
        # loops (the schedule's job) running at the same time on every worker.
        for n, generation in enumerate(generations):
            if n % 25 == 0:
                async_task("videos.tasks.run_due", 70, sync=False)
            async_task("videos.tasks.submit_generation", generation.pk, sync=False)
        pending = Generation.objects.filter(pk__in=[g.pk for g in generations]).exclude(
            status__in=Generation.TERMINAL
        )
        assert wait_until(lambda: not pending.exists(), timeout=90, step=0.5), (
            f"{pending.count()} of {JOBS} jobs still pending after 90 s"
        )
        elapsed = time.monotonic() - started

        finished = Generation.objects.filter(pk__in=[g.pk for g in generations])
        failed = [(g.pk, g.status, g.status_message) for g in finished if g.status != "succeeded"]
        assert not failed, failed
        for generation in finished:
            assert sim.create_attempts[str(generation.pk)] == 1, generation.pk
            assert len(sim.tasks_for(str(generation.pk))) == 1
            stored = Path(settings.MEDIA_ROOT) / generation.video.name
            assert stored.stat().st_size == generation.video_bytes > 0
        assert sim.counts["create"] == JOBS
        assert sim.overlapping_polls() == []
        # The race was real: polls came from several processes at once, many per job.
        assert in_flight_at_once(sim) >= 2 and sim.counts["query"] >= 2 * JOBS
        assert finished.filter(status=Status.SUCCEEDED).count() == JOBS
        print(f"{JOBS} jobs on {WORKERS} qclusters in {elapsed:.1f} s, {dict(sim.counts)}")
