"""The Kling client against the simulator: the happy path, the body on the wire, units, results."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from decimal import Decimal

import jwt
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from simulator import Simulator
from simulator.clip import clip_bytes
from simulator.testing import (
    disable_local_providers,
    provider_for,
    queued_generation,
    submitted_generation,
)
from tests.images import image_bytes
from videos import tasks
from videos.models import Generation, Status
from videos.providers.kling import make_jwt, parse_task


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


@pytest.fixture(autouse=True)
def no_local_fallback(db: None) -> None:
    """Only the simulator serves: the built-in renderer would otherwise take over on failures."""
    disable_local_providers()


def run_to_end(generation: Generation) -> Generation:
    tasks.submit_generation(generation.pk)
    tasks.poll_generation(generation.pk)
    generation.refresh_from_db()
    return generation


def test_its_jwt_has_the_kling_claims() -> None:
    token = make_jwt("my-ak", "my-sk-0123456789abcdef0123456789ab", now=1_000_000)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims == {"iss": "my-ak", "exp": 1_001_800, "nbf": 999_995}


def test_it_never_sends_cfg_scale_to_v2_models(sim: Simulator, user) -> None:
    provider_for(sim)
    generation = submitted_generation(user, model_name="kling-v2-master", cfg_scale=0.7)
    [task] = sim.tasks_for(str(generation.pk))
    assert "cfg_scale" not in task.body and task.body["mode"] == "std"


def test_it_sends_frames_as_raw_base64_without_aspect_ratio(sim: Simulator, user) -> None:
    provider_for(sim)
    generation = queued_generation(user, kind="image2video", model_name="kling-v1-5", prompt="")
    generation.image.save("image.jpg", ContentFile(image_bytes()), save=True)
    tasks.submit_generation(generation.pk)
    [task] = sim.tasks_for(str(generation.pk))
    assert base64.b64decode(task.body["image"]) == image_bytes()
    assert "aspect_ratio" not in task.body and "prompt" not in task.body


def test_it_accepts_an_access_key_pipe_secret_key_credential(sim: Simulator, user) -> None:
    provider = provider_for(sim)
    provider.set_credentials(api_key=f"{sim.access_key}|{sim.secret_key}")
    provider.save()
    generation = run_to_end(queued_generation(user))
    assert generation.status == Status.SUCCEEDED


def test_it_fails_with_the_reason_from_task_status_msg(sim: Simulator, user) -> None:
    provider_for(sim)
    generation = run_to_end(queued_generation(user, prompt="a storm sim:fail"))
    assert generation.status == Status.FAILED
    assert generation.status_message == "simulated failure: the video could not be generated"
    assert not generation.video and generation.units == Decimal("0")


def test_it_sends_the_upstream_model_name_of_the_provider(sim: Simulator, user) -> None:
    provider_for(sim, model_map={"kling-v1": "kling-v1-6"})
    generation = submitted_generation(user)
    assert sim.tasks_for(str(generation.pk))[0].body["model_name"] == "kling-v1-6"


def test_it_sends_its_own_callback_url_never_the_clients(sim: Simulator, user, settings) -> None:
    provider_for(sim)
    hook = "https://client.example/hook"
    without = submitted_generation(user, client_callback_url=hook)
    assert "callback_url" not in sim.tasks_for(str(without.pk))[0].body
    settings.STUDIO_PUBLIC_URL = "https://studio.example"
    generation = submitted_generation(user, client_callback_url=hook)
    sent = sim.tasks_for(str(generation.pk))[0].body["callback_url"]
    token = generation.callback_token
    assert sent == f"https://studio.example/upstream/callback/{generation.pk}/{token}/"
    assert len(token) >= 32


@pytest.mark.parametrize("shape", ["kling", "flat", "openai", "record"])
def test_it_runs_a_job_on_a_gateway_answering_in_any_shape(user, shape: str) -> None:
    with Simulator(gateway=True, api_key="gw-secret-key", shape=shape) as gateway:
        provider = provider_for(gateway, name=f"gw-{shape}")
        assert provider.path_prefix == "/kling"
        # A Kling model: Seedance-mapped routes take no external id (tests/test_gateway_seedance).
        generation = run_to_end(queued_generation(user, model_name="kling-v1"))
        assert generation.status == Status.SUCCEEDED, generation.status_message
        assert default_storage.exists(generation.video.name)
        [task] = gateway.tasks_for(str(generation.pk))
        assert generation.upstream_task_id == task.task_id
        raw = generation.events.filter(kind="upstream").first().data
        expected = gateway.shaped(task, fresh=True)  # the raw answer is on the timeline
        assert {k: v for k, v in raw.items() if k != "request_id"} == {
            k: v for k, v in expected.items() if k != "request_id"
        }


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("submitted", "submitted"),
        ("queued", "submitted"),
        ("pending", "submitted"),
        ("SUBMITTED", "submitted"),
        ("QUEUED", "submitted"),
        ("NOT_START", "submitted"),
        ("processing", "processing"),
        ("in_progress", "processing"),
        ("running", "processing"),
        ("IN_PROGRESS", "processing"),
        ("succeed", "succeeded"),
        ("succeeded", "succeeded"),
        ("success", "succeeded"),
        ("completed", "succeeded"),
        ("SUCCESS", "succeeded"),
        ("failed", "failed"),
        ("failure", "failed"),
        ("FAILURE", "failed"),
        ("error", "failed"),
        ("cancelled", "failed"),
        ("paused", None),
    ],
)
def test_it_normalises_every_status_synonym(word: str, status: str | None) -> None:
    state = parse_task(
        {"code": 0, "message": "SUCCEED", "data": {"task_id": "1", "task_status": word}}
    )
    assert state.status == status


def test_it_records_an_unknown_status_and_keeps_polling(user) -> None:
    generation = queued_generation(user, status=Status.SUBMITTED, upstream_task_id="9")
    state = parse_task({"task_id": "9", "status": "paused"})
    generation.claim()
    tasks.apply_state(generation, state)
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED and generation.next_poll_at is not None
    assert "unrecognised upstream status 'paused'" in generation.events.last().message


def test_it_finds_the_video_url_in_every_shape() -> None:
    url = "https://cdn.example/v.mp4"
    shapes = [
        {
            "code": 0,
            "data": {
                "task_id": "1",
                "task_status": "succeed",
                "task_result": {"videos": [{"url": url, "duration": "5.1"}]},
            },
        },
        {"task_id": "1", "status": "succeeded", "url": url, "format": "mp4"},
        {"id": "1", "object": "video", "status": "completed", "metadata": {"url": url}},
        {
            "code": "success",
            "data": {"task_id": "1", "status": "SUCCESS", "result_url": url, "progress": "100%"},
        },
    ]
    for body in shapes:
        state = parse_task(body)
        assert (state.task_id, state.status, state.video_url) == ("1", "succeeded", url)
