"""The OpenAI-compatible routes: multipart and JSON creates, retrieve, list, content, delete."""

from __future__ import annotations

import base64

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from tests.api_helpers import bearer, issue, post_json
from tests.images import image_bytes
from videos.models import Generation, Status
from videos.rendering import VideoMeta

pytestmark = pytest.mark.django_db

VIDEOS = "/v1/videos"
VIDEO_BYTES = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8
META = VideoMeta(
    duration=5.0, width=1280, height=720, fps=24.0, bytes=len(VIDEO_BYTES), sha256="0" * 64
)


@pytest.fixture
def secret(user) -> str:
    return issue(user)[1]


def finish(generation: Generation, provider) -> None:
    """Mark a generation finished with small stored files (no render needed)."""
    video = default_storage.save(f"videos/{generation.pk}/video.mp4", ContentFile(VIDEO_BYTES))
    poster = default_storage.save(
        f"videos/{generation.pk}/poster.jpg", ContentFile(image_bytes(64, 36))
    )
    generation.mark_submitted(provider, "local")
    generation.mark_succeeded(video=video, poster=poster, meta=META)


def test_a_multipart_create_answers_a_video_object(client: Client, secret) -> None:
    form = {"prompt": "a paper boat", "model": "kling-v1", "seconds": "10", "size": "720x1280"}
    response = client.post(VIDEOS, data=form, **bearer(secret))
    assert response.status_code == 200
    video = response.json()
    assert video["object"] == "video" and video["status"] == "queued" and video["progress"] == 0
    assert (video["model"], video["seconds"], video["size"], video["prompt"]) == (
        "kling-v1",
        "10",
        "720x1280",
        "a paper boat",
    )
    assert 1_700_000_000 < video["created_at"] < 10_000_000_000  # seconds, not milliseconds
    assert video["error"] is None and video["completed_at"] is None
    assert int(response["openai-poll-after-ms"]) > 0
    generation = Generation.objects.get(pk=int(video["id"]))
    assert (generation.aspect_ratio, generation.duration) == ("9:16", 10)


def test_a_multipart_create_takes_an_input_reference_file(client: Client, secret) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("first.jpg", image_bytes(640, 360), content_type="image/jpeg")
    response = client.post(
        VIDEOS, data={"prompt": "move", "input_reference": upload}, **bearer(secret)
    )
    assert response.status_code == 200, response.content
    generation = Generation.objects.get(pk=int(response.json()["id"]))
    assert generation.kind == "image2video" and generation.image.name.endswith(".jpg")


def test_a_json_create_takes_an_image_url_reference(client: Client, secret) -> None:
    data_url = "data:image/jpeg;base64," + base64.b64encode(image_bytes(640, 360)).decode()
    body = {"prompt": "drift", "seconds": "5", "input_reference": {"image_url": data_url}}
    response = post_json(client, VIDEOS, body, secret)
    assert response.status_code == 200
    generation = Generation.objects.get(pk=int(response.json()["id"]))
    assert generation.kind == "image2video" and generation.image
    by_url = post_json(
        client,
        VIDEOS,
        {"prompt": "drift", "input_reference": {"image_url": "https://example.org/a.png"}},
        secret,
    )
    assert (
        Generation.objects.get(pk=int(by_url.json()["id"])).image_url == "https://example.org/a.png"
    )


@pytest.mark.parametrize(
    ("body", "status", "param", "code"),
    [
        ({"model": "kling-v1"}, 400, "prompt", "invalid_value"),
        ({"prompt": "x", "seconds": "4"}, 400, "seconds", "invalid_value"),
        ({"prompt": "x", "size": "big"}, 400, "size", "invalid_value"),
        ({"prompt": "x", "model": "sora-2"}, 404, "model", "not_found"),
        (
            {"prompt": "x", "input_reference": {"file_id": "file_1"}},
            400,
            "input_reference",
            "invalid_value",
        ),
    ],
)
def test_bad_creates_answer_the_openai_error_shape_and_create_nothing(
    client: Client, secret, body, status, param, code
) -> None:
    response = post_json(client, VIDEOS, body, secret)
    assert response.status_code == status
    error = response.json()["error"]
    assert (error["param"], error["code"]) == (param, code)
    assert error["type"] == "invalid_request_error" and param in error["message"]
    assert not Generation.objects.exists()


def test_it_retrieves_a_completed_video_without_a_poll_header(
    client: Client, secret, local_provider
) -> None:
    video_id = post_json(client, VIDEOS, {"prompt": "a"}, secret).json()["id"]
    finish(Generation.objects.get(pk=video_id), local_provider)
    response = client.get(f"{VIDEOS}/{video_id}", **bearer(secret))
    video = response.json()
    assert (
        video["status"] == "completed" and video["progress"] == 100 and video["size"] == "1280x720"
    )
    assert video["completed_at"] >= video["created_at"]
    assert "openai-poll-after-ms" not in response


def test_a_failed_video_carries_an_error(client: Client, secret) -> None:
    video_id = post_json(client, VIDEOS, {"prompt": "a"}, secret).json()["id"]
    Generation.objects.get(pk=video_id).mark_failed("content policy")
    video = client.get(f"{VIDEOS}/{video_id}", **bearer(secret)).json()
    assert video["status"] == "failed" and video["error"] == {
        "code": "video_failed",
        "message": "content policy",
    }


def test_it_lists_with_a_cursor_in_both_orders(
    client: Client, secret, other_user, make_generation
) -> None:
    ids = [post_json(client, VIDEOS, {"prompt": f"n{i}"}, secret).json()["id"] for i in range(5)]
    make_generation(owner=other_user)
    first = client.get(VIDEOS, {"limit": 2}, **bearer(secret)).json()
    assert first["object"] == "list" and [v["id"] for v in first["data"]] == ids[::-1][:2]
    assert first["has_more"] is True and first["first_id"] == ids[4] and first["last_id"] == ids[3]
    rest = client.get(VIDEOS, {"limit": 10, "after": first["last_id"]}, **bearer(secret)).json()
    assert [v["id"] for v in rest["data"]] == ids[::-1][2:] and rest["has_more"] is False
    ascending = client.get(
        VIDEOS, {"order": "asc", "limit": 3, "after": ids[0]}, **bearer(secret)
    ).json()
    assert [v["id"] for v in ascending["data"]] == ids[1:4]
    bad = client.get(VIDEOS, {"limit": 1000}, **bearer(secret))
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "limit"


def test_content_serves_the_video_with_ranges_and_the_thumbnail(
    client: Client, secret, local_provider
) -> None:
    video_id = post_json(client, VIDEOS, {"prompt": "a"}, secret).json()["id"]
    finish(Generation.objects.get(pk=video_id), local_provider)
    whole = client.get(f"{VIDEOS}/{video_id}/content", **bearer(secret))
    assert whole.status_code == 200 and whole["Content-Type"] == "video/mp4"
    assert b"".join(whole.streaming_content) == VIDEO_BYTES
    part = client.get(f"{VIDEOS}/{video_id}/content", HTTP_RANGE="bytes=100-199", **bearer(secret))
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 100-199/{len(VIDEO_BYTES)}"
    assert b"".join(part.streaming_content) == VIDEO_BYTES[100:200]
    thumb = client.get(f"{VIDEOS}/{video_id}/content", {"variant": "thumbnail"}, **bearer(secret))
    assert (
        thumb["Content-Type"] == "image/jpeg"
        and b"".join(thumb.streaming_content)[:2] == b"\xff\xd8"
    )
    sprites = client.get(
        f"{VIDEOS}/{video_id}/content", {"variant": "spritesheet"}, **bearer(secret)
    )
    assert sprites.status_code == 404 and sprites.json()["error"]["param"] == "variant"


def test_content_of_an_unfinished_video_is_404(client: Client, secret) -> None:
    video_id = post_json(client, VIDEOS, {"prompt": "a"}, secret).json()["id"]
    response = client.get(f"{VIDEOS}/{video_id}/content", **bearer(secret))
    assert response.status_code == 404 and "not completed" in response.json()["error"]["message"]


def test_delete_moves_a_finished_video_to_the_trash_like_the_web_ui(
    client: Client, secret, local_provider
) -> None:
    video_id = post_json(client, VIDEOS, {"prompt": "a"}, secret).json()["id"]
    generation = Generation.objects.get(pk=video_id)
    finish(generation, local_provider)
    generation.refresh_from_db()
    response = client.delete(f"{VIDEOS}/{video_id}", **bearer(secret))
    assert response.json() == {"id": video_id, "object": "video.deleted", "deleted": True}
    trashed = Generation.objects.get(pk=video_id)
    assert trashed.deleted_at is not None and trashed.status == Status.SUCCEEDED
    assert default_storage.exists(generation.video.name)  # restorable until purged
    assert client.get(f"{VIDEOS}/{video_id}", **bearer(secret)).status_code == 404
    assert client.get(VIDEOS, **bearer(secret)).json()["data"] == []
    assert client.delete(f"{VIDEOS}/{video_id}", **bearer(secret)).status_code == 404
    assert (
        trashed.restore()
        and client.get(f"{VIDEOS}/{video_id}", **bearer(secret)).json()["status"] == "completed"
    )


def test_delete_of_a_queued_video_cancels_it_into_the_trash(client: Client, secret) -> None:
    video_id = post_json(client, VIDEOS, {"prompt": "a"}, secret).json()["id"]
    response = client.delete(f"{VIDEOS}/{video_id}", **bearer(secret))
    assert response.json() == {"id": video_id, "object": "video.deleted", "deleted": True}
    trashed = Generation.objects.get(pk=video_id)
    assert (trashed.status, trashed.deleted_at is not None) == (Status.CANCELLED, True)


def test_delete_refuses_a_running_video(client: Client, secret, local_provider) -> None:
    video_id = post_json(client, VIDEOS, {"prompt": "a"}, secret).json()["id"]
    Generation.objects.get(pk=video_id).mark_submitted(local_provider, "local")
    response = client.delete(f"{VIDEOS}/{video_id}", **bearer(secret))
    assert response.status_code == 400 and "running" in response.json()["error"]["message"]
    assert Generation.objects.get(pk=video_id).status == Status.SUBMITTED


def test_other_owners_videos_are_invisible(client: Client, secret, other_user) -> None:
    video_id = post_json(client, VIDEOS, {"prompt": "a"}, secret).json()["id"]
    bob = issue(other_user)[1]
    for response in (
        client.get(f"{VIDEOS}/{video_id}", **bearer(bob)),
        client.get(f"{VIDEOS}/{video_id}/content", **bearer(bob)),
        client.delete(f"{VIDEOS}/{video_id}", **bearer(bob)),
    ):
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert client.get(VIDEOS, **bearer(bob)).json()["data"] == []
    assert Generation.objects.filter(pk=video_id).exists()


def test_a_broken_multipart_body_is_a_400(client: Client, secret) -> None:
    response = client.post(
        VIDEOS,
        data=b"--x\r\nbroken",
        content_type="multipart/form-data; boundary=",
        **bearer(secret),
    )
    assert (
        response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"
    )
    assert not Generation.objects.exists()
