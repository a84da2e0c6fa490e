"""Template context for every page: admins see upstream providers that need their attention."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .models import Provider


def unhealthy_providers(request: HttpRequest) -> dict[str, Any]:
    """For staff: enabled providers marked unhealthy (queried only when a template uses it)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_staff:
        return {}
    return {
        "unhealthy_providers": SimpleLazyObject(
            lambda: list(
                Provider.objects.filter(enabled=True, healthy=False).only(
                    "pk", "name", "health_message", "health_checked_at"
                )
            )
        )
    }


def running_jobs(request: HttpRequest) -> dict[str, Any]:
    """The signed-in user's pending jobs, for the badge every page shows (counted only if shown)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from .models import Generation

    return {
        "running": SimpleLazyObject(lambda: Generation.objects.pending().filter(owner=user).count())
    }
