"""What the simulator accepts, one module per kind: each check answers a 1201 message naming
the field, or None, and raises ModelNotFound for a model the upstream does not have (1203)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import effects, multi_image, omni, video
from .common import ModelNotFound

Check = Callable[..., "str | None"]

CHECKS: dict[str, Check] = {
    "text2video": video.check,
    "image2video": video.check,
    "effects": effects.check,
    "multi-image2video": multi_image.check,
    "omni-video": omni.check,
}
KINDS = tuple(CHECKS)


def check_create(kind: str, body: Any, *, gateway: bool) -> str | None:
    """The first rule a create body of this kind breaks, as a message; None if valid."""
    return CHECKS[kind](kind, body, gateway=gateway)


__all__ = ["KINDS", "ModelNotFound", "check_create"]
