"""omni-video (kling-kinds.md §7.3): images, elements and a video cited by the prompt.

Strict on what the studio sends: multi_shot a bool, duration a string, no duration with a
base video, no aspect_ratio when a first frame or base video decides the shape.
"""

from __future__ import annotations

import re
from typing import Any

from .common import ModelNotFound, check_misc, image_size

MODELS = {"kling-video-o1", "kling-v3-omni"}
ASPECT_RATIOS = {"16:9", "9:16", "1:1"}
KNOWN_FIELDS = {
    "model_name",
    "prompt",
    "multi_shot",
    "shot_type",
    "multi_prompt",
    "image_list",
    "element_list",
    "video_list",
    "sound",
    "mode",
    "aspect_ratio",
    "duration",
    "watermark_info",
    "callback_url",
    "external_task_id",
}
CITATION = re.compile(r"<<<(image|element|video)_(\d+)>>>")
# Kling's own answer on its newer O1 route (kling-kinds.md §7.3).
O1_DURATION = "Duration only supports 5 or 10 seconds when no refer_image is provided"


def check(kind: str, body: Any, *, gateway: bool) -> str | None:
    """The first rule an omni-video body breaks, as a message naming the field; None if valid."""
    if not isinstance(body, dict):
        return "the request body must be a JSON object"
    unknown = set(body) - KNOWN_FIELDS
    if unknown:
        return f"unknown field(s): {', '.join(sorted(unknown))}"
    model = body.get("model_name", "kling-video-o1")  # §9: o1 by default
    if not isinstance(model, str) or not model:
        return "model_name must be a non-empty string"
    if not gateway and model not in MODELS:
        raise ModelNotFound(f"model_name {model!r} does not exist for {kind}")
    for rule in (_lists, _counts, _shots, _video, _duration, _shape, _citations):
        if message := rule(body, model):
            return message
    return check_misc(kind, body, model)


def _frames(body: dict[str, Any]) -> list[str]:
    return [i["type"] for i in body.get("image_list") or [] if i.get("type")]


def _video(body: dict[str, Any], model: str) -> str | None:
    videos = body.get("video_list") or []
    if not videos:
        return None
    if body.get("sound", "off") != "off":
        return "sound must be off with a video"
    if videos[0].get("refer_type", "base") == "base":
        if _frames(body):
            return "video_list: a base video takes no first_frame or end_frame"
        if "duration" in body:
            return "duration is not accepted with a base video: the output is the video's length"
    return None


def _lists(body: dict[str, Any], model: str) -> str | None:
    prompt = body.get("prompt")
    if prompt is not None and (not isinstance(prompt, str) or len(prompt) > 2500):
        return "prompt must be a string of at most 2500 characters"
    images = body.get("image_list", [])
    if not isinstance(images, list):
        return "image_list must be a list"
    for n, item in enumerate(images):
        if (
            not isinstance(item, dict)
            or "image_url" not in item
            or set(item) - {"image_url", "type"}
        ):
            return f'image_list[{n}] must be {{"image_url", "type"?}}'
        if item.get("type", "first_frame") not in ("first_frame", "end_frame"):
            return f"image_list[{n}].type must be first_frame or end_frame"
        if isinstance(size := image_size(item["image_url"], f"image_list[{n}].image_url"), str):
            return size
    elements = body.get("element_list", [])
    if not isinstance(elements, list):
        return "element_list must be a list"
    for n, item in enumerate(elements):
        if not isinstance(item, dict) or set(item) != {"element_id"}:
            return f'element_list[{n}] must be {{"element_id"}}'
        value = item["element_id"]
        if isinstance(value, bool) or not isinstance(value, int):
            return f"element_list[{n}].element_id must be an integer"
    videos = body.get("video_list", [])
    if not isinstance(videos, list) or len(videos) > 1:
        return "video_list must hold at most one video"
    for item in videos:
        if not isinstance(item, dict) or set(item) - {
            "video_url",
            "refer_type",
            "keep_original_sound",
        }:
            return 'video_list[0] must be {"video_url", "refer_type", "keep_original_sound"}'
        url = item.get("video_url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return "video_list[0].video_url must be an http(s) URL"
        if item.get("refer_type", "base") not in ("base", "feature"):
            return "video_list[0].refer_type must be base or feature"
        if item.get("keep_original_sound", "no") not in ("yes", "no"):
            return "video_list[0].keep_original_sound must be yes or no"
    if body.get("sound", "off") not in ("on", "off"):
        return "sound must be on or off"
    if body.get("sound") == "on" and model == "kling-video-o1":
        return "sound is not supported by kling-video-o1"
    if body.get("mode", "pro") not in ("std", "pro"):
        return "mode must be 'std' or 'pro'"
    return None


def _counts(body: dict[str, Any], model: str) -> str | None:
    images, elements = body.get("image_list") or [], body.get("element_list") or []
    limit = 4 if body.get("video_list") else 7
    if len(images) + len(elements) > limit:
        return f"image_list: at most {limit} images and elements, got {len(images) + len(elements)}"
    frames = _frames(body)
    if frames.count("first_frame") > 1 or frames.count("end_frame") > 1:
        return "image_list: at most one first_frame and one end_frame"
    if "end_frame" in frames and "first_frame" not in frames:
        return "image_list: end_frame needs a first_frame"
    if frames and model == "kling-video-o1" and len(images) > 2:
        return "image_list: kling-video-o1 takes frames only with at most 2 images"
    if frames and len(elements) > 3:
        return "element_list: at most 3 elements with frames"
    if len(frames) == 2 and elements and model == "kling-video-o1":
        return "element_list: kling-video-o1 takes no elements with first and end frames"
    return None


def _shots(body: dict[str, Any], model: str) -> str | None:
    if "multi_shot" not in body:
        return None
    if not isinstance(body["multi_shot"], bool):
        return "multi_shot must be true or false"
    if not body["multi_shot"]:
        return None
    if model != "kling-v3-omni":
        return f"multi_shot is not supported by {model}"
    if _frames(body):
        return "image_list: multi_shot takes no first_frame or end_frame"
    shot_type = body.get("shot_type")
    if shot_type not in ("customize", "intelligence"):
        return "shot_type must be customize or intelligence"
    if shot_type == "intelligence":
        return None if (body.get("prompt") or "").strip() else "prompt is required"
    shots = body.get("multi_prompt")
    if not isinstance(shots, list) or not 1 <= len(shots) <= 6:
        return "multi_prompt must hold 1 to 6 shots"
    total = 0
    for n, shot in enumerate(shots):
        if not isinstance(shot, dict) or set(shot) != {"index", "prompt", "duration"}:
            return f"multi_prompt[{n}] must be {{index, prompt, duration}}"
        if not isinstance(shot["prompt"], str) or len(shot["prompt"]) > 512:
            return f"multi_prompt[{n}].prompt must be at most 512 characters"
        if not isinstance(shot["duration"], str) or not shot["duration"].isdigit():
            return f'multi_prompt[{n}].duration must be a string such as "5"'
        total += int(shot["duration"])
    if str(total) != body.get("duration", "5"):
        return f"multi_prompt: durations sum to {total}, duration is {body.get('duration', '5')}"
    return None


def _duration(body: dict[str, Any], model: str) -> str | None:
    videos = body.get("video_list") or []
    if videos and videos[0].get("refer_type", "base") == "base":
        return None  # refused in _video if sent
    duration = body.get("duration", "5")
    if not isinstance(duration, str):
        return 'duration must be a string such as "5"'
    top = 15 if model == "kling-v3-omni" else 10
    if duration not in [str(d) for d in range(3, top + 1)]:
        return f"duration must be 3..{top}"
    references = [i for i in body.get("image_list") or [] if not i.get("type")]
    if (
        model == "kling-video-o1"
        and not (references or body.get("element_list") or videos)
        and duration not in ("5", "10")
    ):
        return O1_DURATION
    if videos and model == "kling-v3-omni" and int(duration) > 10:
        return "duration must be 3..10 with a feature video"
    return None


def _shape(body: dict[str, Any], model: str) -> str | None:
    videos = body.get("video_list") or []
    decided = "first_frame" in _frames(body) or (
        videos and videos[0].get("refer_type", "base") == "base"
    )
    if decided and "aspect_ratio" in body:
        return "aspect_ratio is not accepted with a first frame or base video: the input decides"
    if not decided and body.get("aspect_ratio") not in ASPECT_RATIOS:
        return f"aspect_ratio is required: one of {', '.join(sorted(ASPECT_RATIOS))}"
    return None


def _citations(body: dict[str, Any], model: str) -> str | None:
    counts = {
        "image": len(body.get("image_list") or []),
        "element": len(body.get("element_list") or []),
        "video": len(body.get("video_list") or []),
    }
    prompt = body.get("prompt") or ""
    if not prompt.strip() and not (body.get("multi_shot") and body.get("shot_type") == "customize"):
        return "prompt is required"
    for what, number in CITATION.findall(prompt):
        if not 1 <= int(number) <= counts[what]:
            return f"prompt: <<<{what}_{number}>>> has no matching entry"
    return None
