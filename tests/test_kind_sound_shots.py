"""sound, voice_list and multi-shot on text2video and image2video (kling-kinds.md §7.2):
the form's rules, the API, the strict body upstream, the simulator and the local render."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from api.models import ApiTask
from simulator import Simulator
from simulator.rules import check_create
from simulator.testing import disable_local_providers, provider_for
from tests.api_helpers import issue, post_json
from tests.images import image_bytes, upload
from tests.renders import audio_streams, difference, frames_of, rms, sound_of
from videos.creation import Origin, create_generation
from videos.forms import GenerationForm, initial_from
from videos.models import Generation, Status
from videos.rendering.requests import _video_spec

PHOTO = base64.b64encode(image_bytes(640, 360)).decode()
T2V_ROUTES = ["/v1/videos/text2video", "/kling/v1/videos/text2video"]
I2V_ROUTES = ["/v1/videos/image2video", "/kling/v1/videos/image2video"]
SHOTS_12 = [
    {"index": 1, "prompt": "A harbour at dawn", "duration": "4"},
    {"index": 2, "prompt": "A ferry leaves the quay", "duration": "5"},
    {"index": 3, "prompt": "Gulls over the open sea", "duration": "3"},
]
# The bodies of §7.2, as a client would send them to Kling.
V3_SHOTS = {
    "model_name": "kling-v3",
    "prompt": "",
    "duration": "12",
    "mode": "std",
    "aspect_ratio": "16:9",
    "sound": "on",
    "multi_shot": True,
    "shot_type": "customize",
    "multi_prompt": SHOTS_12,
}
V3_INTELLIGENCE = {
    "model_name": "kling-v3",
    "prompt": "A storm rolls over a lighthouse, then the sky clears",
    "duration": "10",
    "multi_shot": "true",  # tolerated (§7.2); sent upstream as a bool
    "shot_type": "intelligence",
}
V26_VOICES = {
    "model_name": "kling-v2-6",
    "mode": "pro",
    "prompt": "<<<voice_1>>> says hello, <<<voice_2>>> answers",
    "duration": "5",
    "sound": "on",
    "voice_list": [{"voice_id": "829826019604516891"}, {"voice_id": "studio_narrator-2"}],
}


def form(**fields: Any) -> GenerationForm:
    data = {"kind": "text2video", "model_name": "kling-v3", "prompt": "A quiet lake", **fields}
    bound = GenerationForm(data)
    bound.is_valid()
    return bound


def created(bound: GenerationForm, user: Any) -> Generation:
    assert bound.is_valid(), bound.errors
    return create_generation(bound, Origin(owner=user))


# ---- the rules ---------------------------------------------------------------------------------
@pytest.mark.django_db
def test_written_shots_are_kept_with_string_durations(user) -> None:
    generation = created(
        form(
            prompt="",
            duration=12,
            sound="on",
            multi_shot=True,
            shot_type="customize",
            multi_prompt=SHOTS_12,
        ),
        user,
    )
    generation.refresh_from_db()
    assert generation.sound is True
    assert generation.params == {
        "multi_shot": True,
        "shot_type": "customize",
        "multi_prompt": SHOTS_12,
    }


@pytest.mark.django_db
def test_voices_are_kept_for_kling_v2_6_pro_with_sound(user) -> None:
    fields = {k: v for k, v in V26_VOICES.items() if k != "duration"}
    generation = created(form(**fields), user)
    assert generation.sound and generation.params == {"voice_list": V26_VOICES["voice_list"]}


@pytest.mark.django_db
def test_a_plain_clip_keeps_no_sound_or_shots_and_ignores_stray_shot_fields(user) -> None:
    # multi_shot off: upstream ignores shot_type and multi_prompt, so they are not kept.
    bound = form(shot_type="customize", multi_prompt=[{"index": 1, "prompt": "", "duration": "x"}])
    generation = created(bound, user)
    assert generation.sound is False and generation.params == {}


@pytest.mark.django_db
def test_re_run_keeps_sound_voices_and_shots(user) -> None:
    shots = created(
        form(
            prompt="",
            duration=12,
            sound="on",
            multi_shot=True,
            shot_type="customize",
            multi_prompt=SHOTS_12,
        ),
        user,
    )
    again = GenerationForm(initial_from(shots))
    assert again.is_valid(), again.errors
    assert again.sound_shots_params() == shots.params and again.cleaned_data["sound"] is True


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"model_name": "kling-v1", "sound": "on"}, "sound", "kling-v1 has no sound."),
        (
            {"model_name": "kling-v2-6", "mode": "std", "sound": "on"},
            "sound",
            "kling-v2-6 has sound only in pro mode, not std.",
        ),
        ({"sound": "loud"}, "sound", 'Choose "on" or "off".'),
        (
            {"sound": "on", "voice_list": [{"voice_id": "v1"}], "prompt": "<<<voice_1>>> hi"},
            "voice_list",
            "kling-v3 has no voices.",
        ),
        (
            {
                "model_name": "kling-v2-6",
                "mode": "pro",
                "voice_list": "v1",
                "prompt": "<<<voice_1>>> hi",
            },
            "voice_list",
            "Voices need sound on.",
        ),
        (
            {"model_name": "kling-v2-6", "mode": "pro", "sound": "on", "voice_list": "a, b, c"},
            "voice_list",
            "At most 2 voices (got 3).",
        ),
        (
            {
                "model_name": "kling-v2-6",
                "mode": "pro",
                "sound": "on",
                "voice_list": [{"voice_id": "<<<voice_1>>>"}],
            },
            "voice_list",
            "Voice 1 is not a voice id: use the id the voice API gave (letters, digits, - and _, "
            "at most 64).",
        ),
        (
            {
                "model_name": "kling-v2-6",
                "mode": "pro",
                "sound": "on",
                "voice_list": "v1",
                "prompt": "<<<voice_2>>> sings",
            },
            "prompt",
            "The prompt cites <<<voice_2>>> but the voice list has 1.",
        ),
        (
            {
                "model_name": "kling-v2-6",
                "mode": "pro",
                "sound": "on",
                "voice_list": "v1, v2",
                "prompt": "<<<voice_1>>> sings alone",
            },
            "voice_list",
            "Cite voice 2 in the prompt as <<<voice_2>>>.",
        ),
        (
            {"model_name": "kling-v2-6", "multi_shot": True, "shot_type": "intelligence"},
            "multi_shot",
            "kling-v2-6 does not take several shots.",
        ),
        ({"multi_shot": "maybe"}, "multi_shot", "Give true or false."),
        ({"multi_shot": True}, "shot_type", "Choose customize or intelligence for the shots."),
        ({"multi_shot": True, "shot_type": "customize"}, "multi_prompt", "Write 1 to 6 shots."),
        (
            {
                "multi_shot": True,
                "shot_type": "customize",
                "duration": 10,
                "multi_prompt": [{"index": i, "prompt": "p", "duration": "1"} for i in range(1, 8)],
            },
            "multi_prompt",
            "At most 6 shots (got 7).",
        ),
        (
            {
                "multi_shot": True,
                "shot_type": "customize",
                "duration": 15,
                "multi_prompt": SHOTS_12,
            },
            "multi_prompt",
            "durations sum to 12, duration is 15",
        ),
        (
            {
                "multi_shot": True,
                "shot_type": "customize",
                "duration": 5,
                "multi_prompt": [
                    {"index": 1, "prompt": "a", "duration": "0"},
                    {"index": 2, "prompt": "b", "duration": "5"},
                ],
            },
            "multi_prompt",
            "Shot 1 lasts 0 s; each shot lasts 1 to 5 s.",
        ),
        (
            {
                "multi_shot": True,
                "shot_type": "customize",
                "duration": 5,
                "multi_prompt": [
                    {"index": 1, "prompt": "a", "duration": "2"},
                    {"index": 2, "prompt": " \u200b", "duration": "3"},
                ],
            },
            "multi_prompt",
            "Shot 2 needs a prompt.",
        ),
        (
            {
                "multi_shot": True,
                "shot_type": "customize",
                "duration": 5,
                "multi_prompt": [
                    {"index": 1, "prompt": "a", "duration": "2"},
                    {"index": 3, "prompt": "b", "duration": "3"},
                ],
            },
            "multi_prompt",
            "Shot 2 must have index 2 (shots count from 1).",
        ),
        (
            {
                "multi_shot": True,
                "shot_type": "customize",
                "duration": 5,
                "multi_prompt": [{"index": 1, "prompt": "x" * 513, "duration": "5"}],
            },
            "multi_prompt",
            "Shot 1: the prompt is longer than 512 characters.",
        ),
        (
            {
                "multi_shot": True,
                "shot_type": "customize",
                "duration": 5,
                "multi_prompt": [{"index": 1, "prompt": "a", "duration": "2.5"}],
            },
            "multi_prompt",
            "Shot 1 needs a duration in whole seconds.",
        ),
        (
            {"multi_shot": True, "shot_type": "intelligence", "prompt": ""},
            "prompt",
            "A prompt is required.",
        ),
        (
            {
                "multi_shot": True,
                "shot_type": "intelligence",
                "multi_prompt": SHOTS_12,
                "duration": 12,
            },
            "multi_prompt",
            "Shots are written only with shot_type customize.",
        ),
    ],
)
def test_each_rule_is_reported_next_to_its_field(fields: dict, field: str, message: str) -> None:
    bound = form(**fields)
    assert not bound.is_valid()
    assert message in bound.errors.get(field, []), bound.errors


@pytest.mark.django_db
def test_a_last_frame_is_refused_with_shots_and_with_sound_on_kling_v2_6() -> None:
    shots = GenerationForm(
        {
            "kind": "image2video",
            "model_name": "kling-v3",
            "prompt": "go",
            "multi_shot": "true",
            "shot_type": "intelligence",
        },
        {"image": upload(), "image_tail": upload()},
    )
    assert "A last frame cannot be combined with several shots." in shots.errors["image_tail"]
    loud = GenerationForm(
        {
            "kind": "image2video",
            "model_name": "kling-v2-6",
            "mode": "pro",
            "prompt": "go",
            "sound": "on",
        },
        {"image": upload(), "image_tail": upload()},
    )
    assert "kling-v2-6 takes a last frame only without sound." in loud.errors["image_tail"]
    std = GenerationForm(
        {"kind": "image2video", "model_name": "kling-v2-6", "mode": "std", "prompt": "go"},
        {"image": upload(), "image_tail": upload()},
    )
    assert "kling-v2-6 takes a last frame only in pro mode." in std.errors["image_tail"]
    silent = GenerationForm(
        {
            "kind": "image2video",
            "model_name": "kling-v3",
            "multi_shot": "true",
            "shot_type": "intelligence",
        },
        {"image": upload()},
    )
    assert silent.errors["prompt"] == ["Automatic shots need a prompt to split into shots."]


@pytest.mark.django_db
def test_a_gateway_chosen_by_hand_is_refused_for_sound_and_shots() -> None:
    from videos.models import Provider

    gateway = Provider.objects.create(name="seedance", kind=Provider.Kind.GATEWAY)
    loud = form(sound="on", provider=gateway.pk)
    assert loud.errors["sound"] == ["seedance (kling-gateway) cannot do sound."]
    assert form(provider=gateway.pk).is_valid()


# ---- the API -----------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("route", T2V_ROUTES)
@pytest.mark.parametrize(
    "body", [V3_SHOTS, V3_INTELLIGENCE, V26_VOICES], ids=["shots", "auto", "voices"]
)
def test_the_api_takes_the_bodies_of_the_contract_verbatim(route: str, body: dict, user) -> None:
    _key, secret = issue(user)
    answer = post_json(Client(), route, body, secret)
    assert answer.status_code == 200, answer.content
    generation = Generation.objects.get(pk=int(answer.json()["data"]["task_id"]))
    assert generation.sound is (body.get("sound") == "on")
    assert generation.params.get("voice_list") == body.get("voice_list")
    assert generation.params.get("multi_shot") == (True if body.get("multi_shot") else None)
    assert generation.params.get("multi_prompt") == body.get("multi_prompt")


@pytest.mark.django_db
def test_the_published_body_describes_the_contract_s_bodies(client: Client) -> None:
    import jsonschema_rs

    schemas = client.get("/api/openapi.json").json()["components"]["schemas"]
    text = jsonschema_rs.validator_for(schemas["KlingText2Video"])
    for body in (V3_SHOTS, V3_INTELLIGENCE, V26_VOICES):
        assert text.is_valid(body), body
    assert not text.is_valid({**V3_SHOTS, "sound": True})
    assert not text.is_valid({**V3_SHOTS, "multi_prompt": SHOTS_12 * 3})  # 9 shots
    assert not text.is_valid({**V3_SHOTS, "multi_prompt": []})
    image = jsonschema_rs.validator_for(schemas["KlingImage2Video"])
    assert image.is_valid({**V3_SHOTS, "image": PHOTO})


@pytest.mark.django_db
@pytest.mark.parametrize("route", I2V_ROUTES)
def test_image2video_takes_a_first_frame_with_shots(route: str, user) -> None:
    _key, secret = issue(user)
    body = {**V3_SHOTS, "image": PHOTO}
    body.pop("aspect_ratio")
    answer = post_json(Client(), route, body, secret)
    assert answer.status_code == 200, answer.content
    generation = Generation.objects.get()
    assert generation.kind == "image2video" and generation.params["shot_type"] == "customize"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sound": True}, "sound: must be a string, not true or false"),
        ({"sound": "loud"}, 'sound: Choose "on" or "off".'),
        ({"model_name": "kling-v1", "duration": "5"}, "sound: kling-v1 has no sound."),
        ({"multi_shot": "yes please"}, "multi_shot: Give true or false."),
        (
            {"shot_type": "random"},
            "shot_type: Select a valid choice. random is not one of the available choices.",
        ),
        ({"duration": "15"}, "multi_prompt: durations sum to 12, duration is 15"),
        (
            {"multi_prompt": SHOTS_12[:1] + [{**SHOTS_12[1], "index": 5}] + SHOTS_12[2:]},
            "multi_prompt: Shot 2 must have index 2 (shots count from 1).",
        ),
        (
            {"multi_prompt": [{**SHOTS_12[0], "seconds": 4}]},
            "multi_prompt[0].seconds: is not a field of this request",
        ),
        ({"multi_prompt": "four shots"}, "multi_prompt: must be an array, not a string"),
        (
            {"voice_list": [{"voice_id": "v1"}], "prompt": "<<<voice_1>>>"},
            "voice_list: kling-v3 has no voices.",
        ),
    ],
)
def test_the_api_refuses_each_rule_naming_the_field_and_writes_nothing(
    change: dict, message: str, user
) -> None:
    _key, secret = issue(user)
    answer = post_json(Client(), T2V_ROUTES[0], {**V3_SHOTS, **change}, secret)
    assert answer.status_code == 400, answer.content
    assert answer.json()["code"] == 1201
    assert answer.json()["message"] == message
    assert not Generation.objects.exists() and not ApiTask.objects.exists()


# ---- upstream: the strict body, and the simulator's checks --------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {
                "prompt": "",
                "duration": 12,
                "sound": "on",
                "multi_shot": "true",
                "shot_type": "customize",
                "multi_prompt": SHOTS_12,
            },
            {"sound": "on", "multi_shot": True, "shot_type": "customize", "multi_prompt": SHOTS_12},
        ),
        (
            {
                "prompt": "A storm, then calm",
                "duration": 10,
                "multi_shot": True,
                "shot_type": "intelligence",
            },
            {"sound": "off", "multi_shot": True, "shot_type": "intelligence"},
        ),
        (
            {k: v for k, v in V26_VOICES.items() if k != "duration"},
            {"sound": "on", "voice_list": V26_VOICES["voice_list"]},
        ),
        ({"model_name": "kling-v1", "prompt": "A quiet lake"}, {}),
    ],
    ids=["shots", "auto", "voices", "kling-v1"],
)
def test_the_kling_provider_sends_sound_and_shots_strictly(
    fields: dict, expected: dict, user, settings
) -> None:
    settings.STUDIO_POLL_SCALE = 0.01
    from videos import tasks

    with Simulator(min_seconds=0, max_seconds=0) as sim:
        disable_local_providers()
        provider_for(sim)
        generation = created(form(**fields), user)
        tasks.submit_generation(generation.pk)
        (task,) = sim.tasks_for(str(generation.pk))
        sent = {k: task.body[k] for k in expected if k in task.body}
        extra = {"sound", "voice_list", "multi_shot", "shot_type", "multi_prompt"} & set(task.body)
        tasks.poll_generation(generation.pk)
        generation.refresh_from_db()
    assert sent == expected and extra == set(expected)
    assert generation.status == Status.SUCCEEDED, generation.status_message


BASE = {"model_name": "kling-v3", "prompt": "p", "duration": "12"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**BASE, "sound": True}, "sound must be 'on' or 'off'"),
        (
            {**BASE, "model_name": "kling-v1", "duration": "5", "sound": "off"},
            "sound is not supported by kling-v1",
        ),
        (
            {**BASE, "model_name": "kling-v2-6", "duration": "5", "sound": "on"},
            "sound is not supported by kling-v2-6 in std mode",
        ),
        (
            {**BASE, "sound": "on", "voice_list": [{"voice_id": "v"}]},
            "voice_list is not supported by kling-v3 in std mode",
        ),
        (
            {
                **BASE,
                "model_name": "kling-v2-6",
                "duration": "5",
                "mode": "pro",
                "voice_list": [{"voice_id": "v"}],
            },
            "voice_list needs sound 'on'",
        ),
        (
            {**BASE, "multi_shot": "true", "shot_type": "intelligence"},
            "multi_shot must be a boolean",
        ),
        (
            {**BASE, "shot_type": "customize"},
            "shot_type is only read with multi_shot true: do not send it",
        ),
        (
            {**BASE, "multi_shot": True},
            "shot_type must be 'customize' or 'intelligence' with multi_shot",
        ),
        (
            {
                **BASE,
                "multi_shot": True,
                "shot_type": "customize",
                "multi_prompt": [{**s, "duration": int(s["duration"])} for s in SHOTS_12],
            },
            'multi_prompt[0].duration must be a string such as "5"',
        ),
        (
            {
                **BASE,
                "duration": "15",
                "multi_shot": True,
                "shot_type": "customize",
                "multi_prompt": SHOTS_12,
            },
            "multi_prompt: durations sum to 12, duration is 15",
        ),
        (
            {
                **BASE,
                "model_name": "kling-v2-6",
                "duration": "5",
                "multi_shot": True,
                "shot_type": "intelligence",
            },
            "multi_shot is not supported by kling-v2-6",
        ),
    ],
)
def test_the_simulator_refuses_what_kling_would(body: dict, message: str) -> None:
    assert check_create("text2video", body, gateway=False) == message


def test_the_simulator_accepts_the_contract_s_bodies() -> None:
    for body in (V3_SHOTS, {**V3_INTELLIGENCE, "multi_shot": True}, V26_VOICES):
        assert check_create("text2video", body, gateway=False) is None
    with_frame = {**V3_SHOTS, "image": PHOTO}
    with_frame.pop("aspect_ratio")
    assert check_create("image2video", with_frame, gateway=False) is None
    assert check_create("image2video", {**with_frame, "image_tail": PHOTO}, gateway=False) == (
        "image_tail cannot be combined with multi_shot"
    )


# ---- the local renderer ------------------------------------------------------------------------
def test_automatic_shots_are_even_and_as_many_as_fives_in_the_duration() -> None:
    spec = _video_spec({**V3_INTELLIGENCE, "multi_shot": True, "duration": "12"}, {})
    assert [seconds for _, seconds in spec.shots] == [4, 4, 4]
    assert not _video_spec({"prompt": "p", "sound": "off"}, {}).sound


@pytest.mark.django_db
def test_the_local_render_has_sound_and_cuts_at_the_shot_boundaries(
    user, django_capture_on_commit_callbacks
) -> None:
    shots = [
        {"index": 1, "prompt": "A red barn in snow", "duration": "1"},
        {"index": 2, "prompt": "A neon street at night", "duration": "1"},
        {"index": 3, "prompt": "A desert under a pale sky", "duration": "1"},
    ]
    bound = form(
        prompt="",
        duration=3,
        aspect_ratio="1:1",
        sound="on",
        multi_shot=True,
        shot_type="customize",
        multi_prompt=shots,
    )
    with django_capture_on_commit_callbacks(execute=True):
        generation = created(bound, user)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED, generation.status_message
    assert generation.provider.name == "local"
    path = Path(default_storage.path(generation.video.name))
    (stream,) = audio_streams(path)
    assert stream.codec_context.name == "aac"
    samples = sound_of(path)
    assert all(rms(samples, s + 0.1, s + 0.9) > 0.05 for s in range(3))  # audible, every shot
    frames = frames_of(path)
    assert len(frames) == 72
    steps = [difference(a, b) for a, b in zip(frames, frames[1:], strict=False)]
    cuts = sorted(range(len(steps)), key=steps.__getitem__)[-2:]
    assert sorted(cuts) == [23, 47]  # the two largest jumps: before frames 24 and 48
    assert min(steps[23], steps[47]) > 15 > max(s for i, s in enumerate(steps) if i not in cuts)


@pytest.mark.django_db
def test_the_local_render_without_sound_has_no_audio_stream(
    user, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        generation = created(form(duration=3, aspect_ratio="1:1"), user)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED, generation.status_message
    assert audio_streams(Path(default_storage.path(generation.video.name))) == []


# ---- the web page ------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_page_shows_the_shot_editor_only_for_a_model_with_shots(alice_client: Client) -> None:
    v3 = alice_client.get("/generations/new/?model_name=kling-v3").content.decode()
    v1 = alice_client.get("/generations/new/?model_name=kling-v1").content.decode()
    assert 'id="model-catalogue"' in v3 and "js/shots.js" in v3
    assert '<div data-needs="shots">' in v3
    assert '<div data-needs="shots" hidden>' in v1
    assert 'id="sound-shots" hidden' in v1 and 'id="sound-shots" hidden' not in v3
    assert "<script>" not in v3 and "&quot;kling-v3&quot;:" in v3  # the catalogue is data


@pytest.mark.django_db
def test_the_page_creates_a_job_from_the_shot_editor_rows(alice_client: Client, user) -> None:
    rows = {
        "multi_prompt_prompt": ["A harbour at dawn", "A ferry leaves", "Gulls"],
        "multi_prompt_duration": ["4", "5", "3"],
    }
    post = {
        "kind": "text2video",
        "model_name": "kling-v3",
        "prompt": "",
        "mode": "std",
        "duration": "12",
        "aspect_ratio": "16:9",
        "sound": "on",
        "multi_shot": "on",
        "shot_type": "customize",
        **rows,
    }
    answer = alice_client.post("/generations/new/", post)
    assert answer.status_code == 302, answer.content.decode()[:3000]
    generation = Generation.objects.get()
    assert generation.sound and generation.params["multi_prompt"] == SHOTS_12[:1] + [
        {"index": 2, "prompt": "A ferry leaves", "duration": "5"},
        {"index": 3, "prompt": "Gulls", "duration": "3"},
    ]


@pytest.mark.django_db
def test_the_page_shows_a_shot_sum_error_beside_the_editor_and_keeps_the_rows(
    alice_client: Client,
) -> None:
    post = {
        "kind": "text2video",
        "model_name": "kling-v3",
        "prompt": "",
        "mode": "std",
        "duration": "15",
        "aspect_ratio": "16:9",
        "multi_shot": "on",
        "shot_type": "customize",
        "multi_prompt_prompt": ["A", "B"],
        "multi_prompt_duration": ["4", "5"],
    }
    page = alice_client.post("/generations/new/", post).content.decode()
    editor = page[page.index('id="field-multi_prompt"') :]
    assert "durations sum to 9, duration is 15" in editor[: editor.index("</fieldset>")]
    assert 'value="B"' in editor
    assert not Generation.objects.exists()


@pytest.mark.django_db
def test_the_detail_page_shows_the_shots_and_the_remix_form_keeps_them(
    alice_client: Client, user
) -> None:
    generation = created(
        form(
            prompt="",
            duration=12,
            sound="on",
            multi_shot=True,
            shot_type="customize",
            multi_prompt=SHOTS_12,
        ),
        user,
    )
    detail = alice_client.get(f"/generations/{generation.pk}/").content.decode()
    assert "<li>A ferry leaves the quay · 5 s</li>" in detail
    remix = alice_client.get(f"/generations/{generation.pk}/remix/").content.decode()
    assert 'value="A ferry leaves the quay"' in remix and 'value="5"' in remix
    assert 'name="multi_shot" id="id_multi_shot" checked' in remix.replace("\n", "")


@pytest.mark.django_db
def test_the_docs_multi_shot_example_is_accepted_as_written(alice_client: Client, user) -> None:
    import html
    import json

    page = alice_client.get("/api/").content.decode()
    example = page[page.index('id="ex-shots"') :]
    body = json.loads(html.unescape(example[example.index("-d '") + 4 : example.index("'</pre>")]))
    _key, secret = issue(user)
    answer = post_json(Client(), T2V_ROUTES[1], body, secret)
    assert answer.status_code == 200, answer.content
    assert Generation.objects.get().params["multi_prompt"] == body["multi_prompt"]
