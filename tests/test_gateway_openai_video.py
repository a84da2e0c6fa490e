"""An OpenAI-style video gateway as a provider (kling-kinds.md §8a), against the simulator's
openai-video shape as a real HTTP server: the strict body on the wire, multipart frames, the
content endpoint, openai-poll-after-ms, failure reasons, and never two creates."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from simulator import Simulator
from simulator.clip import clip_bytes
from simulator.server import POLL_AFTER_MS
from simulator.testing import disable_local_providers, provider_for, queued_generation
from tests.images import image_bytes
from videos import tasks
from videos.models import Generation, Provider, Status


@pytest.fixture(autouse=True)
def no_local_fallback(db: None) -> None:
    disable_local_providers()


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(shape="openai-video") as running:
        yield running


def run_to_end(generation: Generation) -> Generation:
    tasks.submit_generation(generation.pk)
    tasks.poll_generation(generation.pk)
    generation.refresh_from_db()
    return generation


def test_it_sends_openai_fields_with_the_extras_in_metadata(sim: Simulator, user, settings) -> None:
    settings.STUDIO_PUBLIC_URL = "https://studio.example"  # a callback URL exists, never sent
    provider = provider_for(sim, name="oa")
    assert provider.kind == "openai-video"
    provider.model_map = {"kling-v1": "kling-v1-gateway-name"}
    provider.save()
    generation = run_to_end(
        queued_generation(user, negative_prompt="blur", aspect_ratio="9:16", duration=10)
    )
    assert generation.status == Status.SUCCEEDED, generation.status_message
    [task] = sim.tasks
    assert task.body["model"] == "kling-v1-gateway-name"
    assert task.body["seconds"] == "10" and task.body["size"] == "720x1280"
    assert task.body["metadata"] == {
        "negative_prompt": "blur",
        "mode": "std",
        "aspect_ratio": "9:16",
        "duration": "10",
        "cfg_scale": 0.5,
    }
    assert "callback_url" not in str(task.body) and "external_task_id" not in str(task.body)


def test_a_result_without_url_is_fetched_from_the_content_endpoint_with_the_key(
    sim: Simulator, user
) -> None:
    provider_for(sim, name="oa")
    generation = run_to_end(queued_generation(user))
    assert generation.status == Status.SUCCEEDED, generation.status_message
    assert sim.counts["content"] == 1
    assert generation.upstream_video_url.endswith(
        f"/v1/videos/{sim.tasks[0].task_id}/content?variant=video"
    )
    with default_storage.open(generation.video.name, "rb") as fh:
        assert fh.read() == clip_bytes()


def test_a_result_with_metadata_url_is_copied_from_there(sim: Simulator, user) -> None:
    provider_for(sim, name="oa")
    generation = run_to_end(queued_generation(user, prompt="a kite sim:url"))
    assert generation.status == Status.SUCCEEDED, generation.status_message
    assert sim.counts["content"] == 0 and sim.counts["video"] == 1
    assert default_storage.exists(generation.video.name)


def test_a_first_frame_goes_as_a_multipart_file_part(sim: Simulator, user) -> None:
    provider_for(sim, name="oa")
    generation = queued_generation(user, kind="image2video", prompt="it moves", aspect_ratio="1:1")
    frame = image_bytes()
    generation.image.save("frame.png", ContentFile(frame), save=True)
    generation = run_to_end(generation)
    assert generation.status == Status.SUCCEEDED, generation.status_message
    [task] = sim.tasks
    with default_storage.open(generation.image.name, "rb") as fh:
        assert base64.b64decode(task.body["input_reference"]) == fh.read()
    assert task.body["metadata"]["aspect_ratio"] == "1:1"  # a JSON string part, parsed
    assert task.body["size"] == "1024x1024"


def test_it_waits_as_long_as_openai_poll_after_ms_says(user, settings) -> None:
    settings.STUDIO_POLL_SCALE = 1.0
    with Simulator(shape="openai-video", min_seconds=600, max_seconds=600) as sim:
        provider_for(sim, name="oa")
        generation = queued_generation(user)
        tasks.submit_generation(generation.pk)
        before = timezone.now()
        tasks.poll_generation(generation.pk)
        generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED
    wait = (generation.next_poll_at - before).total_seconds()
    assert wait == pytest.approx(POLL_AFTER_MS / 1000, abs=1.0)


def test_the_gateways_failure_reason_is_shown(sim: Simulator, user) -> None:
    provider_for(sim, name="oa")
    generation = run_to_end(queued_generation(user, prompt="a storm sim:fail"))
    assert generation.status == Status.FAILED
    assert "the video could not be generated" in generation.status_message


@pytest.mark.parametrize(
    "fault", ["drop_after_accept", "accept_then_500", "ok_without_id", "malformed", "503", "slow"]
)
def test_an_ambiguous_create_is_never_sent_twice(user, settings, fault: str) -> None:
    settings.STUDIO_UPSTREAM_TIMEOUT = 0.5
    with Simulator(shape="openai-video", slow_seconds=1.0) as sim:
        provider_for(sim, name="oa")
        sim.add_fault(fault, on="create", times=5)
        generation = queued_generation(user)
        tasks.submit_generation(generation.pk)
        generation.refresh_from_db()
        # Whatever comes later (the due loop, a second submit) sends nothing more.
        Generation.objects.filter(pk=generation.pk).update(next_poll_at=timezone.now())
        tasks.run_due_once()
        tasks.submit_generation(generation.pk)
        assert sim.counts["create"] == 1
    assert generation.status == Status.FAILED
    message = generation.status_message
    assert message.startswith("outcome unknown, not retried")
    assert "oa's own log" in message and "not to pay twice" in message


def test_an_interrupted_create_is_not_looked_up_or_sent_again(sim: Simulator, user) -> None:
    provider = provider_for(sim, name="oa")
    generation = queued_generation(user)
    # A worker died after recording the attempt, before any answer.
    Generation.objects.filter(pk=generation.pk).update(
        create_provider=provider, create_attempted_at=timezone.now() - timedelta(minutes=5)
    )
    tasks.submit_generation(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert "outcome unknown, not retried" in generation.status_message
    assert sim.counts["create"] == 0


def test_a_rate_limit_is_certainly_not_a_create_so_it_is_retried(sim: Simulator, user) -> None:
    provider_for(sim, name="oa")
    sim.add_fault("rate_limit", on="create")
    generation = queued_generation(user)
    tasks.submit_generation(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.QUEUED and "rate limit" in generation.waiting_reason
    tasks.submit_generation(generation.pk)  # the backoff is skipped here: submit again
    Generation.objects.filter(pk=generation.pk).update(next_poll_at=timezone.now())
    tasks.run_due_once()
    generation.refresh_from_db()
    assert len(sim.tasks) == 1 and generation.upstream_task_id == sim.tasks[0].task_id


def test_insufficient_quota_marks_the_provider_unhealthy(sim: Simulator, user) -> None:
    provider = provider_for(sim, name="oa")
    generation = run_to_end(queued_generation(user, prompt="sim:quota a lake"))
    provider.refresh_from_db()
    assert not provider.healthy and "insufficient quota" in provider.health_message
    assert generation.status in (Status.QUEUED, Status.FAILED) and not sim.tasks


def test_effects_are_refused_by_name_not_sent(sim: Simulator, user) -> None:
    provider_for(sim, name="oa")
    generation = queued_generation(
        user, kind="effects", model_name="kling-effects", params={"effect_scene": "rocket"}
    )
    tasks.submit_generation(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert "oa cannot do effects" in generation.status_message
    assert sim.counts["create"] == 0


def test_the_probe_proves_the_key(sim: Simulator) -> None:
    provider = provider_for(sim, name="oa")
    ok, message = tasks.probe_provider(provider.pk)
    assert ok and "/v1/models lists 3 models" in message
    provider.set_credentials(api_key="wrong")
    provider.save()
    ok, message = tasks.probe_provider(provider.pk)
    provider.refresh_from_db()
    assert not ok and not provider.healthy and "invalid API key" in message
    assert Provider.objects.get(pk=provider.pk).kind == "openai-video"


@pytest.mark.parametrize("api", ["kling", "openai"])
def test_a_hailuo_job_from_the_studios_api_runs_on_the_gateway(
    sim: Simulator, client, user, api: str
) -> None:
    from tests.api_helpers import issue, post_json

    provider_for(sim, name="oa")
    _key, secret = issue(user)
    if api == "kling":
        body = {"model_name": "MiniMax-Hailuo-02", "prompt": "a heron lands", "duration": "6"}
        response = post_json(client, "/kling/v1/videos/text2video", body, secret)
    else:
        body = {"model": "MiniMax-Hailuo-02", "prompt": "a heron lands", "seconds": "6"}
        response = post_json(client, "/v1/videos", body, secret)
    assert response.status_code == 200, response.content
    generation = Generation.objects.get(model_name="MiniMax-Hailuo-02")
    assert generation.estimated_units == Decimal("2.40")  # the catalogue's price, by duration
    generation = run_to_end(generation)
    assert generation.status == Status.SUCCEEDED, generation.status_message
    [task] = sim.tasks
    assert task.body["model"] == "MiniMax-Hailuo-02" and task.body["seconds"] == "6"
    assert default_storage.exists(generation.video.name)


def test_the_web_form_runs_a_seedance_job_on_the_gateway(sim: Simulator, alice_client) -> None:
    provider_for(sim, name="oa")
    form = {
        "kind": "text2video",
        "model_name": "doubao-seedance-2-0-fast-720p",
        "prompt": "a lantern drifts",
        "duration": "8",
        "mode": "std",
        "aspect_ratio": "16:9",
    }
    response = alice_client.post("/generations/new/", form)
    assert response.status_code in (200, 302), response.content[:500]
    generation = Generation.objects.get()
    generation = run_to_end(generation)
    assert generation.status == Status.SUCCEEDED, generation.status_message
    assert sim.tasks[0].body["metadata"]["duration"] == "8"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"metadata": {"duration": "5", "aspect_ratio": "16:9", "model": "x"}}, "must not carry"),
        ({"metadata": {"duration": "5", "aspect_ratio": "16:9", "callback_url": "h"}}, "callback"),
        ({"metadata": {"duration": 5, "aspect_ratio": "16:9"}}, "metadata.duration"),
        ({"metadata": {"duration": "5"}}, "metadata.aspect_ratio"),
        ({"seconds": 5}, "seconds"),
        ({"size": "16:9"}, "size"),
        ({"external_task_id": "1"}, "unknown field"),
    ],
)
def test_the_simulator_is_strict_about_what_the_studio_must_never_send(
    sim: Simulator, change, named: str
) -> None:
    import httpx

    body = {"model": "m", "prompt": "p", "seconds": "5", "size": "1280x720"}
    body["metadata"] = {"duration": "5", "aspect_ratio": "16:9"}
    response = httpx.post(
        f"{sim.url}/v1/videos",
        json=body | change,
        headers={"Authorization": f"Bearer {sim.api_key}"},
    )
    assert response.status_code == 400 and named in response.json()["error"]["message"]
    assert not sim.tasks
