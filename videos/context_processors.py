"""Template context for every page: admins see upstream providers that need their attention."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .models import Provider, ProviderBalance


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


def low_balances(request: HttpRequest) -> dict[str, Any]:
    """For staff: enabled Kling providers whose packs run low, expire soon or answered 1102."""
    user = getattr(request, "user", None)
    if user is None or not user.is_staff:
        return {}

    def load() -> list[tuple[Provider, list[str]]]:
        rows = ProviderBalance.objects.filter(
            provider__enabled=True, provider__kind=Provider.Kind.KLING
        ).select_related("provider")
        return [(row.provider, alerts) for row in rows if (alerts := row.alerts())]

    return {"low_balances": SimpleLazyObject(load)}


def running_jobs(request: HttpRequest) -> dict[str, Any]:
    """The signed-in user's pending jobs, for the badge every page shows (counted only if shown)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from .models import Generation

    return {
        "running": SimpleLazyObject(lambda: Generation.objects.pending().filter(owner=user).count())
    }
