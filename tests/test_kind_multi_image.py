"""multi-image2video (kling-kinds.md §7.4): the rules, the API, the upstream, the local render."""

from __future__ import annotations

import base64
import copy
import tempfile
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from api.models import ApiTask
from simulator import Simulator
from simulator.testing import disable_local_providers, provider_for
from tests.api_helpers import issue, post_json
from tests.images import image_bytes, upload
from tests.renders import difference, frames_of, mean_colour
from videos.kinds.multi_image2video import MultiImageForm
from videos.models import Generation, GenerationInput, Status
from videos.rendering import render_request

PHOTO = base64.b64encode(image_bytes(640, 480)).decode()
ROUTES = ["/v1/videos/multi-image2video", "/kling/v1/videos/multi-image2video"]
# A create as kling-kinds.md §7.4 shows it: every field Kling documents for this kind.
SEED_BODY = {
    "model_name": "kling-v1-6",
    "image_list": [{"image": PHOTO}, {"image": PHOTO}, {"image": PHOTO}],
    "prompt": "the cat walks from the sofa to the window",
    "negative_prompt": "blur",
    "mode": "std",
    "duration": "10",
    "aspect_ratio": "9:16",
    "watermark_info": {"enabled": False},
    "callback_url": "http://127.0.0.1:9/hook",
    "external_task_id": "multi-1",
}


def form(data: dict, files: dict | None = None, **kwargs) -> MultiImageForm:
    bound = MultiImageForm(data, files or {}, **kwargs)
    bound.is_valid()
    return bound


# ---- the rules ---------------------------------------------------------------------------------
@pytest.mark.django_db
def test_one_to_four_uploads_make_a_job_with_catalogue_defaults() -> None:
    bound = form({"prompt": "a cat"}, {"image_1": upload(), "image_3": upload()})
    assert bound.is_valid(), bound.errors
    data = bound.cleaned_data
    assert (data["model_name"], data["mode"], data["duration"]) == ("kling-v1-6", "std", 5)
    assert bound.params() == {"aspect_ratio": "16:9"}
    assert [(p.role, p.position) for p in bound.pending_inputs] == [("image", 0), ("image", 1)]


@pytest.mark.django_db
def test_the_api_list_takes_urls_and_base64() -> None:
    listed = [{"image": PHOTO}, {"image": "https://example.com/cat.png"}]
    bound = form({"prompt": "a cat", "image_list": listed}, api=True)
    assert bound.is_valid(), bound.errors
    urls = [p.url for p in bound.pending_inputs]
    assert urls == ["", "https://example.com/cat.png"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"prompt": "a cat"}, "image_list", "Give 1 to 4 images."),
        (
            {"prompt": "a cat", "image_list": [{"image": PHOTO}] * 5},
            "image_list",
            "At most 4 entries.",
        ),
        (
            {"prompt": "a cat", "image_list": [{"url": PHOTO}]},
            "image_list",
            'image_list[0] must be {"image": a URL or Base64}.',
        ),
        (
            {"image_list": [{"image": PHOTO}]},
            "prompt",
            "This field is required.",
        ),
        (
            {"prompt": "\u200b", "image_list": [{"image": PHOTO}]},
            "prompt",
            "Describe the video: a prompt is required.",
        ),
        (
            {"prompt": "a cat", "image_list": [{"image": PHOTO}], "duration": "7"},
            "duration",
            "kling-v1-6 supports durations of 5, 10 seconds.",
        ),
        (
            {"prompt": "a cat", "image_list": [{"image": PHOTO}], "aspect_ratio": "4:3"},
            "aspect_ratio",
            "Select a valid choice. 4:3 is not one of the available choices.",
        ),
        (
            {"prompt": "a cat", "image_list": [{"image": PHOTO}], "model_name": "kling-v1"},
            "model_name",
            "kling-v1 does not do multi-image2video; use kling-v1-6.",
        ),
        (
            {"prompt": "a cat", "image_list": [{"image": "data:x"}]},
            "image_list",
            None,
        ),
    ],
)
def test_each_rule_is_reported_on_its_field(data: dict, field: str, message: str | None) -> None:
    bound = form(data, api=True)
    assert not bound.is_valid()
    assert field in bound.errors, bound.errors
    if message is not None:
        assert bound.errors[field] == [message]
    assert "sound" not in bound.fields  # §7.4: no sound on this kind


@pytest.mark.django_db
def test_a_small_upload_is_refused_beside_its_own_field() -> None:
    bound = form({"prompt": "a cat"}, {"image_1": upload(), "image_2": upload(width=200)})
    assert bound.errors["image_2"] == [
        "The image 2 is 200×360; width and height must be at least 300 px."
    ]
    assert "image_1" not in bound.errors


# ---- the API -----------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES)
def test_the_api_accepts_the_documented_body_verbatim(route: str, user) -> None:
    _key, secret = issue(user)
    answer = post_json(Client(), route, SEED_BODY, secret)
    assert answer.status_code == 200, answer.content
    data = answer.json()["data"]
    generation = Generation.objects.get(pk=int(data["task_id"]))
    assert (generation.kind, generation.model_name, generation.mode, generation.duration) == (
        "multi-image2video",
        "kling-v1-6",
        "std",
        10,
    )
    assert (generation.prompt, generation.negative_prompt) == (
        "the cat walks from the sofa to the window",
        "blur",
    )
    assert generation.params == {"aspect_ratio": "9:16", "watermark_info": {"enabled": False}}
    rows = GenerationInput.objects.filter(generation=generation).order_by("position")
    assert [(r.role, r.position) for r in rows] == [("image", 0), ("image", 1), ("image", 2)]
    assert all(r.file.name for r in rows)  # Base64 inputs are stored at once
    assert ApiTask.objects.get(generation=generation).external_task_id == "multi-1"


def _without(body: dict, *fields: str) -> dict:
    return {k: v for k, v in body.items() if k not in fields}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "status", "code", "message"),
    [
        (
            {"image_list": []},
            400,
            1201,
            "image_list: Give 1 to 4 images.",
        ),
        (
            {"image_list": [{"image": PHOTO}] * 5},
            400,
            1201,
            "image_list: At most 4 entries.",
        ),
        (
            {"image_list": [{"image": PHOTO, "type": "first_frame"}]},
            400,
            1201,
            "image_list[0].type: is not a field of this request",
        ),
        ({"prompt": None}, 400, 1201, "prompt: This field is required."),
        (
            {"duration": "15"},
            400,
            1201,
            "duration: kling-v1-6 supports durations of 5, 10 seconds.",
        ),
        (
            {"aspect_ratio": "4:3"},
            400,
            1201,
            "aspect_ratio: Select a valid choice. 4:3 is not one of the available choices.",
        ),
        ({"sound": "on"}, 400, 1201, "sound: is not a field of this request"),
        ({"cfg_scale": 0.5}, 400, 1201, "cfg_scale: is not a field of this request"),
        (
            {"camera_control": {"type": "simple"}},
            400,
            1201,
            "camera_control: is not a field of this request",
        ),
        (
            {"model_name": "kling-v2-6"},
            404,
            1203,
            "kling-v2-6 does not do multi-image2video; use kling-v1-6.",
        ),
        ({"mode": "turbo"}, 400, 1201, None),
    ],
)
def test_the_api_refuses_each_rule_naming_the_field_and_writes_nothing(
    change: dict, status: int, code: int, message: str | None, user
) -> None:
    _key, secret = issue(user)
    body = {**copy.deepcopy(SEED_BODY), **change}
    body = {k: v for k, v in body.items() if v is not None}
    answer = post_json(Client(), ROUTES[0], body, secret)
    assert answer.status_code == status, answer.content
    assert answer.json()["code"] == code
    if message is not None:
        assert answer.json()["message"] == message
    assert not Generation.objects.exists() and not GenerationInput.objects.exists()


# ---- the upstream: the strict body to the simulator, its answer without task_info --------------
@pytest.mark.django_db
def test_the_kling_provider_sends_the_strict_body_and_reads_the_answer(user, settings) -> None:
    settings.STUDIO_POLL_SCALE = 0.01
    from videos import tasks
    from videos.creation import Origin, create_generation

    bound = form(
        {"prompt": "a cat", "duration": "10", "aspect_ratio": "1:1"},
        {"image_1": upload(), "image_2": upload(color=(10, 200, 10))},
    )
    assert bound.is_valid(), bound.errors
    with Simulator(min_seconds=0, max_seconds=0) as sim:
        disable_local_providers()
        provider_for(sim)
        generation = create_generation(bound, Origin(owner=user))
        tasks.submit_generation(generation.pk)
        (task,) = sim.tasks_for(str(generation.pk))
        assert set(task.body) == {
            "model_name",
            "image_list",
            "prompt",
            "mode",
            "duration",
            "aspect_ratio",
            "external_task_id",
        }
        assert (task.body["model_name"], task.body["duration"], task.body["aspect_ratio"]) == (
            "kling-v1-6",
            "10",
            "1:1",
        )
        sent = [base64.b64decode(item["image"]) for item in task.body["image_list"]]
        rows = generation.inputs.order_by("position")
        assert sent == [row.file.read() for row in rows]  # the stored images, in list order
        assert "task_info" not in sim.task_object(task)  # §7.4: tolerated
        tasks.poll_generation(generation.pk)
        generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED, generation.status_message
    assert generation.upstream_video_id == f"v{task.task_id}"
    assert generation.video_duration and generation.video_duration > 2


def test_the_simulator_knows_only_kling_v1_6_for_this_kind() -> None:
    from simulator.rules import ModelNotFound, check_create

    body = {"model_name": "kling-v1", "image_list": [{"image": PHOTO}], "prompt": "a cat"}
    with pytest.raises(ModelNotFound):
        check_create("multi-image2video", body, gateway=False)
    body["model_name"] = "kling-v1-6"
    assert check_create("multi-image2video", body, gateway=False) is None
    assert check_create("multi-image2video", {**body, "sound": "on"}, gateway=False) == (
        "unknown field(s): sound"
    )
    assert check_create("multi-image2video", {**body, "image_list": []}, gateway=False) == (
        "image_list must hold 1 to 4 images"
    )
    assert check_create("multi-image2video", {**body, "duration": 5}, gateway=False) == (
        'duration must be "5" or "10"'
    )


# ---- the web page ------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_page_offers_four_uploads_and_shows_errors_beside_the_field(
    alice_client: Client, user
) -> None:
    page = alice_client.get("/generations/new/multi-image2video/").content.decode()
    for n in range(1, 5):
        assert f'name="image_{n}"' in page
    assert 'name="sound"' not in page
    bad = alice_client.post("/generations/new/multi-image2video/", {"prompt": "a cat"})
    assert bad.status_code == 200
    assert "Give 1 to 4 images." in bad.content.decode()
    assert not Generation.objects.exists()
    good = alice_client.post(
        "/generations/new/multi-image2video/",
        {"prompt": "a cat", "image_1": upload(), "image_2": upload()},
    )
    assert good.status_code == 302
    generation = Generation.objects.get()
    assert (generation.owner, generation.kind, generation.inputs.count()) == (
        user,
        "multi-image2video",
        2,
    )


# ---- the local renderer ------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_local_renderer_shows_each_image_in_turn(
    user, django_capture_on_commit_callbacks
) -> None:
    from videos.creation import Origin, create_generation

    red, blue = (220, 30, 30), (30, 30, 220)
    bound = form(
        {"prompt": "two colours", "duration": "5"},
        {"image_1": upload(color=red), "image_2": upload(color=blue)},
    )
    with django_capture_on_commit_callbacks(execute=True):
        generation = create_generation(bound, Origin(owner=user))
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED, generation.status_message
    assert generation.provider.name == "local" and generation.video_duration == 5.0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.mp4"
        with default_storage.open(generation.video.name, "rb") as src:
            path.write_bytes(src.read())
        frames = frames_of(path)
    assert len(frames) == 5 * 24
    assert frames[0].size == (1280, 720)  # std, 16:9
    first, last = mean_colour(frames[10]), mean_colour(frames[-10])
    assert first[0] > first[2] + 40 and last[2] > last[0] + 40  # red first, then blue


def test_render_request_reads_the_strict_body(tmp_path: Path) -> None:
    from tests.renders import photo

    images = [photo(tmp_path / f"{n}.jpg", c) for n, c in enumerate([(200, 40, 40), (40, 200, 40)])]
    body = {
        "model_name": "kling-v1-6",
        "image_list": [{"image": "x"}, {"image": "y"}],
        "prompt": "a",
        "mode": "std",
        "duration": "10",
        "aspect_ratio": "9:16",
    }
    files = {"image.0": str(images[0]), "image.1": str(images[1])}
    video, _poster = render_request("multi-image2video", body, files, str(tmp_path))
    frames = frames_of(Path(video))
    assert len(frames) == 10 * 24 and frames[0].size == (720, 1280)
    assert difference(frames[5], frames[-5]) > 30
