"""The simulator's checks of text2video and image2video bodies: kling-api.md §1.3-§1.5, strictly.

Each check returns the message of a 1201 answer naming the field, or None. Strict on
purpose: the traps of §6 (numbers for duration, data: prefixes, cfg_scale for v2
models, "standard" modes) are rejected here so the studio's client cannot regress.
"""

from __future__ import annotations

from typing import Any

from .common import ModelNotFound, check_camera, check_misc, image_size, is_number

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


def check(kind: str, body: Any, *, gateway: bool) -> str | None:
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
    for check in (_check_prompts, _check_cfg, _check_mode_duration, check_camera, check_misc):
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
    if not is_number(value) or not 0 <= value <= 1:
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


def _check_image2video(body: dict[str, Any]) -> str | None:
    if not body.get("image") and not body.get("image_tail"):
        return "image or image_tail is required"
    sizes = {}
    for field in ("image", "image_tail", "static_mask"):
        if field in body:
            size = image_size(body[field], field)
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
