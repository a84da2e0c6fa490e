"""The generic route of seed 002 (kling-api.md §2, §3.2): POST/GET /v1/video/generations."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse

from videos.models import Status

from .auth import api_endpoint
from .forms import GenericCreateForm
from .http import TaskRow, json_body, media_url, own_task, public_base_url

GENERIC_STATUS = {
    Status.QUEUED: "queued",
    Status.SUBMITTED: "queued",
    Status.PROCESSING: "processing",
    Status.SUCCEEDED: "succeeded",
    Status.FAILED: "failed",
    Status.CANCELLED: "failed",
}


def generic_task(row: TaskRow, base_url: str) -> dict[str, Any]:
    """Seed 002's task record, with the URL of the studio's stored copy."""
    succeeded = row["status"] == Status.SUCCEEDED
    failed = row["status"] in (Status.FAILED, Status.CANCELLED)
    return {
        "task_id": str(row["id"]),
        "status": GENERIC_STATUS[row["status"]],
        "progress": row["progress"],
        "url": media_url(base_url, row["video"]) if succeeded else None,
        "thumbnail_url": media_url(base_url, row["poster"]) if succeeded else None,
        "format": "mp4",
        "error": row["status_message"] if failed else None,
        "metadata": {
            "duration": row["video_duration"] if succeeded else float(row["duration"]),
            "fps": row["video_fps"],
            "width": row["video_width"],
            "height": row["video_height"],
        },
    }


@api_endpoint("generic", "POST")
def create(request: HttpRequest) -> JsonResponse:
    """Create from seed 002's body; answers {"task_id": ...}."""
    api_form = GenericCreateForm(json_body(request))
    form = api_form.generation_form()
    generation = request.api_key.start_generation(
        form,
        family="generic",
        base_url=public_base_url(request),
        callback_url=api_form.callback_url,
    )
    return JsonResponse({"task_id": str(generation.pk)})


@api_endpoint("generic", "GET")
def task(request: HttpRequest, task_id: str) -> JsonResponse:
    return JsonResponse(generic_task(own_task(request, task_id), public_base_url(request)))
