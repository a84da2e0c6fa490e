"""The due loop survives any one failing step: the rest of the pass still runs.

run_due_once is what follows every paid job; a bug or a bad row in one step, one job or
one client's callback must be logged and recorded, never end the pass (issue 12).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

import api.tasks
from api.models import CallbackDelivery
from simulator import Simulator
from simulator.testing import (
    disable_local_providers,
    provider_for,
    queued_generation,
    submitted_generation,
)
from tests.receiver import Receiver
from videos import tasks
from videos.models import Generation, Status

pytestmark = pytest.mark.django_db


class Planted(Exception):
    """A bug planted in one step."""


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(min_seconds=600, max_seconds=600) as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def due_work(sim: Simulator, user, receiver: Receiver) -> dict[str, Any]:
    """One of each kind of due work: a queued job, a running job, a client callback retry."""
    disable_local_providers()
    provider_for(sim)
    running = submitted_generation(user, prompt="a running job")
    queued = queued_generation(user, prompt="a queued job", next_poll_at=timezone.now())
    Generation.objects.filter(pk=running.pk).update(next_poll_at=timezone.now())
    running.client_callback_url = receiver.url
    running.save(update_fields=["client_callback_url"])
    retry = CallbackDelivery.objects.create(
        generation=running,
        url=receiver.url,
        task_status="submitted",
        webhook_id=f"{running.pk}-submitted",
        http_status=500,
        next_retry_at=timezone.now() - timedelta(seconds=1),
    )
    sim.reset_counts()
    return {"queued": queued, "running": running, "retry": retry}


def effects(sim: Simulator, receiver: Receiver, work: dict[str, Any]) -> dict[str, bool]:
    return {
        "submitted": Generation.objects.get(pk=work["queued"].pk).status == Status.SUBMITTED,
        "polled": sim.counts["query"] >= 1,
        "retried": [h["webhook-id"] for h, _b in receiver.received] == [work["retry"].webhook_id],
    }


STEPS = {
    "videos.tasks.fail_stuck": (),
    "videos.tasks.probe_unhealthy_providers": (),
    "videos.tasks.submit_generation": ("submitted",),
    "videos.tasks.poll_generation": ("polled",),
    "api.tasks.enqueue_due_retries": ("retried",),
}


@pytest.mark.parametrize(("step", "lost"), STEPS.items(), ids=STEPS.keys())
def test_a_step_that_raises_leaves_the_rest_of_the_pass_running(
    step: str,
    lost: tuple[str, ...],
    due_work: dict[str, Any],
    sim: Simulator,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def planted(*args: object) -> None:
        raise Planted(f"a bug in {step}")

    module, name = step.rsplit(".", 1)
    monkeypatch.setattr(tasks if module == "videos.tasks" else api.tasks, name, planted)
    tasks.run_due_once()
    assert effects(sim, receiver, due_work) == {
        effect: effect not in lost for effect in ("submitted", "polled", "retried")
    }
    assert f"a bug in {step}" in caplog.text  # logged with its traceback


def test_a_job_whose_step_raises_is_recorded_and_paused_while_the_others_go_on(
    due_work: dict[str, Any], user, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = queued_generation(user, prompt="a broken job", next_poll_at=timezone.now())
    Generation.objects.filter(pk=broken.pk).update(
        next_poll_at=timezone.now() - timedelta(minutes=1)  # first in the pass
    )
    submit = tasks.submit_generation

    def submit_unless_broken(pk: int) -> None:
        if pk == broken.pk:
            raise Planted("a bug met by one job")
        submit(pk)

    monkeypatch.setattr(tasks, "submit_generation", submit_unless_broken)
    tasks.run_due_once()
    assert Generation.objects.get(pk=due_work["queued"].pk).status == Status.SUBMITTED
    broken.refresh_from_db()
    assert broken.status == Status.QUEUED
    (error,) = broken.events.filter(kind="error").values_list("message", flat=True)
    assert error.startswith("internal error in ") and "Planted: a bug met by one job" in error
    # Paused: the next passes (a second apart) do not hammer it.
    assert broken.lease_until > timezone.now() + timedelta(seconds=30)
    tasks.run_due_once()
    assert broken.events.filter(kind="error").count() == 1
