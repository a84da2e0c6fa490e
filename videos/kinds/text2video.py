"""text2video (kling-api.md §1.3): a prompt, an aspect ratio, a camera move."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _

from ..sound_shots import sound_shot_fields
from .base import KindSpec, prompt_body

if TYPE_CHECKING:
    from ..models import Generation


def build_body(generation: Generation, files: dict[str, str], model_name: str) -> dict[str, Any]:
    body = prompt_body(generation, model_name)
    body["aspect_ratio"] = generation.aspect_ratio
    body.update(sound_shot_fields(generation, model_name))
    return body


SPEC = KindSpec(name="text2video", label=_("Text to video"), input_fields=(), build_body=build_body)
