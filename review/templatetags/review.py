"""Template helpers of the review app."""

from __future__ import annotations

from typing import Any

from django import template

from videos.models import Generation

from ..models import JudgingState

register = template.Library()


@register.simple_tag(takes_context=True)
def judging_state(context: dict[str, Any], generation: Generation) -> JudgingState:
    """The judging panel's data, so the core's detail page can include it with only `generation`."""
    state = context.get("judging")
    if isinstance(state, JudgingState) and state.generation.pk == generation.pk:
        return state  # already loaded by a review view
    return JudgingState.load(generation, context["request"].user)


@register.filter
def stars(value: float | None) -> str:
    """A rating average as filled and empty stars (★★★☆☆)."""
    if value is None:
        return ""
    full = round(value)
    return "★" * full + "☆" * (5 - full)
