"""Helpers of the scale-mode tests: worker processes on the same database, queue and media."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.db import connection

from tests.processes import ROOT, kill, start_qcluster  # noqa: F401  (used by the scale tests)


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
