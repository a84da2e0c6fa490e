"""Kling routes a gateway maps onto Seedance 2.0 (kling-kinds.md §8c), through a kling-gateway
provider against the simulator's seedance-kling shape: the unenveloped answer, the generic
query, tokens instead of units, results copied at once, 402 as the account's problem, the
likely-ignored fields on the timeline, what the catalogue refuses, and never two creates."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from simulator import Simulator
from simulator.clip import clip_bytes
from simulator.testing import disable_local_providers, provider_for, queued_generation
from tests.api_helpers import issue, post_json
from videos import tasks
from videos.forms import GenerationForm
from videos.models import Generation, Provider, Status, VideoModel

SEEDANCE = "doubao-seedance-2-0-fast-480p"


@pytest.fixture(autouse=True)
def no_local_fallback(db: None) -> None:
    disable_local_providers()


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(shape="seedance-kling") as running:
        yield running


def run_to_end(generation: Generation) -> Generation:
    tasks.submit_generation(generation.pk)
    tasks.poll_generation(generation.pk)
    generation.refresh_from_db()
    return generation


def test_it_runs_through_the_kling_gateway_and_records_tokens_not_units(
    sim: Simulator, user, settings
) -> None:
    settings.STUDIO_PUBLIC_URL = "https://studio.example"
    provider = provider_for(sim, name="seed")
    assert provider.kind == Provider.Kind.GATEWAY and provider.path_prefix == "/kling"
    generation = run_to_end(queued_generation(user, model_name=SEEDANCE, cfg_scale=None))
    assert generation.status == Status.SUCCEEDED, generation.status_message
    [task] = sim.tasks
    # No external id, no callback: the route takes neither (the simulator refuses them).
    assert "external_task_id" not in task.body and "callback_url" not in task.body
    assert generation.upstream_task_id == task.task_id and task.task_id.startswith("task_")
    assert generation.units is None and generation.upstream_video_id == ""
    info = list(generation.events.filter(kind="info").values_list("message", flat=True))
    assert any("usage.completion_tokens = 54000" in m for m in info), info
    with default_storage.open(generation.video.name, "rb") as fh:
        assert fh.read() == clip_bytes()  # copied at once: the gateway's URL expires in hours
    assert sim.counts["video"] == 1


def test_likely_ignored_fields_are_noted_on_the_timeline(sim: Simulator, user) -> None:
    provider_for(sim, name="seed")
    generation = run_to_end(
        queued_generation(
            user,
            model_name=SEEDANCE,
            negative_prompt="blur",
            aspect_ratio="9:16",
            camera_control={"type": "down_back"},
            mode="pro",
        )
    )
    assert generation.status == Status.SUCCEEDED, generation.status_message
    info = " | ".join(generation.events.filter(kind="info").values_list("message", flat=True))
    assert "camera_control is likely ignored by seed" in info and "mode pro is likely" in info
    assert "negative_prompt is likely ignored by seed" in info
    assert "aspect_ratio is likely ignored" in info


def test_the_failure_reason_is_shown(sim: Simulator, user) -> None:
    provider_for(sim, name="seed")
    generation = run_to_end(queued_generation(user, model_name=SEEDANCE, prompt="sim:fail rain"))
    assert generation.status == Status.FAILED
    assert "the video could not be generated" in generation.status_message


@pytest.mark.parametrize(
    "fault", ["drop_after_accept", "accept_then_500", "ok_without_id", "malformed", "503", "slow"]
)
def test_an_ambiguous_create_is_never_sent_twice(user, settings, fault: str) -> None:
    settings.STUDIO_UPSTREAM_TIMEOUT = 0.5
    with Simulator(shape="seedance-kling", slow_seconds=1.0) as sim:
        provider_for(sim, name="seed")
        sim.add_fault(fault, on="create", times=5)
        generation = queued_generation(user, model_name=SEEDANCE, cfg_scale=None)
        tasks.submit_generation(generation.pk)
        Generation.objects.filter(pk=generation.pk).update(next_poll_at=timezone.now())
        tasks.run_due_once()
        tasks.submit_generation(generation.pk)
        assert sim.counts["create"] == 1
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert generation.status_message.startswith("outcome unknown, not retried")


def test_insufficient_quota_is_the_accounts_problem_and_fails_over(sim: Simulator, user) -> None:
    """402 insufficient_quota is like Kling's 1102: the provider is marked, the next one runs."""
    seed = provider_for(sim, name="seed", priority=1)
    with Simulator(shape="seedance-kling") as other:
        backup = provider_for(other, name="backup", priority=2)
        sim.add_fault("quota", on="create")
        generation = run_to_end(queued_generation(user, model_name=SEEDANCE, cfg_scale=None))
        seed.refresh_from_db()
        assert not seed.healthy and "insufficient quota" in seed.health_message
        assert generation.status == Status.SUCCEEDED, generation.status_message
        assert generation.provider == backup and len(other.tasks) == 1 and not sim.tasks


def test_the_catalogue_refuses_what_a_gateway_model_cannot_do_by_field(db: None) -> None:
    entry = VideoModel.objects.get(name=SEEDANCE)
    assert entry.kinds == ["text2video", "image2video"] and entry.durations[0] == 4
    short = {"kind": "text2video", "model_name": SEEDANCE, "prompt": "a watch", "duration": 3}
    form = GenerationForm(short)
    assert not form.is_valid()
    assert "durations of 4, 5" in " ".join(form.errors["duration"])  # §8c: 3 s refused
    moving = {**short, "model_name": "MiniMax-Hailuo-02", "duration": 6, "camera_type": "down_back"}
    form = GenerationForm(moving)
    assert not form.is_valid()
    assert "does not support camera control" in " ".join(form.errors["camera_type"])


def test_the_api_refuses_camera_control_for_hailuo_naming_the_field(client: Client, user) -> None:
    _key, secret = issue(user)
    body = {
        "model_name": "MiniMax-Hailuo-02",
        "prompt": "a watch turning",
        "duration": "6",
        "camera_control": {"type": "down_back"},
    }
    response = post_json(client, "/kling/v1/videos/text2video", body, secret)
    assert response.status_code == 400
    answer = response.json()
    assert answer["code"] == 1201 and "camera" in answer["message"]
    assert not Generation.objects.exists()


def test_gateway_families_are_in_the_catalogue(db: None) -> None:
    names = set(VideoModel.objects.values_list("name", flat=True))
    assert {SEEDANCE, "doubao-seedance-2-0-fast-720p", "MiniMax-Hailuo-02", "viduq1"} <= names
    assert "pixverse-v4.5" in names
    hailuo = VideoModel.objects.get(name="MiniMax-Hailuo-02")
    assert hailuo.durations == [6, 10] and hailuo.supports_last_frame
    assert not hailuo.supports_camera_control


def test_running_seedance_tasks_are_polled_one_by_one_once_the_list_is_missing(
    sim: Simulator, user, settings
) -> None:
    """The Seedance routes have no list: the batch poller notices once and queries each task."""
    settings.STUDIO_BATCH_MIN_RUNNING = 1
    provider = provider_for(sim, name="seed")
    sim.min_seconds = sim.max_seconds = 600
    generation = queued_generation(user, model_name=SEEDANCE, cfg_scale=None)
    tasks.submit_generation(generation.pk)
    sim.finish(sim.tasks[0].task_id, "succeed")
    Generation.objects.filter(pk=generation.pk).update(next_poll_at=timezone.now())
    tasks.run_due_once()
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED, generation.status_message
    assert sim.counts["list"] == 1 and not provider.upstream().lists_tasks


def test_provider_test_on_a_seedance_gateway_without_a_list_asks_for_its_models(
    sim: Simulator,
) -> None:
    provider = provider_for(sim, name="seed")
    ok, message = tasks.probe_provider(provider.pk)
    assert ok and "/v1/models lists 3 models" in message, message
    assert sim.counts["list"] == 1 and sim.counts["models"] == 1
