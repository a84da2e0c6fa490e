"""Effects (kling-kinds.md §7.7): the scene picker, the rules, the API, the upstream, the render."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client

from api.models import ApiTask
from simulator import Simulator
from simulator.testing import disable_local_providers, provider_for
from tests.api_helpers import issue, post_json
from tests.images import image_bytes, upload
from videos.kinds.effects import EffectsForm
from videos.models import EffectScene, Generation, GenerationInput, Status

PHOTO = base64.b64encode(image_bytes(640, 480)).decode()
ROUTES = ["/v1/videos/effects", "/kling/v1/videos/effects"]


def form(data: dict, files: dict | None = None, **kwargs) -> EffectsForm:
    bound = EffectsForm(data, files or {}, **kwargs)
    bound.is_valid()
    return bound


# ---- the rules ---------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_single_scene_takes_one_photo() -> None:
    bound = form({"effect_scene": "bullet_time"}, {"image": upload()})
    assert bound.is_valid(), bound.errors
    assert bound.params() == {"effect_scene": "bullet_time", "dual": False}
    assert bound.estimated_units() == 2  # kling-effects: 2 units, whatever the scene
    second = form({"effect_scene": "bullet_time"}, {"image": upload(), "image_2": upload()})
    assert second.errors["image_2"] == ["The effect bullet_time takes one photo."]


@pytest.mark.django_db
def test_a_two_person_scene_needs_two_photos() -> None:
    bound = form({"effect_scene": "hug_pro"}, {"image": upload()})
    assert bound.errors["image_2"] == ["The effect hug_pro takes two photos."]
    both = form({"effect_scene": "hug_pro"}, {"image": upload(), "image_2": upload()})
    assert both.is_valid(), both.errors
    assert both.params()["dual"] is True and len(both.pending_inputs) == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("scene", "message"),
    [
        ("hug", "The effect hug was retired on 2026-01-30; use hug_pro instead."),
        (
            "celebration",
            "The effect celebration was retired on 2025-12-30; use celebration_pro instead.",
        ),
        ("magic_match_tree", "The effect magic_match_tree was retired on 2026-07-03."),
    ],
)
def test_a_retired_scene_is_refused_naming_its_successor(scene: str, message: str) -> None:
    assert form({"effect_scene": scene}, {"image": upload()}).errors["effect_scene"] == [message]


@pytest.mark.django_db
def test_an_unlisted_scene_passes_through_with_its_photos() -> None:
    assert not EffectScene.objects.filter(name="neon_glow_2027").exists()
    assert form({"effect_scene": "neon_glow_2027"}, {"image": upload()}).is_valid()
    dual = form({"effect_scene": "neon_glow_2027"}, {"image": upload(), "image_2": upload()})
    assert dual.is_valid() and dual.params()["dual"] is True


@pytest.mark.django_db
def test_a_scene_needs_a_photo_that_kling_accepts() -> None:
    assert form({"effect_scene": "bullet_time"}).errors["image"] == [
        "The effect bullet_time takes one photo."
    ]
    tiny = form({"effect_scene": "bullet_time"}, {"image": upload(width=200, height=200)})
    assert tiny.errors["image"] == [
        "The photo 1 is 200×200; width and height must be at least 300 px."
    ]


@pytest.mark.django_db
def test_an_admin_adds_a_scene_without_code() -> None:
    EffectScene.objects.create(name="paper_plane_pro", dual=True)
    assert form({"effect_scene": "paper_plane_pro"}, {"image": upload()}).errors["image_2"]


# ---- the API -----------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES)
def test_the_api_creates_an_effect_from_kling_s_body(route: str, user) -> None:
    _key, secret = issue(user)
    body = {"effect_scene": "bullet_time", "input": {"image": PHOTO}, "external_task_id": "fx-1"}
    answer = post_json(Client(), route, body, secret)
    assert answer.status_code == 200, answer.content
    data = answer.json()["data"]
    generation = Generation.objects.get(pk=int(data["task_id"]))
    assert (generation.kind, generation.model_name, generation.duration) == (
        "effects",
        "kling-effects",
        5,
    )
    assert generation.params == {"effect_scene": "bullet_time", "dual": False}
    assert GenerationInput.objects.filter(generation=generation, role="image").count() == 1
    assert ApiTask.objects.get(generation=generation).external_task_id == "fx-1"
    assert data["task_info"] == {"external_task_id": "fx-1"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"effect_scene": "kiss", "input": {"images": [PHOTO, PHOTO]}},
            "effect_scene: The effect kiss was retired on 2026-01-30; use kiss_pro instead.",
        ),
        (
            {"effect_scene": "hug_pro", "input": {"image": PHOTO}},
            "input: The effect hug_pro takes two photos.",
        ),
        (
            {"effect_scene": "bullet_time", "input": {"image": PHOTO}, "mode": "pro"},
            "mode: is not a field of this request",
        ),
        (
            {"effect_scene": 7, "input": {"image": PHOTO}},
            "effect_scene: must be a string, not a number",
        ),
        (
            {"effect_scene": "bullet_time", "input": {"images": [PHOTO]}},
            "input: input.images must be a list of two images.",
        ),
        ({"effect_scene": "bullet_time"}, "input: The effect bullet_time takes one photo."),
    ],
)
def test_the_api_refuses_what_kling_would_naming_the_field(body: dict, message: str, user) -> None:
    _key, secret = issue(user)
    answer = post_json(Client(), ROUTES[0], body, secret)
    assert answer.status_code == 400, answer.content
    assert answer.json()["code"] == 1201
    assert answer.json()["message"] == message
    assert not Generation.objects.exists() and not GenerationInput.objects.exists()


@pytest.mark.django_db
def test_the_api_answers_an_effect_task_with_the_studio_s_copy(
    user, django_capture_on_commit_callbacks
) -> None:
    _key, secret = issue(user)
    body = {"effect_scene": "hug_pro", "input": {"images": [PHOTO, PHOTO]}}
    with django_capture_on_commit_callbacks(execute=True):
        created = post_json(Client(), ROUTES[1], body, secret).json()["data"]
    answer = Client().get(
        f"{ROUTES[1]}/{created['task_id']}", HTTP_AUTHORIZATION=f"Bearer {secret}"
    )
    task = answer.json()["data"]
    assert task["task_status"] == "succeed", task
    video = task["task_result"]["videos"][0]
    assert video["id"] == created["task_id"] and video["url"].startswith("http")


# ---- the upstream: strict bodies to the simulator, results without a duration -------------------
@pytest.mark.django_db
@pytest.mark.parametrize(("scene", "photos"), [("bullet_time", 1), ("hug_pro", 2)])
def test_the_kling_provider_sends_the_effect_strictly(
    scene: str, photos: int, user, settings
) -> None:
    settings.STUDIO_POLL_SCALE = 0.01
    from videos import tasks
    from videos.creation import Origin, create_generation

    files = {"image": upload(), "image_2": upload()} if photos == 2 else {"image": upload()}
    bound = form({"effect_scene": scene}, files)
    with Simulator(min_seconds=0, max_seconds=0) as sim:
        disable_local_providers()
        provider_for(sim)
        generation = create_generation(bound, Origin(owner=user))
        tasks.submit_generation(generation.pk)
        (task,) = sim.tasks_for(str(generation.pk))
        assert set(task.body) == {"effect_scene", "input", "external_task_id"}
        assert task.body["effect_scene"] == scene
        assert list(task.body["input"]) == (["images"] if photos == 2 else ["image"])
        tasks.poll_generation(generation.pk)
        generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED, generation.status_message
    assert generation.video_duration and generation.video_duration > 2  # probed: no duration sent
    assert generation.upstream_video_id == f"v{task.task_id}"


# ---- the web page ------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_effects_page_offers_the_scenes(alice_client: Client) -> None:
    page = alice_client.get("/generations/new/effects/").content.decode()
    assert 'list="effect-scenes"' in page and '<option value="hug_pro">' in page
    assert '<option value="hug">' not in page  # retired scenes are not offered


@pytest.mark.django_db
def test_the_effects_page_creates_a_job_and_shows_errors_beside_the_field(
    alice_client: Client, user
) -> None:
    bad = alice_client.post(
        "/generations/new/effects/", {"effect_scene": "hug_pro", "image": upload()}
    )
    assert bad.status_code == 200
    assert "The effect hug_pro takes two photos." in bad.content.decode()
    assert not Generation.objects.exists()
    good = alice_client.post(
        "/generations/new/effects/", {"effect_scene": "bullet_time", "image": upload()}
    )
    assert good.status_code == 302
    generation = Generation.objects.get()
    assert (generation.owner, generation.kind, generation.params["effect_scene"]) == (
        user,
        "effects",
        "bullet_time",
    )


@pytest.mark.django_db
def test_the_effects_page_needs_a_login(client: Client) -> None:
    answer = client.get("/generations/new/effects/")
    assert answer.status_code == 302 and "/login/" in answer["Location"]
    assert json.dumps(answer.headers.get("Location"))


# ---- the local renderer ------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_local_renderer_makes_five_seconds_of_the_scene(
    user, django_capture_on_commit_callbacks
) -> None:
    from videos.creation import Origin, create_generation

    one = form({"effect_scene": "bullet_time"}, {"image": upload(color=(30, 160, 60))})
    two = form(
        {"effect_scene": "hug_pro"},
        {"image": upload(color=(30, 160, 60)), "image_2": upload(color=(40, 60, 200))},
    )
    with django_capture_on_commit_callbacks(execute=True):
        single = create_generation(one, Origin(owner=user))
        dual = create_generation(two, Origin(owner=user))
    single.refresh_from_db()
    dual.refresh_from_db()
    assert single.status == dual.status == Status.SUCCEEDED, (
        single.status_message,
        dual.status_message,
    )
    assert single.video_duration == dual.video_duration == 5.0
    assert single.provider.name == "local" and single.units == 2
    assert single.video_sha256 != dual.video_sha256  # two photos side by side, not the same clip
