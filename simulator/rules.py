"""The simulator's checks of a create body: kling-api.md §1.3-§1.5, strictly.

Each check returns the message of a 1201 answer naming the field, or None. Strict on
purpose: the traps of §6 (numbers for duration, data: prefixes, cfg_scale for v2
models, "standard" modes) are rejected here so the studio's client cannot regress.
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import Any

from PIL import Image, UnidentifiedImageError

KLING_MODELS = {
    "text2video": {
        "kling-v1",
        "kling-v1-6",
        "kling-v2-master",
        "kling-v2-1-master",
        "kling-v2-5-turbo",
        "kling-v2-6",
        "kling-v3",
    },
}
KLING_MODELS["image2video"] = KLING_MODELS["text2video"] | {"kling-v1-5", "kling-v2-1"}
ASPECT_RATIOS = {"16:9", "9:16", "1:1"}
GATEWAY_ASPECT_RATIOS = ASPECT_RATIOS | {"3:2", "2:3", "3:4", "4:3"}
CAMERA_TYPES = {"simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward"}
CAMERA_AXES = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")
KNOWN_FIELDS = {
    "model_name",
    "model",
    "prompt",
    "negative_prompt",
    "cfg_scale",
    "mode",
    "aspect_ratio",
    "duration",
    "camera_control",
    "callback_url",
    "external_task_id",
    "image",
    "image_tail",
    "static_mask",
    "dynamic_masks",
}


class ModelNotFound(Exception):
    """The model name does not exist upstream (answered as 404 / 1203)."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_create(kind: str, body: Any, *, gateway: bool) -> str | None:
    """The first rule a create body breaks, as a message naming the field; None if valid."""
    if not isinstance(body, dict):
        return "the request body must be a JSON object"
    unknown = set(body) - KNOWN_FIELDS
    if unknown:
        return f"unknown field(s): {', '.join(sorted(unknown))}"
    model = body.get("model_name", "kling-v1")
    if not isinstance(model, str) or not model:
        return "model_name must be a non-empty string"
    if not gateway and model not in KLING_MODELS[kind]:
        raise ModelNotFound(f"model_name {model!r} does not exist for {kind}")
    for check in (_check_prompts, _check_cfg, _check_mode_duration, _check_camera, _check_misc):
        if message := check(kind, body, model):
            return message
    if kind == "image2video":
        return _check_image2video(body)
    if "aspect_ratio" in body and body["aspect_ratio"] not in (
        GATEWAY_ASPECT_RATIOS if gateway else ASPECT_RATIOS
    ):
        return f"aspect_ratio must be one of {', '.join(sorted(ASPECT_RATIOS))}"
    return None


def _check_prompts(kind: str, body: dict[str, Any], model: str) -> str | None:
    prompt = body.get("prompt")
    if kind == "text2video" and (not isinstance(prompt, str) or not prompt.strip()):
        return "prompt is required"
    if prompt is not None and (not isinstance(prompt, str) or len(prompt) > 2500):
        return "prompt must be a string of at most 2500 characters"
    negative = body.get("negative_prompt")
    if negative is not None and (not isinstance(negative, str) or len(negative) > 2500):
        return "negative_prompt must be a string of at most 2500 characters"
    return None


def _check_cfg(kind: str, body: dict[str, Any], model: str) -> str | None:
    if "cfg_scale" not in body:
        return None
    if model.startswith(("kling-v2", "kling-v3")):
        return f"cfg_scale is not supported by {model}"
    value = body["cfg_scale"]
    if not _is_number(value) or not 0 <= value <= 1:
        return "cfg_scale must be a number between 0 and 1"
    return None


def _check_mode_duration(kind: str, body: dict[str, Any], model: str) -> str | None:
    if body.get("mode", "std") not in ("std", "pro"):
        return "mode must be 'std' or 'pro'"
    duration = body.get("duration", "5")
    if not isinstance(duration, str):
        return 'duration must be a string such as "5"'
    allowed = [str(d) for d in range(3, 16)] if model == "kling-v3" else ["5", "10"]
    if duration not in allowed:
        return f"duration must be one of {', '.join(allowed)}"
    return None


def _check_camera(kind: str, body: dict[str, Any], model: str) -> str | None:
    camera = body.get("camera_control")
    if camera is None:
        return None
    if not isinstance(camera, dict) or camera.get("type") not in CAMERA_TYPES:
        return f"camera_control.type must be one of {', '.join(sorted(CAMERA_TYPES))}"
    config = camera.get("config")
    if camera["type"] != "simple":
        return (
            None if config is None else f"camera_control.config must be empty for {camera['type']}"
        )
    if not isinstance(config, dict) or set(config) != set(CAMERA_AXES):
        return "camera_control.config needs exactly the six axes " + ", ".join(CAMERA_AXES)
    values = [config[axis] for axis in CAMERA_AXES]
    if not all(_is_number(v) and -10 <= v <= 10 for v in values):
        return "camera_control.config values must be numbers in [-10, 10]"
    if sum(1 for v in values if v) != 1:
        return "camera_control.config needs exactly one non-zero axis"
    return None


def _check_misc(kind: str, body: dict[str, Any], model: str) -> str | None:
    external = body.get("external_task_id")
    if external is not None and not isinstance(external, str):
        return "external_task_id must be a string"
    callback = body.get("callback_url")
    if callback is not None and (
        not isinstance(callback, str) or not callback.startswith(("http://", "https://"))
    ):
        return "callback_url must be an http(s) URL"
    return None


def _image_size(value: Any, field: str) -> tuple[int, int] | str:
    """(width, height) of a Base64 or URL image, or the message of what is wrong with it."""
    if not isinstance(value, str) or not value:
        return f"{field} must be a URL or Base64 string"
    if value.startswith(("http://", "https://")):
        return (1280, 720)  # not fetched: the simulator trusts URLs
    if value.startswith("data:"):
        return f"{field} must be raw Base64 without a data: prefix"
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return f"{field} is not valid Base64"
    if len(raw) > 10 * 1024 * 1024:
        return f"{field} is larger than 10 MB"
    try:
        with Image.open(io.BytesIO(raw)) as img:
            fmt, size = img.format, img.size
    except (UnidentifiedImageError, OSError):
        return f"{field} is not a readable image"
    if fmt not in ("JPEG", "PNG"):
        return f"{field} must be jpg/jpeg/png"
    width, height = size
    if width < 300 or height < 300:
        return f"{field} must be at least 300x300 pixels"
    if not 1 / 2.5 <= width / height <= 2.5:
        return f"{field} aspect ratio must be between 1:2.5 and 2.5:1"
    return size


def _check_image2video(body: dict[str, Any]) -> str | None:
    if not body.get("image") and not body.get("image_tail"):
        return "image or image_tail is required"
    sizes = {}
    for field in ("image", "image_tail", "static_mask"):
        if field in body:
            size = _image_size(body[field], field)
            if isinstance(size, str):
                return size
            sizes[field] = size
    masks = body.get("dynamic_masks")
    if masks is not None:
        if not isinstance(masks, list) or len(masks) > 6:
            return "dynamic_masks must be a list of at most 6 masks"
        for i, mask in enumerate(masks):
            points = mask.get("trajectories") if isinstance(mask, dict) else None
            if not isinstance(points, list) or not 2 <= len(points) <= 77:
                return f"dynamic_masks[{i}].trajectories needs 2 to 77 points"
    if "static_mask" in sizes and "image" in sizes:
        (mw, mh), (iw, ih) = sizes["static_mask"], sizes["image"]
        if abs(mw / mh - iw / ih) > 0.01:
            return "static_mask aspect ratio must equal the image's"
    used = [
        name
        for name, on in (
            ("image_tail", bool(body.get("image_tail"))),
            ("masks", bool(body.get("static_mask") or body.get("dynamic_masks"))),
            ("camera_control", bool(body.get("camera_control"))),
        )
        if on
    ]
    if len(used) > 1:
        return f"use at most one of image_tail, masks and camera_control (got {', '.join(used)})"
    if "aspect_ratio" in body:
        return "aspect_ratio is not accepted for image2video: the image decides it"
    return None
