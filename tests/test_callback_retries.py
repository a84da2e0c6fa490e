"""End to end with a real qcluster: a client's receiver that fails once gets its retry, and
neither that failure nor a malformed schedule stops upstream jobs from completing (issue 12).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Schedule

from api.models import CallbackDelivery
from simulator import Simulator
from simulator.testing import (
    disable_local_providers,
    provider_for,
    queued_generation,
    wait_until,
)
from studio.schedules import sync_schedules
from tests.api_helpers import issue, post_json
from tests.processes import ROOT, kill
from tests.receiver import Receiver
from videos.models import Generation, Status
from videos.providers.webhooks import verify

T2V = "/kling/v1/videos/text2video"
# Generous: the first scheduler tick comes ~30 s after the worker starts, on a busy machine.
DEADLINE_SECONDS = 300


def start_worker(log: Path) -> subprocess.Popen:
    """`manage.py qcluster` on the test database, in its own process group, logging to a file."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "studio.settings",
        "STUDIO_READ_ENV_FILE": "0",
        "DEBUG": "0",
        # The same keys: the worker reads task packages signed and secrets encrypted here.
        "SECRET_KEY": settings.SECRET_KEY,
        "STUDIO_ENCRYPTION_KEY": settings.STUDIO_ENCRYPTION_KEY,
        "SQLITE_PATH": connection.settings_dict["NAME"],
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "STUDIO_WORKERS": "2",
        "STUDIO_ALLOW_LOOPBACK_URLS": "1",  # the receiver and the simulator are on 127.0.0.1
        "STUDIO_CALLBACK_RETRY_SECONDS": "1,1,1,1,1",
        "STUDIO_POLL_SCALE": "0.1",
    }
    for name in ("DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)  # the database broker on the SQLite test database
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="runs against the SQLite test database file"
)
def test_a_receiver_that_fails_once_gets_the_retry_while_upstream_jobs_keep_completing(
    transactional_db: None, user, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    receiver = Receiver()
    receiver.plan = [500]  # the client's first callback fails; every later one succeeds
    with Simulator(min_seconds=3, max_seconds=3) as sim:
        disable_local_providers()
        provider_for(sim)
        sync_schedules()  # what `make run` sets up
        # Another app's schedule django-q2 cannot read, due since five minutes.
        foreign = Schedule.objects.create(
            name="reports-weekly",
            func="reports.tasks.weekly",
            args="228875, Status.SUBMITTED",
            next_run=timezone.now() - timedelta(minutes=5),
        )
        # An upstream job that only the due loop moves along: queued, due, no job enqueued.
        upstream = queued_generation(
            user, prompt="a lighthouse at dusk", next_poll_at=timezone.now()
        )
        key, secret = issue(user)
        # Enqueue for the worker, as the web server does (tests otherwise run jobs inline).
        monkeypatch.setattr(Conf, "SYNC", False)
        body = {"model_name": "kling-v1", "prompt": "a kite", "callback_url": receiver.url}
        answer = post_json(Client(), T2V, body, secret)
        api_job = Generation.objects.get(pk=int(answer.json()["data"]["task_id"]))
        started = timezone.now()

        log = tmp_path / "qcluster.log"
        worker = start_worker(log)
        jobs = Generation.objects.filter(pk__in=[upstream.pk, api_job.pk])
        try:
            done = wait_until(
                lambda: (
                    jobs.filter(status=Status.SUCCEEDED).count() == 2
                    and "succeed" in [b["task_status"] for b in receiver.bodies()]
                ),
                timeout=DEADLINE_SECONDS,
                step=0.5,
            )
        finally:
            kill(worker)
            receiver.close()
        assert done, (
            list(jobs.values_list("status", "status_message")),
            receiver.calls(),
            log.read_text()[-3000:],
        )

    # The first callback (submitted) was answered 500; its retry came with the same id.
    calls = receiver.calls()
    first_headers, _first_body, first_status = calls[0]
    assert first_status == 500
    assert first_headers["webhook-id"] == f"{api_job.pk}-submitted"
    retries = [(h, b) for h, b, s in calls[1:] if h["webhook-id"] == first_headers["webhook-id"]]
    assert len(retries) == 1  # sent once, not once per worker or per tick
    ((retry_headers, retry_body),) = retries
    verify(
        key.get_webhook_secret(),
        retry_headers["webhook-id"],
        retry_headers["webhook-timestamp"],
        retry_headers["webhook-signature"],
        retry_body,
    )
    attempts = CallbackDelivery.objects.filter(generation=api_job, task_status="submitted")
    assert list(attempts.order_by("attempt").values_list("attempt", "http_status", "ok")) == [
        (1, 500, False),
        (2, 204, True),
    ]
    assert not CallbackDelivery.objects.filter(next_retry_at__isnull=False).exists()
    # Meanwhile the due loop kept running: both upstream jobs finished with their videos.
    for generation in jobs:
        assert generation.upstream_task_id and generation.video_bytes > 0
        stored = Path(settings.MEDIA_ROOT) / generation.video.name
        assert stored.stat().st_size == generation.video_bytes
    run_due = Schedule.objects.get(name="studio-run-due")
    assert run_due.next_run > started and run_due.task  # started by the scheduler
    foreign.refresh_from_db()
    assert foreign.repeats == 0  # disarmed, not deleted
