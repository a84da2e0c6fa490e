"""Helpers of the scale-mode tests: worker processes on the same database, queue and media."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def scale_skip_reason() -> str | None:
    """Why scale tests cannot run here, or None when PostgreSQL and Redis are configured."""
    if connection.vendor != "postgresql":
        return "scale mode: the test database is not PostgreSQL (set DATABASE_URL)"
    if not settings.REDIS_URL:
        return "scale mode: REDIS_URL is not set"
    return None


SKIP_REASON = scale_skip_reason()
# Every scale test module: `pytestmark = SCALE` (skipped at collection, no database set up).
SCALE = [pytest.mark.scale, pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or "")]


def database_url() -> str:
    """The URL of the test database (pytest-django's test_<name>), for worker processes."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def worker_env(**extra: str) -> dict[str, str]:
    """The environment of a worker machine: the same database, queue, keys and media."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "studio.settings",
        "STUDIO_READ_ENV_FILE": "0",
        "DEBUG": "0",
        "SECRET_KEY": settings.SECRET_KEY,
        "STUDIO_ENCRYPTION_KEY": settings.STUDIO_ENCRYPTION_KEY,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "STUDIO_Q_NAME": settings.Q_CLUSTER["name"],
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "STUDIO_ALLOW_LOOPBACK_URLS": "1",  # the simulator serves videos on 127.0.0.1
        "STUDIO_WORKERS": "1",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("STUDIO_Q_SYNC", None)
    env.update(extra)
    return env


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL a qcluster and its children: a worker machine that dies."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def start_qcluster(env: dict[str, str]) -> subprocess.Popen:
    """`manage.py qcluster` in its own process group, so a kill takes all its processes."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
