"""The Kling-native routes (kling-api.md §3.1): drop-in for Kling SDKs and the seeds' examples."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpRequest, JsonResponse

from videos.limits import LimitExceeded
from videos.lip_sync import LIP_SYNC_MODEL, FaceError, identify_faces, identify_faces_at
from videos.models import Generation, Status, waiting_message_of

from .auth import api_endpoint
from .errors import ApiError, bad_field
from .forms import (
    AccountCostsForm,
    IdentifyFaceForm,
    KindCreateForm,
    KlingCreateForm,
    KlingListForm,
    raise_for_own_errors,
)
from .http import (
    TaskRow,
    json_body,
    media_url,
    millis,
    own_generations,
    own_task,
    own_tasks,
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
    return format(units.normalize(), "f")


# Only what a Kling task object shows: fewer columns, a cheaper poll (bench/api_throughput.py).
KLING_FIELDS = (
    "id", "status", "status_message", "created_at", "updated_at", "video", "poster",
    "video_duration", "duration", "units", "api_task__external_task_id", "api_task__base_url",
    "waiting_reason", "waiting_attempts", "next_poll_at",
    "kind", "parent_id", "parent__video", "parent__video_duration",
)  # fmt: skip
# Kinds whose task names the video they continue (kling-kinds.md §7.5, §7.6).
PARENT_KINDS = ("video-extend", "advanced-lip-sync")


def kling_task(row: TaskRow, base_url: str, status: str | None = None) -> dict[str, Any]:
    """The Kling task object of a generation, with studio ids and URLs of our stored copy."""
    status = status or row["status"]
    terminal = status in Generation.TERMINAL
    task: dict[str, Any] = {
        "task_id": str(row["id"]),
        "task_status": KLING_STATUS[status],
        # While pending: what holds it up ("waiting for kling-sg: connection refused, …").
        "task_status_msg": row["status_message"] if terminal else waiting_message_of(row),
        "task_info": {"external_task_id": row["api_task__external_task_id"] or ""},
        "created_at": millis(row["created_at"]),
        "updated_at": millis(row["updated_at"]),
    }
    if row.get("kind") in PARENT_KINDS and row.get("parent_id"):
        # Studio ids and our copy's URL: the upstream's ids never cross our API.
        parent_duration = row["parent__video_duration"] or 0
        task["task_info"]["parent_video"] = {
            "id": str(row["parent_id"]),
            "url": media_url(base_url, row["parent__video"]) if row["parent__video"] else "",
            "duration": f"{parent_duration:.1f}".rstrip("0").rstrip("."),
        }
    if status == Status.SUCCEEDED and row["video"]:
        duration = row["video_duration"] or row["duration"]
        task["task_result"] = {
            "videos": [
                {
                    "id": str(row["id"]),
                    "url": media_url(base_url, row["video"]),
                    "cover_url": media_url(base_url, row["poster"]),
                    "duration": f"{duration:.1f}".rstrip("0").rstrip("."),
                }
            ]
        }
    if terminal:
        task["final_unit_deduction"] = units_text(
            row["units"] if status == Status.SUCCEEDED else None
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
        own_tasks(request, KLING_FIELDS)
        .filter(kind=kind)
        .order_by("-id")[(page - 1) * size : page * size]
    )
    base = public_base_url(request)
    return envelope(request, [kling_task(g, base) for g in rows])


def create(request: HttpRequest, kind: str) -> JsonResponse:
    """A create of any kind: validated by the kind's form (the web UI's), limited by the key."""
    if kind in ("text2video", "image2video"):
        api_form = KlingCreateForm(json_body(request), kind)
        form = api_form.generation_form()
    else:
        api_form = KindCreateForm(json_body(request), kind, owner=request.api_key.owner)
        form = api_form.kind_form()
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
    row = own_task(request, task_id, KLING_FIELDS, kind=kind)
    return envelope(request, kling_task(row, public_base_url(request)))


@api_endpoint("kling", "GET")
def account_costs(request: HttpRequest) -> JsonResponse:
    """The caller's key as Kling's resource packs (kling-kinds.md §7.8, §9); never upstream's.

    The window is required and checked as Kling checks it, but a key's budget is not
    windowed: the one pack is the whole budget. A key without a budget lists no pack.
    """
    form = AccountCostsForm(request.GET)
    if not form.is_valid():
        raise_for_own_errors(form)
    pack = request.api_key.as_resource_pack()
    wanted = form.cleaned_data["resource_pack_name"]
    packs = [pack] if pack and (not wanted or wanted == pack["resource_pack_name"]) else []
    data = {"code": 0, "msg": "SUCCEED", "resource_pack_subscribe_infos": packs}
    return envelope(request, data)


@api_endpoint("kling", "POST")
def identify_face(request: HttpRequest) -> JsonResponse:
    """identify-face (kling-kinds.md §7.6), synchronous: faces of one of the caller's videos.

    The answer's session_id is ours (expires after 24 h); face_image is our stored copy.
    """
    form = IdentifyFaceForm(json_body(request))
    if not form.is_valid():
        raise_for_own_errors(form)
    owner, key = request.api_key.owner, request.api_key
    if not key.allows_model(LIP_SYNC_MODEL):
        # identify-face spends units upstream: a key kept off lip-sync may not start one.
        raise LimitExceeded(
            "model", f"this key may not use the model {LIP_SYNC_MODEL!r}", field="model"
        )
    try:
        if url := form.cleaned_data.get("video_url"):
            session = identify_faces_at(url, owner, key)
        else:
            ref = form.cleaned_data["video_id"]
            source = own_generations(request).filter(pk=form.video_pk()).first()
            if source is None:
                raise bad_field("video_id", f"No video {ref} of yours exists.")
            session = identify_faces(source, owner, key)
    except FaceError as exc:
        if exc.unavailable:
            raise ApiError(503, 5001, exc.message) from exc
        raise bad_field(exc.field, exc.message) from exc
    base = public_base_url(request)
    data = {
        "session_id": str(session.pk),
        "final_unit_deduction": units_text(session.units),
        "face_data": [
            {
                "face_id": face["face_id"],
                "face_image": media_url(base, face["image"]) or "",
                "start_time": face["start_time"],
                "end_time": face["end_time"],
            }
            for face in session.faces
        ],
    }
    return envelope(request, data)
