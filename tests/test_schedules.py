"""Schedules: declared once, and one malformed schedule never stops the due loop.

django-q2 1.11 runs every due schedule in one transaction and reads each one's `args`
with ast.literal_eval outside any per-schedule try: one row it cannot read makes the whole
tick fail, on every tick, and `studio-run-due` is never started again (issue 12). These
tests run django-q2's own scheduler, handing the tasks it creates to a recording broker.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q import cluster
from django_q.conf import Conf
from django_q.models import Schedule
from django_q.scheduler import scheduler as django_q_tick

from studio.schedules import SCHEDULES, disarm_malformed_schedules, schedule_problem, sync_schedules
from tests.queue_helpers import RecordingBroker

# The tick closes stale database connections when not in sync mode: no test transaction.
pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parent.parent

MALFORMED = {
    "an enum's repr in args (issue 12)": {"args": "228875, Status.SUBMITTED"},
    "args that are not Python": {"args": "228875, 'failed"},
    "kwargs that are a list": {"kwargs": "[1, 2]"},
    "q_options that are not a dict": {"kwargs": "q_options=5"},
    "kwargs with a key that is not a string": {"kwargs": "{1: 'one'}"},
    "an unknown schedule type": {"schedule_type": "ZZ"},
}


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingBroker]:
    """Ticks hand their tasks to this broker instead of running them inline (sync mode)."""
    monkeypatch.setattr(Conf, "SYNC", False)
    yield RecordingBroker()


def due_loop_and_a_foreign_schedule(**fields: Any) -> Schedule:
    """studio-run-due due now, and a due schedule of another app with the given fields."""
    sync_schedules()
    now = timezone.now()
    Schedule.objects.update(next_run=now + timedelta(hours=1))
    Schedule.objects.filter(name="studio-run-due").update(next_run=now - timedelta(seconds=5))
    fields = {"schedule_type": Schedule.ONCE, **fields}
    # Earlier than the due loop: the tick meets it first (it orders by next_run).
    return Schedule.objects.create(
        name="foreign", func="reports.tasks.weekly", next_run=now - timedelta(seconds=6), **fields
    )


@pytest.mark.parametrize("fields", MALFORMED.values(), ids=MALFORMED.keys())
def test_django_q2_alone_stops_every_schedule_on_one_it_cannot_read(
    broker: RecordingBroker, fields: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    due_loop_and_a_foreign_schedule(**fields)
    for _tick in range(2):
        with caplog.at_level(logging.ERROR, logger="django-q"):
            django_q_tick(broker=broker)
        assert "Could not create task from schedule" in caplog.text
        assert broker.funcs() == []  # the due loop is not started
        # ...and stays due in the past, so the next tick fails the same way.
        assert Schedule.objects.get(name="studio-run-due").next_run < timezone.now()


@pytest.mark.parametrize("fields", MALFORMED.values(), ids=MALFORMED.keys())
def test_with_a_malformed_schedule_the_worker_still_starts_the_due_loop(
    broker: RecordingBroker, fields: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    due_loop_and_a_foreign_schedule(**fields)
    with caplog.at_level(logging.ERROR):
        cluster.scheduler(broker=broker)  # what the qcluster's guard loop calls every ~30 s
    assert broker.funcs() == ["videos.tasks.run_due"]
    assert Schedule.objects.get(name="studio-run-due").next_run > timezone.now()
    foreign = Schedule.objects.get(name="foreign")
    assert foreign.repeats == 0  # disarmed: kept for the operator to see, never run
    assert "schedule foreign (reports.tasks.weekly) disabled: django-q2 cannot run it" in (
        caplog.text
    )
    assert "Could not create task from schedule" not in caplog.text
    # The next minute: the due loop is started again; the foreign row stays disarmed.
    Schedule.objects.filter(name="studio-run-due").update(next_run=timezone.now())
    cluster.scheduler(broker=broker)
    assert broker.funcs() == ["videos.tasks.run_due"] * 2


def test_well_formed_schedules_are_left_armed_and_run(broker: RecordingBroker) -> None:
    sync_schedules()
    past = timezone.now() - timedelta(seconds=5)
    Schedule.objects.update(next_run=past)
    for n, (args, kwargs) in enumerate(
        [("1, 'a'", None), ("'one'", "x=1, y='b'"), (None, "{'x': [1, 2]}"), ("(1,)", None)]
    ):
        Schedule.objects.create(name=f"ok-{n}", func="math.floor", args=args, kwargs=kwargs)
    Schedule.objects.filter(name__startswith="ok-").update(next_run=past)
    armed = Schedule.objects.count()
    assert [s.name for s in Schedule.objects.all() if schedule_problem(s)] == []
    assert disarm_malformed_schedules() == []
    cluster.scheduler(broker=broker)
    assert len(broker.packages) == armed


def test_every_schedule_is_declared_once_and_set_up_by_studio_setup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STUDIO_ADMIN_PASSWORD", "pw-admin-123")  # no password file written
    declared = {(d.name, d.func, d.schedule_type, d.minutes, -1) for d in SCHEDULES}
    assert ("studio-run-due", "videos.tasks.run_due", Schedule.MINUTES, 1, -1) in declared
    fields = ("name", "func", "schedule_type", "minutes", "repeats")
    call_command("studio_setup", stdout=StringIO())
    assert set(Schedule.objects.values_list(*fields)) == declared
    # Run again over a copy and a hand edit: still exactly the declaration.
    Schedule.objects.create(name="studio-run-due", func="videos.tasks.run_due")
    Schedule.objects.filter(name="api-compact-request-buckets").update(repeats=0, args="x.y")
    call_command("studio_setup", stdout=StringIO())
    assert set(Schedule.objects.values_list(*fields)) == declared
    assert Schedule.objects.count() == len(SCHEDULES)
    assert not Schedule.objects.exclude(args=None).exists()


def test_no_other_code_writes_schedules() -> None:
    """studio/schedules.py is the one place; not a command, not a migration, not a job."""
    writers = []
    for app in ("studio", "videos", "api", "review"):
        for path in (ROOT / app).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                creates = (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in {"create", "update_or_create", "get_or_create"}
                    and "Schedule" in ast.unparse(node.func.value)
                )
                imports_schedule = isinstance(node, ast.ImportFrom) and any(
                    alias.name == "schedule" for alias in node.names
                )
                if creates or imports_schedule:
                    writers.append(str(path.relative_to(ROOT)))
    assert set(writers) == {"studio/schedules.py"}
