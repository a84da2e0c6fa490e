"""The Kling-native routes (kling-api.md §3.1): drop-in for Kling SDKs and the seeds' examples."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpRequest, JsonResponse

from videos.models import Generation, Status

from .auth import api_endpoint
from .forms import KlingCreateForm, KlingListForm, raise_for_own_errors
from .http import (
    api_task_of,
    json_body,
    media_url,
    millis,
    own_generation,
    own_generations,
    public_base_url,
)

# Outbound words of the Kling family (kling-api.md §4.1): note the spelling "succeed".
KLING_STATUS = {
    Status.QUEUED: "submitted",
    Status.SUBMITTED: "submitted",
    Status.PROCESSING: "processing",
    Status.SUCCEEDED: "succeed",
    Status.FAILED: "failed",
    Status.CANCELLED: "failed",
}


def units_text(units: Decimal | None) -> str:
    """Kling's final_unit_deduction: a string without trailing zeros ("1", "3.5")."""
    if units is None:
        return "0"
    text = format(units.normalize(), "f")
    return text


def kling_task(generation: Generation, base_url: str, status: str | None = None) -> dict[str, Any]:
    """The Kling task object of a generation, with studio ids and URLs of our stored copy."""
    status = status or generation.status
    api_task = api_task_of(generation)
    task: dict[str, Any] = {
        "task_id": str(generation.pk),
        "task_status": KLING_STATUS[status],
        "task_status_msg": generation.status_message if status in Generation.TERMINAL else "",
        "task_info": {"external_task_id": api_task.external_task_id if api_task else ""},
        "created_at": millis(generation.created_at),
        "updated_at": millis(generation.updated_at),
    }
    if status == Status.SUCCEEDED and generation.video:
        duration = generation.video_duration or generation.duration
        task["task_result"] = {
            "videos": [
                {
                    "id": str(generation.pk),
                    "url": media_url(base_url, generation.video),
                    "cover_url": media_url(base_url, generation.poster),
                    "duration": f"{duration:.1f}".rstrip("0").rstrip(".") if duration else "0",
                }
            ]
        }
    if status in Generation.TERMINAL:
        task["final_unit_deduction"] = units_text(
            generation.units if status == Status.SUCCEEDED else None
        )
    return task


def envelope(request: HttpRequest, data: Any) -> JsonResponse:
    return JsonResponse(
        {"code": 0, "message": "SUCCEED", "request_id": request.request_id, "data": data}
    )


@api_endpoint("kling", "GET", "POST")
def tasks(request: HttpRequest, kind: str) -> JsonResponse:
    """POST creates a task; GET lists the caller's tasks of this kind, newest first."""
    if request.method == "POST":
        return create(request, kind)
    form = KlingListForm(request.GET)
    if not form.is_valid():
        raise_for_own_errors(form)
    page = form.cleaned_data["pageNum"] or 1
    size = form.cleaned_data["pageSize"] or 30
    rows = (
        own_generations(request).filter(kind=kind).order_by("-id")[(page - 1) * size : page * size]
    )
    base = public_base_url(request)
    return envelope(request, [kling_task(g, base) for g in rows])


def create(request: HttpRequest, kind: str) -> JsonResponse:
    """A text2video or image2video create: validated by the shared form, limited by the key."""
    api_form = KlingCreateForm(json_body(request), kind)
    form = api_form.generation_form()
    generation = request.api_key.start_generation(
        form,
        family="kling",
        base_url=public_base_url(request),
        external_task_id=api_form.external_task_id,
        callback_url=api_form.callback_url,
    )
    # The answer describes the task as created, even when a fast worker has moved it on.
    data = {
        "task_id": str(generation.pk),
        "task_status": "submitted",
        "task_info": {"external_task_id": api_form.external_task_id},
        "created_at": millis(generation.created_at),
        "updated_at": millis(generation.created_at),
    }
    return envelope(request, data)


@api_endpoint("kling", "GET")
def task(request: HttpRequest, kind: str, task_id: str) -> JsonResponse:
    """One task of the caller, by the studio's task id."""
    generation = own_generation(request, task_id, kind=kind)
    return envelope(request, kling_task(generation, public_base_url(request)))
