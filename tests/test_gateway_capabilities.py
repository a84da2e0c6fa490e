"""What a provider kind cannot do (kling-kinds.md §8), with automatic routing: refused at create
time naming the field when no serving provider can do it, routed to one that can otherwise.
The kinds and features come from the adapter classes' declarations (videos/providers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client

from simulator import Simulator
from simulator.testing import disable_local_providers, provider_for
from tests.api_helpers import issue, post_json
from tests.images import upload
from videos import tasks
from videos.forms import GenerationForm
from videos.models import Generation, Provider, Status
from videos.providers import ADAPTERS, FEATURES

SOUND_BODY = {"model_name": "kling-v2-6", "mode": "pro", "prompt": "rain on a tin roof",
              "duration": "5", "sound": "on"}  # fmt: skip


@pytest.fixture(autouse=True)
def no_local_fallback(db: None) -> None:
    disable_local_providers()


@pytest.fixture
def gateway() -> Iterator[Simulator]:
    with Simulator(shape="openai-video") as running:
        yield running


@pytest.fixture
def kling() -> Iterator[Simulator]:
    with Simulator() as running:
        yield running


def only_gateway_serves(model: str) -> Provider:
    return Provider.objects.create(
        name="gw", kind="openai-video", base_url="https://gw.example", allowed_models=[model]
    )


def test_the_adapters_declare_what_they_can_do() -> None:
    assert ADAPTERS["kling"].features == FEATURES and ADAPTERS["kling"].kinds is None
    assert ADAPTERS["local"].features == FEATURES
    for kind in ("openai-video", "video-generations"):
        assert ADAPTERS[kind].kinds == {"text2video", "image2video"}
        assert ADAPTERS[kind].features == {"camera_control", "sound"}
    assert ADAPTERS["kling-gateway"].features == {"camera_control", "motion_masks"}


def test_the_api_refuses_sound_no_serving_gateway_can_do_and_writes_no_row(user) -> None:
    Provider.objects.create(
        name="gw", kind="kling-gateway", base_url="https://g.example", allowed_models=["kling-v2-6"]
    )
    _key, secret = issue(user)
    answer = post_json(Client(), "/v1/videos/text2video", SOUND_BODY, secret)
    assert answer.status_code == 400, answer.content
    assert answer.json()["code"] == 1201
    assert answer.json()["message"].startswith(
        "sound: No provider serving kling-v2-6 can do sound (served by gw)."
    )
    assert not Generation.objects.exists()


def test_the_form_refuses_voices_when_only_a_gateway_serves(user) -> None:
    only_gateway_serves("kling-v2-6")
    voices = GenerationForm(
        {**SOUND_BODY, "kind": "text2video", "prompt": "<<<voice_1>>> hi", "voice_list": "v1"}
    )
    assert not voices.is_valid()
    assert voices.errors["voice_list"] == [
        "No provider serving kling-v2-6 can do voices (served by gw)."
    ]
    assert "sound" not in voices.errors  # the gateway takes sound (in its metadata, §8a)


def test_the_form_refuses_motion_masks_when_only_a_gateway_serves(user) -> None:
    only_gateway_serves("kling-v1")
    data = {"kind": "image2video", "model_name": "kling-v1", "prompt": "x"}
    form = GenerationForm(data, {"image": upload("f.png"), "static_mask": upload("m.png")})
    assert not form.is_valid()
    assert form.errors["static_mask"] == [
        "No provider serving kling-v1 can do motion masks (served by gw)."
    ]


def test_a_kind_no_serving_gateway_does_is_refused_on_the_model(user) -> None:
    only_gateway_serves("kling-v1-6")
    _key, secret = issue(user)
    answer = post_json(
        Client(),
        "/v1/videos/multi-image2video",
        {"model_name": "kling-v1-6", "prompt": "x", "image_list": [{"image": "aGVsbG8="}]},
        secret,
    )
    assert answer.status_code == 400, answer.content
    assert "No provider serving kling-v1-6 can do multi-image2video" in answer.json()["message"]
    assert not Generation.objects.exists()


def test_a_provider_chosen_by_hand_must_do_it_all(user) -> None:
    chosen = Provider.objects.create(name="seedance", kind="kling-gateway")
    form = GenerationForm({**SOUND_BODY, "kind": "text2video", "provider": chosen.pk})
    assert not form.is_valid()
    assert form.errors["sound"] == ["seedance (kling-gateway) cannot do sound."]


def test_sound_is_routed_past_the_gateway_to_the_provider_that_can(
    gateway: Simulator, kling: Simulator, user
) -> None:
    # The gateway comes first by priority, but only Kling can do voices: the job goes there.
    provider_for(gateway, name="gw", priority=1)
    provider_for(kling, name="kl", priority=2)
    _key, secret = issue(user)
    body = {**SOUND_BODY, "prompt": "<<<voice_1>>> says hi", "voice_list": [{"voice_id": "v1"}]}
    answer = post_json(Client(), "/v1/videos/text2video", body, secret)
    assert answer.status_code == 200, answer.content
    generation = Generation.objects.get()
    tasks.submit_generation(generation.pk)
    generation.refresh_from_db()
    assert generation.provider.name == "kl"
    # Never tried on the gateway (a refusal there would be on the timeline), nothing sent to it.
    assert not generation.events.filter(message__startswith="gw").exists()
    assert generation.status != Status.FAILED, generation.status_message
    assert gateway.tasks == []
    [task] = kling.tasks
    assert task.body["sound"] == "on" and task.body["voice_list"] == [{"voice_id": "v1"}]

    # Without voices the gateway (first by priority) takes the next one, with its sound.
    answer = post_json(Client(), "/v1/videos/text2video", SOUND_BODY, secret)
    assert answer.status_code == 200, answer.content
    second = Generation.objects.exclude(pk=generation.pk).get()
    tasks.submit_generation(second.pk)
    [sent] = gateway.tasks
    assert sent.body["metadata"]["sound"] == "on" and len(kling.tasks) == 1


def test_a_job_no_provider_can_do_any_more_fails_at_once_saying_why(user) -> None:
    # Accepted while Kling served it; the admin then left only a gateway serving the model.
    from simulator.testing import queued_generation

    generation = queued_generation(
        user, model_name="kling-v2-6", mode="pro", sound=True, params={"multi_shot": True}
    )
    only_gateway_serves("kling-v2-6")
    tasks.submit_generation(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert generation.status_message == (
        "no provider serving 'kling-v2-6' can do this: gw cannot do multi_shot"
    )
