"""multi-image2video (kling-kinds.md §7.4): 1..4 images, kling-v1-6 only; no cfg, camera, sound."""

from __future__ import annotations

from typing import Any

from .common import ModelNotFound, check_misc, image_size

MODELS = {"kling-v1-6"}
ASPECT_RATIOS = {"16:9", "9:16", "1:1"}
KNOWN_FIELDS = {
    "model_name",
    "image_list",
    "prompt",
    "negative_prompt",
    "mode",
    "duration",
    "aspect_ratio",
    "watermark_info",
    "callback_url",
    "external_task_id",
}


def check(kind: str, body: Any, *, gateway: bool) -> str | None:
    """The first rule a multi-image2video body breaks, as a message naming the field."""
    if not isinstance(body, dict):
        return "the request body must be a JSON object"
    unknown = set(body) - KNOWN_FIELDS
    if unknown:
        return f"unknown field(s): {', '.join(sorted(unknown))}"
    model = body.get("model_name", "kling-v1-6")
    if not isinstance(model, str) or not model:
        return "model_name must be a non-empty string"
    if not gateway and model not in MODELS:
        # §9: 1203 for any model but kling-v1-6.
        raise ModelNotFound(f"model_name {model!r} does not exist for {kind}")
    images = body.get("image_list")
    if not isinstance(images, list) or not 1 <= len(images) <= 4:
        return "image_list must hold 1 to 4 images"
    for n, item in enumerate(images):
        if not isinstance(item, dict) or set(item) != {"image"}:
            return f'image_list[{n}] must be {{"image": ...}}'
        if isinstance(size := image_size(item["image"], f"image_list[{n}].image"), str):
            return size
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return "prompt is required"
    if len(prompt) > 2500:
        return "prompt must be at most 2500 characters"
    negative = body.get("negative_prompt")
    if negative is not None and (not isinstance(negative, str) or len(negative) > 2500):
        return "negative_prompt must be a string of at most 2500 characters"
    if body.get("mode", "std") not in ("std", "pro"):
        return "mode must be 'std' or 'pro'"
    if body.get("duration", "5") not in ("5", "10"):
        return 'duration must be "5" or "10"'
    if body.get("aspect_ratio", "16:9") not in ASPECT_RATIOS:
        return f"aspect_ratio must be one of {', '.join(sorted(ASPECT_RATIOS))}"
    return check_misc(kind, body, model)
