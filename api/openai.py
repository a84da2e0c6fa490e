"""The OpenAI-compatible video routes (kling-api.md §3.3): the official openai SDK is a client."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError

from videos.media import serve_stored_file
from videos.models import Generation, Status
from videos.tasks import next_poll_delay

from .auth import api_endpoint
from .errors import ApiError
from .forms import ContentForm, OpenAICreateForm, OpenAIListForm, raise_for_own_errors
from .http import (
    TaskRow,
    json_body,
    own_generation,
    own_task,
    own_tasks,
    public_base_url,
    seconds,
    task_row,
)

OPENAI_STATUS = {
    Status.QUEUED: "queued",
    Status.SUBMITTED: "queued",
    Status.PROCESSING: "in_progress",
    Status.SUCCEEDED: "completed",
    Status.FAILED: "failed",
    Status.CANCELLED: "failed",
}
# A nominal size for a clip that has no stored video yet.
NOMINAL_SIZE = {
    "16:9": "1280x720",
    "9:16": "720x1280",
    "1:1": "960x960",
    "3:2": "1080x720",
    "2:3": "720x1080",
    "4:3": "960x720",
    "3:4": "720x960",
}


def video_object(row: TaskRow) -> dict[str, Any]:
    """The OpenAI Video object of a generation (timestamps in seconds, kling-api.md §6.3)."""
    status = row["status"]
    failed = status in (Status.FAILED, Status.CANCELLED)
    if row["video_width"] and row["video_height"]:
        size = f"{row['video_width']}x{row['video_height']}"
    else:
        size = NOMINAL_SIZE.get(row["aspect_ratio"], "1280x720")
    return {
        "id": str(row["id"]),
        "object": "video",
        "model": row["model_name"],
        "status": OPENAI_STATUS[status],
        "progress": 100 if status == Status.SUCCEEDED else row["progress"],
        "created_at": seconds(row["created_at"]),
        "completed_at": seconds(row["finished_at"]) if status in Generation.TERMINAL else None,
        "expires_at": None,  # the studio keeps its copy: nothing expires
        "seconds": str(row["duration"]),
        "size": size,
        "prompt": row["prompt"],
        "remixed_from_video_id": str(row["parent_id"]) if row["parent_id"] else None,
        "error": {"code": f"video_{status}", "message": row["status_message"]} if failed else None,
    }


def video_response(row: TaskRow) -> JsonResponse:
    response = JsonResponse(video_object(row))
    if row["status"] in Generation.PENDING:
        # The SDK's poll() waits this long between retrieves.
        timing = Generation(
            id=row["id"], model_name=row["model_name"], created_at=row["created_at"],
            submitted_at=row["submitted_at"],
        )  # fmt: skip
        response["openai-poll-after-ms"] = str(int(min(next_poll_delay(timing), 10) * 1000))
    return response


@api_endpoint("openai", "GET", "POST")
def videos(request: HttpRequest) -> JsonResponse:
    """POST creates a video (multipart or JSON); GET lists the caller's videos with a cursor."""
    if request.method == "POST":
        return create(request)
    form = OpenAIListForm(request.GET)
    if not form.is_valid():
        raise_for_own_errors(form)
    limit = form.cleaned_data["limit"] or 20
    after = form.cleaned_data["after"]
    ascending = form.cleaned_data["order"] == "asc"
    rows = own_tasks(request).order_by("id" if ascending else "-id")
    if after is not None:
        rows = rows.filter(pk__gt=after) if ascending else rows.filter(pk__lt=after)
    page = list(rows[: limit + 1])  # one more than asked tells whether there is a next page
    data = [video_object(g) for g in page[:limit]]
    return JsonResponse(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": len(page) > limit,
        }
    )


def create(request: HttpRequest) -> JsonResponse:
    if request.content_type == "application/json":
        api_form = OpenAICreateForm(json_body(request))
    else:
        try:
            api_form = OpenAICreateForm(request.POST, request.FILES)
        except (MultiPartParserError, RequestDataTooBig) as exc:
            raise ApiError(400, 1200, f"the multipart body cannot be read: {exc}") from exc
    form = api_form.generation_form()
    generation = request.api_key.start_generation(
        form, family="openai", base_url=public_base_url(request)
    )
    return video_response(task_row(generation.pk))


@api_endpoint("openai", "GET", "DELETE")
def video(request: HttpRequest, video_id: str) -> JsonResponse:
    """GET one video; DELETE moves a finished (or not yet submitted) one to the trash, as the
    web UI's Delete does: gone for clients, restorable in the web UI until purged."""
    if request.method == "GET":
        return video_response(own_task(request, video_id))
    generation = own_generation(request, video_id)
    # trash() cancels a queued job first and refuses one an upstream is running (paid: deleting
    # now would orphan its result).
    if not generation.trash():
        raise ApiError(
            400, 1201, "a running video cannot be deleted; wait until it finishes", param="video_id"
        )
    return JsonResponse({"id": video_id, "object": "video.deleted", "deleted": True})


@api_endpoint("openai", "GET")
def content(request: HttpRequest, video_id: str) -> HttpResponse:
    """The stored MP4 (Range requests honoured) or the poster JPEG of a completed video."""
    row = own_task(request, video_id)
    form = ContentForm(request.GET)
    if not form.is_valid():
        raise_for_own_errors(form)
    variant = form.cleaned_data["variant"] or "video"
    if row["status"] != Status.SUCCEEDED:
        state = OPENAI_STATUS[row["status"]]
        raise ApiError(404, 1203, f"video {video_id} is {state}, not completed")
    stored = {"video": row["video"], "thumbnail": row["poster"]}.get(variant)
    if not stored:
        raise ApiError(
            404, 1203, f"the {variant} variant is not available for this video", param="variant"
        )
    return serve_stored_file(request, stored)
