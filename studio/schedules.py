"""Every django-q2 schedule of the studio, declared once, and a guard for django-q2's scheduler.

The declaration is applied (upserted by name) by `manage.py studio_setup`, the set-up step
that `make run` and every deploy run. Not a migration: a data migration freezes a copy of
what it creates when it is written, and the next change would need another copy.
"""

from __future__ import annotations

import ast
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone
from django_q.models import Schedule
from django_q.utils import close_old_django_connections

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Declared:
    """One schedule: its name (the upsert key), the job it runs and how often."""

    name: str
    func: str
    schedule_type: str
    minutes: int | None = None


SCHEDULES = (
    # The due loop: runs ~55 s and reacts to due jobs within a second, which django-q2's
    # 30-second scheduler tick alone could not do (videos/tasks.py run_due).
    Declared("studio-run-due", "videos.tasks.run_due", Schedule.MINUTES, minutes=1),
    # Merges per-minute request counts older than two days (api/tasks.py).
    Declared("api-compact-request-buckets", "api.tasks.compact_request_buckets", Schedule.DAILY),
)


def sync_schedules() -> list[str]:
    """Upsert every declared schedule by name (never duplicated); returns their names.

    Arguments are cleared and repeats reset: the declaration wins over hand edits, and a
    schedule the guard disarmed is armed again once it is declared correctly.
    """
    for declared in SCHEDULES:
        # Names are not unique in django-q2: drop copies (two set-ups at once) before upserting.
        first = Schedule.objects.filter(name=declared.name).order_by("pk").first()
        if first is not None:
            Schedule.objects.filter(name=declared.name).exclude(pk=first.pk).delete()
        Schedule.objects.update_or_create(
            name=declared.name,
            defaults={
                "func": declared.func,
                "schedule_type": declared.schedule_type,
                "minutes": declared.minutes,
                "args": None,
                "kwargs": None,
                "repeats": -1,
            },
        )
    return [declared.name for declared in SCHEDULES]


def schedule_problem(schedule: Schedule) -> str | None:
    """Why django-q2's scheduler would raise on this schedule, or None if it would not.

    Mirrors django_q/scheduler.py (django-q2 1.11): `args` must be a Python literal,
    `kwargs` must come out as a dict (with a dict `q_options`), and the next run must be
    computable. The scheduler does all of this outside any per-schedule try.
    """
    try:
        if schedule.args:
            ast.literal_eval(schedule.args)
        kwargs = _kwargs_like_django_q(schedule.kwargs) if schedule.kwargs else {}
        if not isinstance(kwargs, dict):
            return f"kwargs is a {type(kwargs).__name__}, not keyword arguments"
        if not all(isinstance(key, str) for key in kwargs):
            return "kwargs has a key that is not a string"  # f(**kwargs) would raise
        if not isinstance(kwargs.get("q_options", {}), dict):
            return "q_options is not a dict"
        if schedule.schedule_type != Schedule.ONCE:
            if schedule.schedule_type not in dict(Schedule.TYPE):
                return f"unknown schedule type {schedule.schedule_type!r}"
            schedule.calculate_next_run(schedule.next_run or timezone.now())
    except Exception as exc:  # noqa: BLE001 (whatever would stop the scheduler disarms it)
        return f"{type(exc).__name__}: {exc}"
    return None


def _kwargs_like_django_q(text: str) -> Any:
    try:
        return ast.literal_eval(text)  # the dict syntax
    except (SyntaxError, ValueError):
        try:
            keywords = ast.parse(f"f({text})").body[0].value.keywords  # x=1, y='a'
            return {kw.arg: ast.literal_eval(kw.value) for kw in keywords}
        except (SyntaxError, ValueError):
            return {}


def disarm_malformed_schedules(now: Any = None) -> list[str]:
    """Disable (repeats = 0) every due schedule django-q2 could not run; returns their names.

    django-q2 runs all due schedules in one transaction and gives up on all of them when
    one raises, on every tick, so one bad row (a foreign app's, a hand edit in the admin)
    would stop the due loop and with it the polling of every paid job. A disarmed row
    stays visible in the admin with the reason in the worker's log.
    """
    # A minute ahead: a schedule that falls due between this check and the tick is covered.
    soon = (now or timezone.now()) + timedelta(seconds=60)
    disarmed = []
    for schedule in Schedule.objects.exclude(repeats=0).filter(next_run__lt=soon):
        problem = schedule_problem(schedule)
        if problem is None:
            continue
        Schedule.objects.filter(pk=schedule.pk).update(repeats=0)
        label = schedule.name or f"#{schedule.pk}"
        log.error(
            "schedule %s (%s) disabled: django-q2 cannot run it: %s", label, schedule.func, problem
        )
        disarmed.append(label)
    return disarmed


def guarded_tick(tick: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap django-q2's scheduler tick so that malformed schedules are disarmed before it."""

    @functools.wraps(tick)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            close_old_django_connections()  # what the tick does first: a stale one is replaced
            disarm_malformed_schedules()
        except Exception:
            log.exception("checking the schedules failed; the scheduler runs anyway")
        return tick(*args, **kwargs)

    guarded.studio_guarded = True  # type: ignore[attr-defined]
    return guarded


def guard_scheduler() -> None:
    """Make the qcluster's scheduler tick go through guarded_tick (called from AppConfig.ready).

    django-q2 has no hook per schedule or per tick; its guard loop calls the module-level
    `django_q.cluster.scheduler` by name every ~30 s, so that name is what is wrapped.
    """
    from django_q import cluster

    if not getattr(cluster.scheduler, "studio_guarded", False):
        cluster.scheduler = guarded_tick(cluster.scheduler)
