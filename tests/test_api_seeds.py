"""Every example request of the seed documents works as written (tests/fixtures/seed_requests)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.api_helpers import SEEDS, bearer, issue, post_json, seed
from videos.models import Generation, Status

pytestmark = pytest.mark.django_db

ROUTES = {
    "text2video": "/kling/v1/videos/text2video",
    "image2video": "/kling/v1/videos/image2video",
    "generic": "/v1/video/generations",
}
SEED_FILES = sorted(p.name for p in SEEDS.glob("*.json"))


def route_of(name: str) -> str:
    return ROUTES[name.split("_", 1)[0]]


def task_id_of(response) -> str:
    body = response.json()
    return body["data"]["task_id"] if "data" in body else body["task_id"]


@pytest.fixture
def secret(user) -> str:
    return issue(user)[1]


def test_there_are_seed_examples_of_every_route() -> None:
    assert {name.split("_", 1)[0] for name in SEED_FILES} == set(ROUTES)
    assert len(SEED_FILES) >= 10


@pytest.mark.parametrize("name", SEED_FILES)
def test_each_seed_example_is_accepted_as_written(client: Client, secret, name) -> None:
    body = seed(name)
    response = post_json(client, route_of(name), body, secret)
    assert response.status_code == 200, response.content
    generation = Generation.objects.get(pk=int(task_id_of(response)))
    assert generation.model_name == (body.get("model_name") or body.get("model"))
    assert generation.prompt == body["prompt"]
    assert generation.duration == int(float(body["duration"]))
    assert generation.status == Status.QUEUED and generation.api_key is not None


def test_the_seedance_body_keeps_its_cfg_scale(client: Client, secret) -> None:
    response = post_json(
        client, route_of("text2video"), seed("text2video_seedance_cfg_scale.json"), secret
    )
    generation = Generation.objects.get(pk=int(task_id_of(response)))
    assert (generation.model_name, generation.cfg_scale) == ("doubao-seedance-2-0-fast-480p", 0.5)
    assert generation.negative_prompt == "blurry, low quality"


def test_the_camera_shorthand_becomes_a_simple_zoom(client: Client, secret) -> None:
    body = seed("text2video_camera_zoom_shorthand.json")
    response = post_json(client, route_of("text2video"), body, secret)
    generation = Generation.objects.get(pk=int(task_id_of(response)))
    axes = {"horizontal": 0, "vertical": 0, "pan": 0, "tilt": 0, "roll": 0, "zoom": -5}
    assert generation.camera_control == {"type": "simple", "config": axes}


def test_the_generic_metadata_lands_on_the_generation(client: Client, secret) -> None:
    response = post_json(client, route_of("generic"), seed("generic_size_metadata.json"), secret)
    generation = Generation.objects.get(pk=int(task_id_of(response)))
    assert (generation.mode, generation.cfg_scale, generation.aspect_ratio) == ("pro", 0.6, "9:16")
    assert generation.duration == 10
    with_size = post_json(client, route_of("generic"), seed("generic_image_metadata.json"), secret)
    image_generation = Generation.objects.get(pk=int(task_id_of(with_size)))
    assert image_generation.kind == "image2video" and image_generation.image.name.endswith(".png")
    assert image_generation.negative_prompt == "noise"


def test_image_seeds_store_their_frames(client: Client, secret) -> None:
    ids = {}
    for name in (
        "image2video_raw_base64.json",
        "image2video_data_uri.json",
        "image2video_image_tail.json",
    ):
        ids[name] = int(task_id_of(post_json(client, route_of(name), seed(name), secret)))
    raw = Generation.objects.get(pk=ids["image2video_raw_base64.json"])
    assert raw.image.name.endswith(".jpg") and raw.image.size > 1000
    tail = Generation.objects.get(pk=ids["image2video_image_tail.json"])
    assert tail.image.name.endswith(".png") and tail.image_tail.name.endswith(".png")


def test_a_seed_renders_to_a_video_end_to_end(
    client: Client, secret, local_provider, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(
            client, route_of("image2video"), seed("image2video_image_tail.json"), secret
        )
    task_id = task_id_of(response)
    data = client.get(f"/kling/v1/videos/image2video/{task_id}", **bearer(secret)).json()["data"]
    assert data["task_status"] == "succeed", data
    video = data["task_result"]["videos"][0]
    download = Client().get(video["url"].removeprefix("http://testserver"))
    assert b"".join(download.streaming_content)[4:8] == b"ftyp"
    assert float(video["duration"]) == pytest.approx(5, abs=0.2)


def test_an_image_url_that_cannot_be_fetched_fails_the_task_with_a_clear_message(
    client: Client, secret, local_provider, django_capture_on_commit_callbacks
) -> None:
    body = seed("image2video_url.json")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(client, route_of("image2video"), body, secret)
    assert response.status_code == 200  # accepted: the worker fetches the frame
    task_id = task_id_of(response)
    data = client.get(f"/kling/v1/videos/image2video/{task_id}", **bearer(secret)).json()["data"]
    assert data["task_status"] == "failed"
    assert "first frame could not be fetched" in data["task_status_msg"]
    assert body["image"] in data["task_status_msg"]
