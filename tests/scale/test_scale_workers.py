"""Four qcluster processes racing on PostgreSQL over 100 jobs: none lost, doubled or co-polled."""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django_q.tasks import async_task

from simulator import Simulator
from simulator.testing import (
    disable_local_providers,
    provider_for,
    queued_generation,
    wait_until,
)
from tests.scale.helpers import SCALE
from videos.models import Generation, Status

pytestmark = SCALE
JOBS = 100
WORKERS = 4
# Longer than the run could ever need: the loops are killed with their clusters at the end,
# so a busy machine gets all the time it needs and an idle one waits for nothing.
LOOP_SECONDS = 240


def most_at_once(sim: Simulator, endpoint: str | None = None) -> int:
    """The most API requests (of one endpoint, or any) the simulator served at one moment."""
    log = [entry for entry in sim.request_log if endpoint in (None, entry[0])]
    edges = sorted([(start, 1) for _, _, start, _ in log] + [(end, -1) for _, _, _, end in log])
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
                async_task("videos.tasks.run_due", LOOP_SECONDS, sync=False)
            async_task("videos.tasks.submit_generation", generation.pk, sync=False)
        pending = Generation.objects.filter(pk__in=[g.pk for g in generations]).exclude(
            status__in=Generation.TERMINAL
        )
        assert wait_until(lambda: not pending.exists(), timeout=LOOP_SECONDS, step=0.5), (
            f"{pending.count()} of {JOBS} jobs still pending after {LOOP_SECONDS} s"
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
        # The race was real, whatever the machine's speed (no throughput count): a worker runs
        # one job at a time and polls one task at a time, so two queries in flight at once
        # came from two workers polling side by side; and every task was queried one by one,
        # each poll behind the per-job claim that the concurrent due loops compete for.
        assert most_at_once(sim, "query") >= 2
        queried = {ref for endpoint, ref, _, _ in sim.request_log if endpoint == "query"}
        assert queried == {g.upstream_task_id for g in finished}
        assert finished.filter(status=Status.SUCCEEDED).count() == JOBS
        print(f"{JOBS} jobs on {WORKERS} qclusters in {elapsed:.1f} s, {dict(sim.counts)}")
