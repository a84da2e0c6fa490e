"""The generic route of seed 002: POST/GET /v1/video/generations."""

from __future__ import annotations

import pytest
from django.test import Client

from api.models import ApiTask
from tests.api_helpers import bearer, issue, post_json
from videos.models import Generation
from videos.rendering import VideoMeta

pytestmark = pytest.mark.django_db

ROUTE = "/v1/video/generations"
BODY = {
    "model": "kling-v1",
    "prompt": "a hot air balloon over a canyon",
    "duration": 5.0,
    "metadata": {"mode": "pro", "cfg_scale": 0.3, "aspect_ratio": "9:16", "negative_prompt": "fog"},
}


@pytest.fixture
def secret(user) -> str:
    return issue(user)[1]


def test_it_creates_and_answers_only_the_task_id(client: Client, secret) -> None:
    response = post_json(client, ROUTE, BODY, secret)
    assert response.status_code == 200
    assert list(response.json()) == ["task_id"]
    generation = Generation.objects.get(pk=int(response.json()["task_id"]))
    assert (generation.mode, generation.cfg_scale, generation.aspect_ratio) == ("pro", 0.3, "9:16")
    assert generation.negative_prompt == "fog" and generation.duration == 5
    assert ApiTask.objects.get(generation=generation).family == "generic"


def test_it_answers_the_seed_002_task_record(client: Client, secret, local_provider) -> None:
    task_id = post_json(client, ROUTE, BODY, secret).json()["task_id"]
    queued = client.get(f"{ROUTE}/{task_id}", **bearer(secret)).json()
    assert queued["status"] == "queued" and queued["url"] is None and queued["format"] == "mp4"
    generation = Generation.objects.get(pk=task_id)
    generation.mark_submitted(local_provider, "local-1")
    generation.mark_processing(progress=40)
    assert client.get(f"{ROUTE}/{task_id}", **bearer(secret)).json()["status"] == "processing"
    meta = VideoMeta(duration=5.0, width=720, height=1280, fps=24.0, bytes=10, sha256="0" * 64)
    generation.mark_succeeded(video=f"videos/{task_id}/video.mp4", poster="", meta=meta)
    done = client.get(f"{ROUTE}/{task_id}", **bearer(secret)).json()
    assert done["task_id"] == task_id and done["status"] == "succeeded"
    assert done["url"].startswith("http://testserver/media/s/")
    assert done["metadata"] == {"duration": 5.0, "fps": 24.0, "width": 720, "height": 1280}


def test_a_failed_task_reports_failed_with_the_reason(client: Client, secret) -> None:
    task_id = post_json(client, ROUTE, BODY, secret).json()["task_id"]
    Generation.objects.get(pk=task_id).mark_failed("the upstream refused the prompt")
    answer = client.get(f"{ROUTE}/{task_id}", **bearer(secret)).json()
    assert answer["status"] == "failed" and answer["error"] == "the upstream refused the prompt"


def test_width_and_height_choose_the_aspect_ratio(client: Client, secret) -> None:
    body = {"model": "kling-v1", "prompt": "tall", "duration": 5, "width": 720, "height": 1280}
    generation = Generation.objects.get(
        pk=int(post_json(client, ROUTE, body, secret).json()["task_id"])
    )
    assert generation.aspect_ratio == "9:16"


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({**BODY, "duration": 5.5}, 400, 1201, "duration"),
        ({**BODY, "duration": "soon"}, 400, 1201, "duration"),
        ({**BODY, "metadata": {"mode": "turbo"}}, 400, 1201, "metadata.mode"),
        ({**BODY, "metadata": {"cfg_scale": 2}}, 400, 1201, "metadata.cfg_scale"),
        ({**BODY, "metadata": "fast"}, 400, 1201, "metadata"),
        (
            {**BODY, "metadata": {"camera_control": {"type": "spin"}}},
            400,
            1201,
            "metadata.camera_control",
        ),
        ({**BODY, "model": "sora-9"}, 404, 1203, "sora-9"),
        ({**BODY, "image": "%%%"}, 400, 1201, "image"),
        ({**BODY, "width": 0, "height": 10}, 400, 1201, "width"),
    ],
)
def test_it_rejects_bad_input_by_name_and_creates_nothing(
    client: Client, secret, body, status, code, field
) -> None:
    response = post_json(client, ROUTE, body, secret)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert field in response.json()["message"]
    assert not Generation.objects.exists()


def test_another_owners_task_and_wrong_methods_are_404(client: Client, secret, other_user) -> None:
    task_id = post_json(client, ROUTE, BODY, secret).json()["task_id"]
    bob = issue(other_user)[1]
    assert client.get(f"{ROUTE}/{task_id}", **bearer(bob)).json()["code"] == 1203
    assert client.get(ROUTE, **bearer(secret)).json()["code"] == 1202
    assert client.post(f"{ROUTE}/{task_id}", **bearer(secret)).json()["code"] == 1202


def test_it_needs_a_key(client: Client) -> None:
    response = post_json(client, ROUTE, BODY)
    assert (response.status_code, response.json()["code"]) == (401, 1001)
    assert not Generation.objects.exists()
