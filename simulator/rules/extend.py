"""video-extend (kling-kinds.md §7.5): only this account's own finished v1..v1-6 videos."""

from __future__ import annotations

from typing import Any

from .common import check_misc, is_number

EXTENDABLE_MODELS = {"kling-v1", "kling-v1-5", "kling-v1-6"}
KNOWN_FIELDS = {
    "video_id",
    "prompt",
    "negative_prompt",
    "cfg_scale",
    "callback_url",
    "external_task_id",
    "watermark_info",
}
MAX_SOURCE_SECONDS = 175
MAX_AGE_SECONDS = 30 * 86400


def check(kind: str, body: Any, *, gateway: bool, account: Any = None) -> str | None:
    """The first rule an extend body breaks; account answers video(id) for ids it issued."""
    if not isinstance(body, dict):
        return "the request body must be a JSON object"
    unknown = set(body) - KNOWN_FIELDS
    if unknown:
        return f"unknown field(s): {', '.join(sorted(unknown))}"
    video_id = body.get("video_id")
    if not isinstance(video_id, str) or not video_id:
        return "video_id is required"
    video = account.video(video_id) if account is not None else None
    if video is None:
        return f"video_id {video_id} does not exist on this account"
    if video.model not in EXTENDABLE_MODELS:
        return f"video_id {video_id} was made with {video.model}; only kling-v1..v1-6 extend"
    if video.age_seconds > MAX_AGE_SECONDS:
        return f"video_id {video_id} is older than 30 days"
    if video.seconds > MAX_SOURCE_SECONDS:
        return f"video_id {video_id} is longer than {MAX_SOURCE_SECONDS} s"
    prompt = body.get("prompt")
    if prompt is not None and (not isinstance(prompt, str) or len(prompt) > 2500):
        return "prompt must be a string of at most 2500 characters"
    negative = body.get("negative_prompt")
    if negative is not None and (not isinstance(negative, str) or len(negative) > 2500):
        return "negative_prompt must be a string of at most 2500 characters"
    cfg = body.get("cfg_scale")
    if cfg is not None and (not is_number(cfg) or not 0 <= cfg <= 1):
        return "cfg_scale must be a number in [0, 1]"
    if video.model == "kling-v1" and (negative is not None or cfg is not None):
        return "negative_prompt and cfg_scale are not supported for kling-v1 videos"
    return check_misc(kind, body, "")
