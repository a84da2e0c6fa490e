"""Helpers every API family shares: the JSON body, base URLs, finding the caller's task."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db.models import QuerySet
from django.http import HttpRequest

from videos.forms import non_finite_path
from videos.media import signed_media_path
from videos.models import Generation

from .errors import ApiError, bad_field


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object, or 400/1200."""
    try:
        body = json.loads(request.body or b"{}")
    except RequestDataTooBig as exc:
        raise ApiError(400, 1200, "the request body is too large") from exc
    except RecursionError as exc:  # deeply nested arrays/objects exhaust the parser's stack
        raise ApiError(400, 1200, "the request body is not valid JSON: nested too deeply") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, 1200, f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ApiError(400, 1200, "the request body must be a JSON object")
    where = non_finite_path(body)
    if where is not None:  # in any field, known or not: nothing downstream can store it
        raise bad_field(where, "must be a finite number (NaN, Infinity and 1e400 are not)")
    return body


def public_base_url(request: HttpRequest) -> str:
    """STUDIO_PUBLIC_URL when set (behind a proxy the request's host may be internal)."""
    return settings.STUDIO_PUBLIC_URL or request.build_absolute_uri("/").rstrip("/")


# What the presenters of all three families read. Reads go through values(): a task
# query is the hot path of every client's polling loop, and building a model instance
# of all 55 columns costs more than the rest of the request (bench/api_throughput.py).
TASK_FIELDS = (
    "id", "owner_id", "kind", "model_name", "mode", "prompt", "duration", "aspect_ratio",
    "status", "status_message", "progress", "created_at", "updated_at", "submitted_at",
    "finished_at", "video", "poster", "video_duration", "video_width", "video_height",
    "video_fps", "units", "parent_id", "api_task__external_task_id", "api_task__base_url",
    "parent__video", "parent__video_duration",
)  # fmt: skip
TaskRow = dict[str, Any]


def base_url_of(row: TaskRow) -> str:
    """The base URL for a task's links outside a request (callbacks)."""
    return settings.STUDIO_PUBLIC_URL or row["api_task__base_url"] or ""


def media_url(base_url: str, name: str | None) -> str | None:
    """An absolute, session-free URL for a stored file (clients download without logging in)."""
    if not name:
        return None
    return base_url + signed_media_path(name)


def millis(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1000) if moment else None


def seconds(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment else None


def own_generations(request: HttpRequest) -> QuerySet[Generation]:
    """A key sees its owner's generations only, whatever the team sees in the web UI, and
    none in the trash (deleted in the web UI: gone for clients until restored)."""
    return Generation.objects.filter(owner_id=request.api_key.owner_id).live()


def own_tasks(
    request: HttpRequest, fields: tuple[str, ...] = TASK_FIELDS
) -> QuerySet[Generation, TaskRow]:
    return own_generations(request).values(*fields)


ASCII_INT = re.compile(r"[0-9]{1,18}")


def ascii_int(text: str) -> int | None:
    """A whole number or row id written in ASCII digits (as the studio writes them), or None.

    str.isdigit() also accepts "²", which int() refuses, and int() reads "١٢" and "１２"
    as 12: neither is an id the studio gave out. 18 digits always fit a 64-bit key.
    """
    return int(text) if ASCII_INT.fullmatch(text) else None


def _task_pk(task_id: str) -> int:
    pk = ascii_int(task_id)
    if pk is None:
        raise ApiError(404, 1203, f"task {task_id} does not exist", param="task_id")
    return pk


def own_task(
    request: HttpRequest, task_id: str, fields: tuple[str, ...] = TASK_FIELDS, **filters: Any
) -> TaskRow:
    """The caller's task by id as a row, or 404/1203 (also for another owner's id)."""
    rows = list(own_tasks(request, fields).filter(pk=_task_pk(task_id), **filters).order_by()[:1])
    if not rows:
        raise ApiError(404, 1203, f"task {task_id} does not exist", param="task_id")
    return rows[0]


def own_generation(request: HttpRequest, task_id: str) -> Generation:
    """The caller's generation by id as a model instance (to change it), or 404/1203."""
    generation = own_generations(request).filter(pk=_task_pk(task_id)).first()
    if generation is None:
        raise ApiError(404, 1203, f"task {task_id} does not exist", param="task_id")
    return generation


def task_row(pk: int) -> TaskRow | None:
    return Generation.objects.filter(pk=pk).values(*TASK_FIELDS).first()
