"""bench/fault_run.py, shortened: faults and a killed worker on PostgreSQL + Redis lose nothing."""

from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings

from tests.scale.helpers import ROOT, SCALE, database_url

pytestmark = SCALE


def test_a_short_fault_run_loses_nothing_and_pays_once_per_generation() -> None:
    server = database_url().rsplit("/", 1)[0] + "/postgres"  # the bench makes its own database
    env = {**os.environ, "DATABASE_URL": server, "REDIS_URL": settings.REDIS_URL}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    run = subprocess.run(
        [sys.executable, "bench/fault_run.py", "--generations", "20", "--kills", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    out = run.stdout
    assert run.returncode == 0, out + run.stderr[-2000:]
    assert "scale mode: PostgreSQL + django-q2 on Redis" in out
    assert "generations finished correctly: 20/20" in out
    assert "generations lost: 0 (goal 0)" in out
    assert "upstream tasks per generation: {1: 20}" in out
    assert "worker kills: 1;" in out
