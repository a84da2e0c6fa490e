"""The real django-q2 cluster, as `make run` starts it, takes a queued job and renders it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from simulator.testing import wait_until
from tests.processes import ROOT, kill, start_qcluster
from videos.models import Generation, Status


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="runs against the SQLite test database file"
)
def test_the_qcluster_process_renders_a_queued_job(transactional_db, make_generation) -> None:
    generation = make_generation(
        prompt="a windmill in the wind", duration=5, next_poll_at=timezone.now()
    )
    env = {
        **os.environ,
        "STUDIO_READ_ENV_FILE": "0",
        "SECRET_KEY": "worker-test",
        "SQLITE_PATH": connection.settings_dict["NAME"],
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "STUDIO_WORKERS": "2",
        "DJANGO_SETTINGS_MODULE": "studio.settings",
    }
    # Enqueue the way a web request does (on the database broker), from another process.
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django_q.tasks import async_task; "
            f"async_task('videos.tasks.submit_generation', {generation.pk})",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    worker = start_qcluster(env)
    try:
        wait_until(lambda: Generation.objects.get(pk=generation.pk).is_terminal, timeout=90)
    finally:
        kill(worker)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED, generation.status_message
    assert Generation.objects.get(pk=generation.pk).video_width == 1280
    assert (
        Path(settings.MEDIA_ROOT) / generation.video.name
    ).stat().st_size == generation.video_bytes
