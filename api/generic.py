"""The generic route of seed 002 (kling-api.md §2, §3.2): POST/GET /v1/video/generations."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse

from videos.models import Generation, Status

from .auth import api_endpoint
from .forms import GenericCreateForm
from .http import json_body, media_url, own_generation, public_base_url

GENERIC_STATUS = {
    Status.QUEUED: "queued",
    Status.SUBMITTED: "queued",
    Status.PROCESSING: "processing",
    Status.SUCCEEDED: "succeeded",
    Status.FAILED: "failed",
    Status.CANCELLED: "failed",
}


def generic_task(generation: Generation, base_url: str) -> dict[str, Any]:
    """Seed 002's task record, with the URL of the studio's stored copy."""
    succeeded = generation.status == Status.SUCCEEDED
    return {
        "task_id": str(generation.pk),
        "status": GENERIC_STATUS[generation.status],
        "progress": generation.progress,
        "url": media_url(base_url, generation.video) if succeeded else None,
        "thumbnail_url": media_url(base_url, generation.poster) if succeeded else None,
        "format": "mp4",
        "error": generation.status_message
        if generation.status in (Status.FAILED, Status.CANCELLED)
        else None,
        "metadata": {
            "duration": generation.video_duration if succeeded else float(generation.duration),
            "fps": generation.video_fps,
            "width": generation.video_width,
            "height": generation.video_height,
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
    generation = own_generation(request, task_id)
    return JsonResponse(generic_task(generation, public_base_url(request)))
