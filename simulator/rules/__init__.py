"""What the simulator accepts, one module per kind: each check answers a 1201 message naming
the field, or None, and raises ModelNotFound for a model the upstream does not have (1203)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import effects, extend, lip_sync, multi_image, omni, video
from .common import ModelNotFound

Check = Callable[..., "str | None"]

CHECKS: dict[str, Check] = {
    "text2video": video.check,
    "image2video": video.check,
    "effects": effects.check,
    "multi-image2video": multi_image.check,
    "omni-video": omni.check,
    "video-extend": extend.check,
    "advanced-lip-sync": lip_sync.check,
}
KINDS = tuple(CHECKS)
# Kinds whose bodies name account-scoped ids (kling-kinds.md §7): their checks ask the
# account (the simulator) about the videos and sessions it issued.
ACCOUNT_KINDS = {"video-extend", "advanced-lip-sync"}


def check_create(kind: str, body: Any, *, gateway: bool, account: Any = None) -> str | None:
    """The first rule a create body of this kind breaks, as a message; None if valid."""
    if kind in ACCOUNT_KINDS:
        return CHECKS[kind](kind, body, gateway=gateway, account=account)
    return CHECKS[kind](kind, body, gateway=gateway)


check_identify = lip_sync.check_identify

__all__ = ["KINDS", "ModelNotFound", "check_create", "check_identify"]
