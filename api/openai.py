"""The OpenAI-compatible video routes (kling-api.md §3.3): the official openai SDK is a client."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from videos.media import serve_stored_file
from videos.models import Generation, Status
from videos.tasks import next_poll_delay

from .auth import api_endpoint
from .errors import ApiError
from .forms import ContentForm, OpenAICreateForm, OpenAIListForm, raise_for_own_errors
from .http import json_body, own_generation, own_generations, public_base_url, seconds

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


def video_object(generation: Generation) -> dict[str, Any]:
    """The OpenAI Video object of a generation (timestamps in seconds, kling-api.md §6.3)."""
    failed = generation.status in (Status.FAILED, Status.CANCELLED)
    if generation.video_width and generation.video_height:
        size = f"{generation.video_width}x{generation.video_height}"
    else:
        size = NOMINAL_SIZE.get(generation.aspect_ratio, "1280x720")
    return {
        "id": str(generation.pk),
        "object": "video",
        "model": generation.model_name,
        "status": OPENAI_STATUS[generation.status],
        "progress": 100 if generation.status == Status.SUCCEEDED else generation.progress,
        "created_at": seconds(generation.created_at),
        "completed_at": seconds(generation.finished_at) if generation.is_terminal else None,
        "expires_at": None,  # the studio keeps its copy: nothing expires
        "seconds": str(generation.duration),
        "size": size,
        "prompt": generation.prompt,
        "remixed_from_video_id": str(generation.parent_id) if generation.parent_id else None,
        "error": {"code": f"video_{generation.status}", "message": generation.status_message}
        if failed
        else None,
    }


def video_response(generation: Generation) -> JsonResponse:
    response = JsonResponse(video_object(generation))
    if generation.is_pending:
        # The SDK's poll() waits this long between retrieves.
        response["openai-poll-after-ms"] = str(int(min(next_poll_delay(generation), 10) * 1000))
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
    rows = own_generations(request).order_by("id" if ascending else "-id")
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
        api_form = OpenAICreateForm(request.POST, request.FILES)
    form = api_form.generation_form()
    generation = request.api_key.start_generation(
        form, family="openai", base_url=public_base_url(request)
    )
    return video_response(generation)


@api_endpoint("openai", "GET", "DELETE")
def video(request: HttpRequest, video_id: str) -> JsonResponse:
    """GET one video; DELETE removes a finished (or not yet submitted) one with its files."""
    generation = own_generation(request, video_id)
    if request.method == "GET":
        return video_response(generation)
    if generation.is_pending and generation.status != Status.QUEUED:
        # The upstream task is paid and running: deleting now would orphan its result.
        raise ApiError(
            400, 1201, "a running video cannot be deleted; wait until it finishes", param="video_id"
        )
    generation.delete_with_files()
    return JsonResponse({"id": video_id, "object": "video.deleted", "deleted": True})


@api_endpoint("openai", "GET")
def content(request: HttpRequest, video_id: str) -> HttpResponse:
    """The stored MP4 (Range requests honoured) or the poster JPEG of a completed video."""
    generation = own_generation(request, video_id)
    form = ContentForm(request.GET)
    if not form.is_valid():
        raise_for_own_errors(form)
    variant = form.cleaned_data["variant"] or "video"
    if generation.status != Status.SUCCEEDED:
        raise ApiError(
            404, 1203, f"video {video_id} is {OPENAI_STATUS[generation.status]}, not completed"
        )
    stored = {"video": generation.video, "thumbnail": generation.poster}.get(variant)
    if not stored:
        raise ApiError(
            404, 1203, f"the {variant} variant is not available for this video", param="variant"
        )
    return serve_stored_file(request, stored.name)
