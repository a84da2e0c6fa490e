"""The Kling client against the simulator: the happy path, the body on the wire, units, results."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage

from videos import tasks
from videos.models import Status
from videos.simulator import Simulator
from videos.simulator.clip import clip_bytes
from videos.simulator.testing import provider_for, queued_generation


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as running:
        yield running


def test_it_submits_polls_and_stores_the_video(sim: Simulator, user) -> None:
    provider = provider_for(sim)
    generation = queued_generation(user)

    tasks.submit_generation(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED
    assert generation.provider == provider
    [task] = sim.tasks_for(str(generation.pk))
    assert generation.upstream_task_id == task.task_id
    assert task.body["duration"] == "5" and task.body["external_task_id"] == str(generation.pk)

    tasks.poll_generation(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED, generation.status_message
    with default_storage.open(generation.video.name, "rb") as fh:
        assert fh.read() == clip_bytes()
    assert default_storage.exists(generation.poster.name)
    assert generation.units == Decimal("1")
    assert generation.upstream_video_url.endswith(f"/sim/videos/{task.task_id}.mp4")
    assert generation.video_width == 1280 and generation.video_duration == pytest.approx(3, abs=0.1)
