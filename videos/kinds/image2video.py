"""image2video (kling-api.md §1.4): first and last frames, motion brush; the image decides the
aspect ratio, so none is sent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _

from ..sound_shots import sound_shot_fields
from .base import KindSpec, base64_of, prompt_body

if TYPE_CHECKING:
    from ..models import Generation


def build_body(generation: Generation, files: dict[str, str], model_name: str) -> dict[str, Any]:
    body = prompt_body(generation, model_name)
    for field in ("image", "image_tail", "static_mask"):
        if value := base64_of(files.get(field)):
            body[field] = value
    if generation.dynamic_masks:
        body["dynamic_masks"] = generation.dynamic_masks
    body.update(sound_shot_fields(generation, model_name))
    return body


SPEC = KindSpec(
    name="image2video",
    label=_("Image to video"),
    input_fields=("image", "image_tail", "static_mask"),
    build_body=build_body,
)
