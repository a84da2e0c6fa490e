"""Every job the studio enqueues or schedules carries plain ints and strings across processes.

A job's arguments leave the process that enqueues it: async_task pickles and signs them
for the broker, and a schedule's arguments are text that django-q2's scheduler reads back
with ast.literal_eval on every tick. An enum's repr ("Status.SUBMITTED") cannot be read
back, and one such schedule stopped every other one (issue 12). These tests drive the
studio's real flows, catch every job they enqueue and every schedule they leave, and send
each through django-q2's own round trip.
"""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Schedule
from django_q.scheduler import scheduler
from django_q.signals import pre_enqueue
from django_q.signing import SignedPackage

from api.models import CallbackDelivery
from simulator import Simulator
from simulator.testing import provider_for, queued_generation, wait_until
from tests.api_helpers import issue, post_json
from tests.queue_helpers import RecordingBroker
from tests.receiver import Receiver
from videos import tasks
from videos.models import Generation, Provider, Status

ROOT = Path(__file__).resolve().parent.parent
T2V = "/kling/v1/videos/text2video"
PLAIN = (int, str)


@pytest.fixture
def enqueued() -> Iterator[list[dict[str, Any]]]:
    """Every task package async_task builds during the test, before it is signed."""
    tasks_seen: list[dict[str, Any]] = []

    def keep(sender: object, task: dict[str, Any], **kwargs: object) -> None:
        tasks_seen.append(dict(task))

    pre_enqueue.connect(keep, dispatch_uid="test-job-arguments")
    yield tasks_seen
    pre_enqueue.disconnect(dispatch_uid="test-job-arguments")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


def not_plain(values: Any) -> list[str]:
    return [f"{value!r} ({type(value).__name__})" for value in values if type(value) not in PLAIN]


def enqueue_sites() -> set[str]:
    """The job names passed to async_task anywhere in the product code (regexes for f-strings)."""
    patterns = set()
    for path in [
        *ROOT.glob("videos/**/*.py"),
        *ROOT.glob("api/**/*.py"),
        *ROOT.glob("review/**/*.py"),
    ]:
        for node in ast.walk(ast.parse(path.read_text())):
            if not (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", "")) == "async_task"
            ):
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant):
                patterns.add(re.escape(first.value))
            else:  # an f-string: its literal parts, anything between them
                assert isinstance(first, ast.JoinedStr), f"{path}: a job name that is not a string"
                patterns.add(
                    "".join(
                        re.escape(part.value) if isinstance(part, ast.Constant) else ".+"
                        for part in first.values
                    )
                )
    return patterns


def test_every_job_enqueued_arrives_as_plain_ints_and_strings(
    client: Client,
    user,
    staff_client: Client,
    receiver: Receiver,
    enqueued: list[dict[str, Any]],
    settings,
    django_capture_on_commit_callbacks,
) -> None:
    settings.STUDIO_BATCH_MIN_RUNNING = 1  # batched polls hand downloads to a job
    _key, secret = issue(user)
    # An API client's job with a callback, rendered by the local provider; its first
    # callback fails once and the due loop queues the retry.
    receiver.plan = [500]
    body = {"model_name": "kling-v1", "prompt": "a kite", "duration": "5"}
    with django_capture_on_commit_callbacks(execute=True):
        answer = post_json(client, T2V, {**body, "callback_url": receiver.url}, secret)
    generation = Generation.objects.get(pk=int(answer.json()["data"]["task_id"]))
    assert generation.status == Status.SUCCEEDED, generation.status_message
    CallbackDelivery.objects.filter(next_retry_at__isnull=False).update(
        next_retry_at=timezone.now()
    )
    tasks.run_due_once()
    # submitted (refused once), succeeded, then the retry of submitted: the local
    # renderer answers its submit with the finished video, so there is no "processing".
    assert [status for *_rest, status in receiver.calls()] == [500, 204, 204]
    # Jobs on a Kling upstream: an admin's "poll now" on one, then a batched poll that
    # hands the other's download to a job.
    settings.STUDIO_POLL_SCALE = 0.01
    with Simulator(min_seconds=0, max_seconds=0) as sim:
        provider_for(sim, priority=1)
        polled = queued_generation(user, next_poll_at=timezone.now())
        batched = queued_generation(user, next_poll_at=timezone.now())
        tasks.run_due_once()  # submits both
        staff_client.post(f"/generations/{polled.pk}/troubleshoot/poll/")
        finished = Generation.objects.filter(
            pk__in=[polled.pk, batched.pk], status=Status.SUCCEEDED
        )
        assert wait_until(lambda: tasks.run_due_once() >= 0 and finished.count() == 2, 60)

    jobs = {task["func"] for task in enqueued}
    for pattern in enqueue_sites():
        assert any(re.fullmatch(pattern, job) for job in jobs), f"{pattern} was never enqueued"
    for task in enqueued:
        # What a worker reads: the signed pickle of the package, as the broker carries it.
        arrived = SignedPackage.loads(SignedPackage.dumps(task))
        assert not not_plain(arrived["args"]), (task["func"], not_plain(arrived["args"]))
        assert not not_plain(arrived["kwargs"].values()), (task["func"], arrived["kwargs"])


def test_every_schedule_left_by_a_failed_callback_runs_in_django_q2s_scheduler(
    transactional_db: None, client: Client, user, receiver: Receiver, monkeypatch, caplog
) -> None:
    monkeypatch.setenv("STUDIO_ADMIN_PASSWORD", "pw-admin-123")  # no password file written
    call_command("studio_setup", stdout=StringIO())  # the schedules `make run` declares
    Provider.objects.update(enabled=False)  # the job fails at once: a status change
    _key, secret = issue(user)
    receiver.plan = [500]  # and its callback fails once: issue 12's case
    body = {"model_name": "kling-v1", "prompt": "a kite", "callback_url": receiver.url}
    answer = post_json(client, T2V, body, secret)
    generation = Generation.objects.get(pk=int(answer.json()["data"]["task_id"]))
    assert generation.status == Status.FAILED
    assert CallbackDelivery.objects.get(generation=generation).http_status == 500

    armed = Schedule.objects.exclude(repeats=0)
    assert "studio-run-due" in {schedule.name for schedule in armed}
    armed.update(next_run=timezone.now() - timedelta(seconds=5))  # everything due now
    count = armed.count()
    # django-q2's own tick (not the studio's guard), handing its tasks to a broker.
    monkeypatch.setattr(Conf, "SYNC", False)
    broker = RecordingBroker()
    with caplog.at_level(logging.ERROR, logger="django-q"):
        scheduler(broker=broker)
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == []
    assert len(broker.packages) == count
    for package in broker.packages:
        arrived = SignedPackage.loads(package)
        assert not not_plain(arrived["args"]), (arrived["func"], arrived["args"])
        assert not not_plain(v for k, v in arrived["kwargs"].items() if k != "q_options")
