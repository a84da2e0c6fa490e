"""Helpers every API family shares: the JSON body, base URLs, finding the caller's task."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from videos.media import signed_media_path
from videos.models import Generation

from .errors import ApiError


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object, or 400/1200."""
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, 1200, f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ApiError(400, 1200, "the request body must be a JSON object")
    return body


def public_base_url(request: HttpRequest) -> str:
    """STUDIO_PUBLIC_URL when set (behind a proxy the request's host may be internal)."""
    return settings.STUDIO_PUBLIC_URL or request.build_absolute_uri("/").rstrip("/")


def base_url_of(generation: Generation) -> str:
    """The base URL for a generation's links outside a request (callbacks)."""
    if settings.STUDIO_PUBLIC_URL:
        return settings.STUDIO_PUBLIC_URL
    api_task = api_task_of(generation)
    return api_task.base_url if api_task else ""


def _has_api_task(generation: Generation) -> bool:
    try:
        generation.api_task  # noqa: B018 (a reverse one-to-one raises when absent)
    except Generation.api_task.RelatedObjectDoesNotExist:
        return False
    return True


def api_task_of(generation: Generation) -> Any:
    return generation.api_task if _has_api_task(generation) else None


def media_url(base_url: str, stored: Any) -> str | None:
    """An absolute, session-free URL for a stored file (clients download without logging in)."""
    if not stored:
        return None
    return base_url + signed_media_path(stored.name)


def millis(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1000) if moment else None


def seconds(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment else None


def own_generations(request: HttpRequest) -> Any:
    """A key sees its owner's generations only, whatever the team sees in the web UI."""
    return Generation.objects.filter(owner_id=request.api_key.owner_id).select_related("api_task")


def own_generation(request: HttpRequest, task_id: str, **filters: Any) -> Generation:
    """The caller's generation by id, or 404/1203 (also for another owner's id)."""
    generation = None
    if task_id.isdigit() and len(task_id) < 20:
        generation = own_generations(request).filter(pk=int(task_id), **filters).first()
    if generation is None:
        raise ApiError(404, 1203, f"task {task_id} does not exist", param="task_id")
    return generation
