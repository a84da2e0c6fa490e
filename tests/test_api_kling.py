"""The Kling-native routes: create, query, list, the exact envelope, and every error of §3.5."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from api.models import ApiTask
from tests.api_helpers import bearer, issue, post_json
from videos.models import Generation, Status
from videos.rendering import VideoMeta

pytestmark = pytest.mark.django_db

T2V = "/kling/v1/videos/text2video"
I2V = "/kling/v1/videos/image2video"
BODY = {"model_name": "kling-v1", "prompt": "a red fox running through snow", "duration": "5"}
META = VideoMeta(duration=5.04, width=1280, height=720, fps=24.0, bytes=1000, sha256="ab" * 32)


@pytest.fixture
def key_and_secret(user):
    return issue(user)


@pytest.fixture
def secret(key_and_secret) -> str:
    return key_and_secret[1]


def test_it_creates_a_text2video_task_with_the_kling_envelope(client: Client, secret, user) -> None:
    response = post_json(client, T2V, BODY, secret)
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 0 and body["message"] == "SUCCEED" and len(body["request_id"]) == 36
    data = body["data"]
    assert data["task_status"] == "submitted"
    assert data["task_id"].isdigit()
    assert data["created_at"] > 1_700_000_000_000  # milliseconds
    assert "task_result" not in data
    generation = Generation.objects.get(pk=int(data["task_id"]))
    assert generation.owner == user and generation.api_key is not None
    assert (generation.kind, generation.model_name, generation.duration) == (
        "text2video",
        "kling-v1",
        5,
    )
    assert generation.prompt == BODY["prompt"] and generation.source == "api"


def test_it_serves_the_same_routes_without_the_kling_prefix(client: Client, secret) -> None:
    created = post_json(client, "/v1/videos/text2video", BODY, secret).json()["data"]
    task_id = created["task_id"]
    one = client.get(f"/v1/videos/text2video/{task_id}", **bearer(secret)).json()
    prefixed = client.get(f"{T2V}/{task_id}", **bearer(secret)).json()
    assert one["data"]["task_id"] == prefixed["data"]["task_id"] == task_id
    assert one["data"]["task_status"] == "submitted"


def test_it_keeps_the_external_task_id_and_refuses_a_duplicate(client: Client, secret) -> None:
    body = {**BODY, "external_task_id": "my-job-1"}
    first = post_json(client, T2V, body, secret).json()
    assert first["data"]["task_info"] == {"external_task_id": "my-job-1"}
    again = post_json(client, T2V, body, secret)
    assert again.status_code == 400 and again.json()["code"] == 1201
    assert "external_task_id" in again.json()["message"]
    assert Generation.objects.count() == 1 and ApiTask.objects.count() == 1


def test_it_answers_a_finished_task_with_an_absolute_url_of_the_stored_copy(
    client: Client, secret, key_and_secret, local_provider, settings
) -> None:
    settings.STUDIO_PUBLIC_URL = ""
    task_id = post_json(client, T2V, BODY, secret).json()["data"]["task_id"]
    generation = Generation.objects.get(pk=task_id)
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    video = default_storage.save(
        f"videos/{task_id}/video.mp4", ContentFile(b"\x00\x00\x00\x18ftypmp42" + b"x" * 100)
    )
    poster = default_storage.save(f"videos/{task_id}/poster.jpg", ContentFile(b"\xff\xd8jpeg"))
    generation.mark_submitted(local_provider, "local-1")
    generation.mark_succeeded(video=video, poster=poster, meta=META, units=Decimal("1.00"))
    data = client.get(f"{T2V}/{task_id}", **bearer(secret)).json()["data"]
    assert data["task_status"] == "succeed"
    assert data["final_unit_deduction"] == "1"
    videos = data["task_result"]["videos"]
    assert videos[0]["id"] == task_id and videos[0]["duration"] == "5"
    url = videos[0]["url"]
    assert url.startswith("http://testserver/media/s/")
    # The URL works without a session or a key: Kling clients just download it.
    download = Client().get(url.removeprefix("http://testserver"))
    assert download.status_code == 200
    assert b"".join(download.streaming_content).startswith(b"\x00\x00\x00\x18ftyp")


def test_it_uses_the_public_url_setting_for_result_links(
    client: Client, secret, local_provider, settings
) -> None:
    settings.STUDIO_PUBLIC_URL = "https://studio.example.org"
    task_id = post_json(client, T2V, BODY, secret).json()["data"]["task_id"]
    generation = Generation.objects.get(pk=task_id)
    generation.mark_submitted(local_provider, "local-1")
    generation.mark_succeeded(video=f"videos/{task_id}/video.mp4", poster="", meta=META)
    data = client.get(f"{T2V}/{task_id}", **bearer(secret)).json()["data"]
    assert data["task_result"]["videos"][0]["url"].startswith("https://studio.example.org/media/s/")


def test_a_failed_task_says_why_in_task_status_msg(client: Client, secret) -> None:
    task_id = post_json(client, T2V, BODY, secret).json()["data"]["task_id"]
    Generation.objects.get(pk=task_id).mark_failed("content policy: violence")
    body = client.get(f"{T2V}/{task_id}", **bearer(secret)).json()
    assert body["code"] == 0 and body["message"] == "SUCCEED"
    assert body["data"]["task_status"] == "failed"
    assert body["data"]["task_status_msg"] == "content policy: violence"


def test_it_lists_the_callers_tasks_newest_first_with_paging(
    client: Client, secret, other_user, make_generation
) -> None:
    ids = [
        post_json(client, T2V, {**BODY, "prompt": f"take {i}"}, secret).json()["data"]["task_id"]
        for i in range(5)
    ]
    make_generation(owner=other_user, prompt="not yours")
    make_generation(kind="image2video", image_url="https://example.org/a.jpg")
    page1 = client.get(T2V, {"pageNum": 1, "pageSize": 2}, **bearer(secret)).json()
    page3 = client.get(T2V, {"pageNum": 3, "pageSize": 2}, **bearer(secret)).json()
    assert [t["task_id"] for t in page1["data"]] == ids[::-1][:2]
    assert [t["task_id"] for t in page3["data"]] == ids[:1]
    everything = client.get(T2V, **bearer(secret)).json()["data"]
    assert len(everything) == 5  # other users' tasks and the other kind are not listed
    assert client.get(I2V, **bearer(secret)).json()["data"][0]["task_info"] == {
        "external_task_id": ""
    }


def test_it_rejects_bad_paging(client: Client, secret) -> None:
    response = client.get(T2V, {"pageSize": 501}, **bearer(secret))
    assert response.status_code == 400 and response.json()["code"] == 1201
    assert "pageSize" in response.json()["message"]


def test_another_owners_task_is_a_404(client: Client, secret, other_user) -> None:
    _key, bob_secret = issue(other_user)
    task_id = post_json(client, T2V, BODY, secret).json()["data"]["task_id"]
    response = client.get(f"{T2V}/{task_id}", **bearer(bob_secret))
    assert response.status_code == 404 and response.json()["code"] == 1203
    assert client.get(T2V, **bearer(bob_secret)).json()["data"] == []


def test_a_second_key_of_the_same_owner_sees_the_task(client: Client, secret, user) -> None:
    _key, second = issue(user, "second")
    task_id = post_json(client, T2V, BODY, secret).json()["data"]["task_id"]
    assert client.get(f"{T2V}/{task_id}", **bearer(second)).json()["data"]["task_id"] == task_id


def test_a_task_of_the_other_kind_or_a_bad_id_is_a_404(client: Client, secret) -> None:
    task_id = post_json(client, T2V, BODY, secret).json()["data"]["task_id"]
    other_kind = client.get(f"{I2V}/{task_id}", **bearer(secret))
    assert other_kind.status_code == 404  # the Kling error body, not the router's 404 page
    assert other_kind.json()["code"] == 1203 and task_id in other_kind.json()["message"]
    assert client.get(f"{T2V}/not-a-number", **bearer(secret)).json()["code"] == 1203


# ---- errors: nothing is ever created ----------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "status", "code", "names"),
    [
        ({**BODY, "model_name": "kling-v9"}, 404, 1203, "kling-v9"),
        ({**BODY, "prompt": ""}, 400, 1201, "prompt"),
        ({**BODY, "prompt": "x" * 2501}, 400, 1201, "prompt"),
        ({**BODY, "duration": "7"}, 400, 1201, "duration"),
        ({**BODY, "duration": "5.5"}, 400, 1201, "duration"),
        ({**BODY, "mode": "standard"}, 400, 1201, "mode"),
        ({**BODY, "cfg_scale": 3}, 400, 1201, "cfg_scale"),
        ({**BODY, "aspect_ratio": "21:9"}, 400, 1201, "aspect_ratio"),
        (
            {**BODY, "camera_control": {"type": "simple", "config": {"pan": 1, "zoom": 2}}},
            400,
            1201,
            "camera_control",
        ),
        (
            {**BODY, "camera_control": {"type": "down_back", "config": {"zoom": 2}}},
            400,
            1201,
            "camera_control",
        ),
        ({**BODY, "camera_control": "sideways"}, 400, 1201, "camera_control"),
        ({**BODY, "image": "https://example.org/frame.jpg"}, 400, 1201, "image"),
        ({**BODY, "callback_url": "ftp://example.org/hook"}, 400, 1201, "callback_url"),
    ],
)
def test_it_rejects_bad_fields_by_name_and_creates_nothing(
    client: Client, secret, body, status, code, names
) -> None:
    response = post_json(client, T2V, body, secret)
    assert response.status_code == status
    answer = response.json()
    assert answer["code"] == code and names in answer["message"] and answer["request_id"]
    assert not Generation.objects.exists() and not ApiTask.objects.exists()


def test_it_rejects_a_body_that_is_not_json(client: Client, secret) -> None:
    response = client.post(T2V, data="{not json", content_type="application/json", **bearer(secret))
    assert response.status_code == 400 and response.json()["code"] == 1200
    assert post_json(client, T2V, ["a", "list"], secret).json()["code"] == 1200
    assert not Generation.objects.exists()


def test_image2video_needs_a_frame(client: Client, secret) -> None:
    response = post_json(client, I2V, {"model_name": "kling-v1", "prompt": "move"}, secret)
    assert response.status_code == 400 and response.json()["message"].startswith("image:")
    bad = post_json(client, I2V, {"model_name": "kling-v1", "image": "not base64 !!"}, secret)
    assert bad.status_code == 400 and "image" in bad.json()["message"]
    assert not Generation.objects.exists()


def test_a_wrong_method_is_404_1202(client: Client, secret) -> None:
    response = client.delete(T2V, **bearer(secret))
    assert response.status_code == 404 and response.json()["code"] == 1202
    assert client.post(f"{T2V}/123", **bearer(secret)).json()["code"] == 1202


def test_a_model_the_key_may_not_use_is_403_1103(client: Client, user) -> None:
    _key, secret = issue(user, allowed_models=["kling-v1-6"])
    response = post_json(client, T2V, BODY, secret)
    assert response.status_code == 403 and response.json()["code"] == 1103
    assert "kling-v1" in response.json()["message"]
    assert post_json(client, T2V, {**BODY, "model_name": "kling-v1-6"}, secret).status_code == 200
    assert Generation.objects.count() == 1


def test_too_many_running_tasks_is_429_1303(client: Client, user) -> None:
    _key, secret = issue(user, max_concurrent=2)
    assert post_json(client, T2V, BODY, secret).status_code == 200
    assert post_json(client, T2V, BODY, secret).status_code == 200
    response = post_json(client, T2V, BODY, secret)
    assert response.status_code == 429 and response.json()["code"] == 1303
    assert "2 of 2" in response.json()["message"]
    assert Generation.objects.count() == 2
    Generation.objects.first().mark_failed("done")  # a finished task frees its slot
    assert post_json(client, T2V, BODY, secret).status_code == 200


def test_a_spent_budget_is_429_1102(client: Client, user) -> None:
    _key, secret = issue(user, unit_budget=Decimal("4.50"))
    pro = {**BODY, "mode": "pro"}  # kling-v1 pro costs 3.5 units per 5 s
    assert post_json(client, T2V, pro, secret).status_code == 200
    response = post_json(client, T2V, pro, secret)
    assert response.status_code == 429 and response.json()["code"] == 1102
    assert "3.50 of 4.50" in response.json()["message"]
    assert post_json(client, T2V, BODY, secret).status_code == 200  # 1 unit still fits
    assert Generation.objects.count() == 2


def test_a_web_ui_generation_of_the_owner_is_visible_through_the_api(
    client: Client, secret, make_generation
) -> None:
    generation = make_generation(status=Status.QUEUED)
    data = client.get(f"{T2V}/{generation.pk}", **bearer(secret)).json()["data"]
    assert data["task_id"] == str(generation.pk) and data["task_info"] == {"external_task_id": ""}


def test_a_body_over_the_size_limit_is_400_1200(client: Client, secret, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post_json(client, T2V, {**BODY, "negative_prompt": "x" * 2000}, secret)
    assert response.status_code == 400 and response.json()["code"] == 1200
    assert not Generation.objects.exists()
