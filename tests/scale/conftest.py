"""Scale mode: PostgreSQL and django-q2 on Redis, with real `manage.py qcluster` processes.

These tests run only when the test database is PostgreSQL and REDIS_URL is set
(`make test` does a second run for them); otherwise they skip with the reason.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator

import pytest

from tests.scale.helpers import SKIP_REASON, kill, start_qcluster, worker_env


@pytest.fixture
def clusters(transactional_db: None) -> Iterator[Callable[..., list[subprocess.Popen]]]:
    """Start qcluster processes (like worker machines); all are killed at the end."""
    from django_q.brokers import get_broker

    assert SKIP_REASON is None, SKIP_REASON
    get_broker().purge_queue()  # nothing left over from an earlier test of this run
    started: list[subprocess.Popen] = []

    def start(count: int = 1, **extra: str) -> list[subprocess.Popen]:
        env = worker_env(**extra)
        procs = [start_qcluster(env) for _ in range(count)]
        started.extend(procs)
        return procs

    yield start
    for proc in started:
        kill(proc)
    get_broker().purge_queue()
