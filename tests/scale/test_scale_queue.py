"""django-q2 on Redis: a job enqueued with async_task crosses the broker to a qcluster process."""

from __future__ import annotations

import os

from django_q.brokers import get_broker
from django_q.tasks import async_task, result

from tests.scale.helpers import SCALE
from videos.models import Provider

pytestmark = SCALE


def test_it_runs_a_job_enqueued_on_redis_in_a_qcluster_process(clusters) -> None:
    broker = get_broker()
    assert type(broker).__name__ == "Redis"
    # Enqueued before any worker exists: the job waits in the Redis list, not in this process.
    task_id = async_task("os.getpid", sync=False)
    assert broker.queue_size() == 1
    [cluster] = clusters(1)
    pid = result(task_id, wait=60_000)
    assert pid is not None, "no qcluster process ran the job within 60 s"
    assert pid != os.getpid() and os.getpgid(pid) == cluster.pid  # a child of that qcluster
    assert broker.queue_size() == 0


def test_it_runs_a_studio_job_from_redis_against_postgresql(clusters) -> None:
    local = Provider.objects.get(name="local")
    Provider.objects.filter(pk=local.pk).update(healthy=False, health_message="down")
    clusters(1)
    task_id = async_task("videos.tasks.probe_provider", local.pk, sync=False)
    assert result(task_id, wait=60_000) == (True, "the built-in renderer is always available")
    local.refresh_from_db()
    assert local.healthy and local.health_message == "the built-in renderer is always available"
