"""Checks every kind's create body shares (kling-kinds.md §7 "Common"): images, camera,
callback_url, external_task_id. Each returns the message of a 1201 answer, or None."""

from __future__ import annotations

import base64
import binascii
import io
from typing import Any

from PIL import Image, UnidentifiedImageError

CAMERA_TYPES = {"simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward"}
CAMERA_AXES = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")


class ModelNotFound(Exception):
    """The model name does not exist upstream (answered as 404 / 1203)."""


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def image_size(value: Any, field: str) -> tuple[int, int] | str:
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


def check_camera(kind: str, body: dict[str, Any], model: str) -> str | None:
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
    if not all(is_number(v) and -10 <= v <= 10 for v in values):
        return "camera_control.config values must be numbers in [-10, 10]"
    if sum(1 for v in values if v) != 1:
        return "camera_control.config needs exactly one non-zero axis"
    return None


def check_misc(kind: str, body: dict[str, Any], model: str) -> str | None:
    external = body.get("external_task_id")
    if external is not None and not isinstance(external, str):
        return "external_task_id must be a string"
    callback = body.get("callback_url")
    if callback is not None and (
        not isinstance(callback, str) or not callback.startswith(("http://", "https://"))
    ):
        return "callback_url must be an http(s) URL"
    return None
