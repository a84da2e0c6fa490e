"""A new-api-style gateway as a provider (kling-kinds.md §8b), against the simulator's
video-generations shape: the generic body on the wire, every query answer shape and status
word, progress as a number or "30%", failure reasons, stored results, one create at most."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from simulator import Simulator
from simulator.clip import clip_bytes
from simulator.testing import disable_local_providers, provider_for, queued_generation
from tests.images import image_bytes
from videos import tasks
from videos.models import Generation, Provider, Status
from videos.providers.gateway import parse_answer


@pytest.fixture(autouse=True)
def no_local_fallback(db: None) -> None:
    disable_local_providers()


def run_to_end(generation: Generation) -> Generation:
    tasks.submit_generation(generation.pk)
    tasks.poll_generation(generation.pk)
    generation.refresh_from_db()
    return generation


@pytest.mark.parametrize("answers", ["flat", "code", "seedance"])
def test_every_answer_shape_ends_in_a_stored_video(user, answers: str) -> None:
    with Simulator(shape="video-generations", generations_answer=answers) as sim:
        provider = provider_for(sim, name="vg")
        assert provider.kind == "video-generations"
        generation = run_to_end(
            queued_generation(user, model_name="doubao-seedance-2-0-fast-480p", duration=6)
        )
        assert generation.status == Status.SUCCEEDED, generation.status_message
        [task] = sim.tasks
    assert generation.upstream_task_id == task.task_id
    with default_storage.open(generation.video.name, "rb") as fh:
        assert fh.read() == clip_bytes()
    body = task.body
    assert body["model"] == "doubao-seedance-2-0-fast-480p"
    assert body["duration"] == 6 and body["seconds"] == "6"  # an integer, and seconds a string
    assert (body["width"], body["height"], body["size"]) == (1280, 720, "1280x720")
    assert body["metadata"]["duration"] == "6" and body["metadata"]["aspect_ratio"] == "16:9"
    if answers == "seedance":
        info = generation.events.filter(kind="info").values_list("message", flat=True)
        assert any("usage.completion_tokens = 64800" in m for m in info)


@pytest.mark.parametrize("answers", ["flat", "code", "seedance"])
def test_the_failure_reason_is_shown_in_every_shape(user, answers: str) -> None:
    with Simulator(shape="video-generations", generations_answer=answers) as sim:
        provider_for(sim, name="vg")
        generation = run_to_end(queued_generation(user, prompt="fog sim:fail"))
    assert generation.status == Status.FAILED
    assert "the video could not be generated" in generation.status_message


def test_a_first_frame_rides_as_image(user) -> None:
    with Simulator(shape="video-generations") as sim:
        provider_for(sim, name="vg")
        generation = queued_generation(user, kind="image2video", prompt="it moves")
        generation.image.save("frame.png", ContentFile(image_bytes()), save=True)
        generation = run_to_end(generation)
        [task] = sim.tasks
    assert generation.status == Status.SUCCEEDED, generation.status_message
    assert task.body["image"] and not task.body["image"].startswith("data:")


@pytest.mark.parametrize(
    ("answer", "status", "progress"),
    [
        ({"task_id": "t1", "status": "queued"}, "submitted", None),
        ({"task_id": "t1", "status": "NOT_START"}, "submitted", None),
        ({"task_id": "t1", "status": "processing", "progress": 30}, "processing", 30),
        ({"task_id": "t1", "status": "running", "progress": "45%"}, "processing", 45),
        (
            {
                "code": "success",
                "data": {"task_id": "t1", "status": "IN_PROGRESS", "progress": "30%"},
            },
            "processing",
            30,
        ),
        ({"task_id": "t1", "status": "in_progress"}, "processing", None),
        ({"task_id": "t1", "status": "succeeded", "url": "https://x/v.mp4"}, "succeeded", None),
        (
            {"id": "t1", "status": "completed", "output": {"video_url": "https://x/v.mp4"}},
            "succeeded",
            None,
        ),
        (
            {
                "code": "success",
                "data": {"task_id": "t1", "status": "SUCCESS", "result_url": "https://x/v.mp4"},
            },
            "succeeded",
            None,
        ),
        ({"task_id": "t1", "status": "FAILURE", "fail_reason": "nsfw"}, "failed", None),
        ({"task_id": "t1", "status": "timeout"}, "failed", None),
        ({"task_id": "t1", "status": "unknown"}, None, None),
    ],
)
def test_it_reads_every_status_word_and_progress(answer, status, progress) -> None:
    state = parse_answer(answer)
    assert state.task_id == "t1"
    assert state.status == status and state.progress == progress
    if status == "succeeded":
        assert state.video_url == "https://x/v.mp4"
    if answer.get("fail_reason"):
        assert state.message == "nsfw"
    if answer.get("status") == "unknown":
        assert "unrecognised" not in state.message  # "unknown": unchanged, polled again


@pytest.mark.parametrize(
    "fault", ["drop_after_accept", "accept_then_500", "ok_without_id", "malformed", "500", "slow"]
)
def test_an_ambiguous_create_is_never_sent_twice(user, settings, fault: str) -> None:
    settings.STUDIO_UPSTREAM_TIMEOUT = 0.5
    with Simulator(shape="video-generations", slow_seconds=1.0) as sim:
        provider_for(sim, name="vg")
        sim.add_fault(fault, on="create", times=5)
        generation = queued_generation(user)
        tasks.submit_generation(generation.pk)
        Generation.objects.filter(pk=generation.pk).update(next_poll_at=timezone.now())
        tasks.run_due_once()
        tasks.submit_generation(generation.pk)
        assert sim.counts["create"] == 1
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert generation.status_message.startswith("outcome unknown, not retried")
    assert "vg's own log" in generation.status_message


def test_a_strict_refusal_names_the_field(user) -> None:
    with Simulator(shape="video-generations") as sim:
        provider_for(sim, name="vg")
        generation = run_to_end(queued_generation(user, model_name="sim-missing-model"))
    assert generation.status == Status.FAILED
    assert "does not exist" in generation.status_message


def test_the_probe_proves_the_key(user) -> None:
    with Simulator(shape="video-generations") as sim:
        provider = provider_for(sim, name="vg")
        ok, message = tasks.probe_provider(provider.pk)
    assert ok and "the key works" in message and sim.counts["models"] == 1


@pytest.mark.parametrize("shape", ["openai-video", "video-generations", "seedance-kling"])
def test_random_faults_never_make_two_upstream_tasks_for_one_generation(
    user, settings, shape: str
) -> None:
    """The existing fault injection at 40 %: every job ends, and none is paid for twice."""
    settings.STUDIO_UPSTREAM_TIMEOUT = 1.0
    with Simulator(shape=shape, fault_rate=0.4, seed=7, slow_seconds=1.5) as sim:
        provider_for(sim, name="gw")
        model = "doubao-seedance-2-0-fast-480p"
        made = [
            queued_generation(user, model_name=model, prompt=f"scene {n}", cfg_scale=None)
            for n in range(10)
        ]
        pending = Generation.objects.filter(
            pk__in=[g.pk for g in made], status__in=Generation.PENDING
        )
        for _ in range(60):
            if not pending.exists():
                break
            pending.update(next_poll_at=timezone.now(), lease_until=None)
            Provider.objects.update(healthy=True, consecutive_failures=0)
            tasks.run_due_once()
        prompts = [str(task.body.get("prompt")) for task in sim.tasks]
    assert not pending.exists()
    outcomes = [
        g.status_message[:30] for g in Generation.objects.filter(pk__in=[g.pk for g in made])
    ]
    assert "" in outcomes and "outcome unknown, not retried: " in outcomes  # both happened
    assert len(prompts) == len(set(prompts)), "a generation was created upstream twice"
    for generation in Generation.objects.filter(pk__in=[g.pk for g in made]):
        assert generation.status in (Status.SUCCEEDED, Status.FAILED)
        if generation.status == Status.SUCCEEDED:
            assert generation.video and prompts.count(generation.prompt) == 1
        else:
            assert generation.status_message  # a reason, whatever it is
