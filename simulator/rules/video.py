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
    "sound",
    "voice_list",
    "element_list",
    "multi_shot",
    "shot_type",
    "multi_prompt",
}
# kling-kinds.md §7.1: the models with native sound (in which modes), voices and shots.
SOUND_MODES = {"kling-v2-6": {"pro"}, "kling-v3": {"std", "pro"}}
VOICE_MODES = {"kling-v2-6": {"pro"}}
MULTI_SHOT_MODELS = {"kling-v3"}


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
    checks = (
        _check_prompts,
        _check_cfg,
        _check_mode_duration,
        _check_sound,
        _check_elements,
        _check_shots,
        check_camera,
        check_misc,
    )
    for check in checks:
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
    # §7.2: with multi_shot the prompt is ignored; it may be "" when the shots are written.
    own_shots = body.get("multi_shot") is True and body.get("shot_type") == "customize"
    if (
        kind == "text2video"
        and not own_shots
        and (not isinstance(prompt, str) or not prompt.strip())
    ):
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


def _check_sound(kind: str, body: dict[str, Any], model: str) -> str | None:
    """§7.2: sound "on"/"off" only to models that have it; voices need sound and pro v2-6."""
    mode = body.get("mode", "std")
    if "sound" in body:
        sound = body["sound"]
        if sound not in ("on", "off"):
            return "sound must be 'on' or 'off'"
        if model not in SOUND_MODES:
            return f"sound is not supported by {model}"
        if sound == "on" and mode not in SOUND_MODES[model]:
            return f"sound is not supported by {model} in {mode} mode"
    if "voice_list" not in body:
        return None
    voices = body["voice_list"]
    if not isinstance(voices, list) or not 1 <= len(voices) <= 2:
        return "voice_list must be a list of 1 to 2 voices"
    for i, voice in enumerate(voices):
        if not isinstance(voice, dict) or set(voice) != {"voice_id"}:
            return f"voice_list[{i}] must be {{voice_id}}"
        if not isinstance(voice["voice_id"], str) or not voice["voice_id"]:
            return f"voice_list[{i}].voice_id must be a non-empty string"
    if mode not in VOICE_MODES.get(model, ()):
        return f"voice_list is not supported by {model} in {mode} mode"
    if body.get("sound") != "on":
        return "voice_list needs sound 'on'"
    return None


def _check_elements(kind: str, body: dict[str, Any], model: str) -> str | None:
    """§7.2: element_list ≤ 3 × {element_id: long}, image2video only, not with voice_list."""
    if "element_list" not in body:
        return None
    if kind != "image2video":
        return "element_list is only accepted by image2video"
    elements = body["element_list"]
    if not isinstance(elements, list) or not 1 <= len(elements) <= 3:
        return "element_list must be a list of 1 to 3 elements"
    for i, element in enumerate(elements):
        if not isinstance(element, dict) or set(element) != {"element_id"}:
            return f"element_list[{i}] must be {{element_id}}"
        if type(element["element_id"]) is not int:
            return f"element_list[{i}].element_id must be an integer"
    if "voice_list" in body:
        return "element_list cannot be combined with voice_list"
    return None


def _check_shots(kind: str, body: dict[str, Any], model: str) -> str | None:
    """§7.2: multi_shot a bool (the studio must send one), shot_type, multi_prompt summing up."""
    multi_shot = body.get("multi_shot", False)
    if not isinstance(multi_shot, bool):
        return "multi_shot must be a boolean"
    if not multi_shot:
        # Ignored upstream; a client that sends them believes they do something.
        for field in ("shot_type", "multi_prompt"):
            if field in body:
                return f"{field} is only read with multi_shot true: do not send it"
        return None
    if model not in MULTI_SHOT_MODELS:
        return f"multi_shot is not supported by {model}"
    if "image_tail" in body:
        return "image_tail cannot be combined with multi_shot"
    shot_type = body.get("shot_type")
    if shot_type not in ("customize", "intelligence"):
        return "shot_type must be 'customize' or 'intelligence' with multi_shot"
    if shot_type == "intelligence":
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return "prompt is required with shot_type intelligence"
        if "multi_prompt" in body:
            return "multi_prompt is only read with shot_type customize"
        return None
    shots = body.get("multi_prompt")
    if not isinstance(shots, list) or not 1 <= len(shots) <= 6:
        return "multi_prompt must be a list of 1 to 6 shots"
    total = int(body.get("duration", "5"))
    summed = 0
    for i, shot in enumerate(shots):
        if not isinstance(shot, dict) or set(shot) != {"index", "prompt", "duration"}:
            return f"multi_prompt[{i}] must be {{index, prompt, duration}}"
        if type(shot["index"]) is not int or shot["index"] != i + 1:
            return f"multi_prompt[{i}].index must be {i + 1}"
        prompt = shot["prompt"]
        if not isinstance(prompt, str) or not prompt.strip() or len(prompt) > 512:
            return f"multi_prompt[{i}].prompt must be 1 to 512 characters"
        duration = shot["duration"]
        if not isinstance(duration, str) or not duration.isdigit():
            return f'multi_prompt[{i}].duration must be a string such as "5"'
        if not 1 <= int(duration) <= total:
            return f"multi_prompt[{i}].duration must be 1 to {total}"
        summed += int(duration)
    if summed != total:
        return f"multi_prompt: durations sum to {summed}, duration is {total}"
    return None
