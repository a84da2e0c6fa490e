"""The simulator's checks of the gateway shapes' create bodies (kling-kinds.md §8a-§8c).

Strict on purpose, like the Kling checks: what the studio must never send (model or
callback_url inside metadata, a float duration, an external id to a gateway that takes
none) is refused with a message naming the field, so the adapters cannot regress.
"""

from __future__ import annotations

import re
from typing import Any

from .common import ModelNotFound, image_size, is_number

# §8a: what new-api-style gateways lay from metadata over their Kling body.
METADATA_KEYS = {
    "negative_prompt",
    "image_tail",
    "camera_control",
    "sound",
    "mode",
    "aspect_ratio",
    "duration",
    "cfg_scale",
}
FORBIDDEN_METADATA = {"model", "model_name", "callback_url"}
SIZE = re.compile(r"^\d{2,5}x\d{2,5}$")
OPENAI_FIELDS = {"model", "prompt", "seconds", "size", "metadata", "input_reference"}
GENERATIONS_FIELDS = {
    "model",
    "prompt",
    "image",
    "duration",
    "seconds",
    "size",
    "width",
    "height",
    "metadata",
}
SEEDANCE_FIELDS = {
    "model_name",
    "model",
    "prompt",
    "duration",
    "cfg_scale",
    "image",
    "image_tail",
    "mode",
    "aspect_ratio",
    "negative_prompt",
    "camera_control",
}
SEEDANCE_MODELS = {"doubao-seedance-2-0-fast-480p", "doubao-seedance-2-0-fast-720p"}


def _check_metadata(meta: Any) -> str | None:
    if not isinstance(meta, dict):
        return "metadata must be an object"
    forbidden = FORBIDDEN_METADATA & set(meta)
    if forbidden:
        return f"metadata must not carry {', '.join(sorted(forbidden))}"
    unknown = set(meta) - METADATA_KEYS
    if unknown:
        return f"metadata has unknown key(s): {', '.join(sorted(unknown))}"
    if not isinstance(meta.get("duration"), str) or not meta["duration"].isdigit():
        return 'metadata.duration must be a string such as "5"'
    if not isinstance(meta.get("aspect_ratio"), str):
        return "metadata.aspect_ratio is required (the gateways' defaults differ)"
    if "image_tail" in meta and isinstance(
        size := image_size(meta["image_tail"], "image_tail"), str
    ):
        return f"metadata.{size}"
    return None


def _check_model(body: dict[str, Any]) -> str | None:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return "model must be a non-empty string"
    if model.startswith("sim-missing"):
        raise ModelNotFound(f"model {model!r} does not exist")
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return "prompt is required"
    return None


def check_openai_video(body: dict[str, Any], *, has_file: bool) -> str | None:
    """POST /v1/videos (§8a): JSON, or multipart with input_reference as a file part."""
    unknown = set(body) - OPENAI_FIELDS
    if unknown:
        return f"unknown field(s): {', '.join(sorted(unknown))}"
    if message := _check_model(body):
        return message
    if not isinstance(body.get("seconds"), str) or not body["seconds"].isdigit():
        return 'seconds must be a string such as "5"'
    if not isinstance(body.get("size"), str) or not SIZE.match(body["size"]):
        return 'size must be "WxH", e.g. "1280x720"'
    if "input_reference" in body and not has_file:
        return "input_reference must be sent as a file part (multipart/form-data)"
    return _check_metadata(body.get("metadata"))


def check_video_generations(body: dict[str, Any]) -> str | None:
    """POST /v1/video/generations (§8b): the generic body plus seconds and size."""
    unknown = set(body) - GENERATIONS_FIELDS
    if unknown:
        return f"unknown field(s): {', '.join(sorted(unknown))}"
    if message := _check_model(body):
        return message
    duration = body.get("duration")
    if not isinstance(duration, int) or isinstance(duration, bool):
        return 'duration must be an integer number of seconds (5, not 5.0 or "5")'
    if not isinstance(body.get("seconds"), str) or body["seconds"] != str(duration):
        return "seconds must be the duration as a string"
    for field in ("width", "height"):
        if not isinstance(body.get(field), int):
            return f"{field} must be an integer"
    if body.get("size") != f"{body['width']}x{body['height']}":
        return "size must be WxH of width and height"
    if "image" in body and isinstance(size := image_size(body["image"], "image"), str):
        return size
    return _check_metadata(body.get("metadata"))


def check_seedance(kind: str, body: Any) -> str | None:
    """POST /kling/v1/videos/{kind} on a Seedance-mapped gateway (§8c)."""
    if not isinstance(body, dict):
        return "the request body must be a JSON object"
    unknown = set(body) - SEEDANCE_FIELDS
    if unknown:
        return f"unknown field(s): {', '.join(sorted(unknown))}"
    model = body.get("model_name") or body.get("model")
    if model not in SEEDANCE_MODELS:
        raise ModelNotFound(f"model_name {model!r} does not exist on this gateway")
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return "prompt is required"
    duration = body.get("duration", 5)
    if isinstance(duration, str) and duration.isdigit():
        duration = int(duration)
    if not is_number(duration) or not 4 <= duration <= 15:
        return "duration must be 4..15 seconds"
    if kind == "image2video":
        if "image" not in body:
            return "image is required"
        if isinstance(size := image_size(body["image"], "image"), str):
            return size
    elif "image" in body:
        return "image belongs to image2video"
    return None
