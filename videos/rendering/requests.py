"""Kling create bodies rendered locally: what the built-in upstream does with each kind.

The local provider hands over the same strict body Kling would get (kling-api.md §1.3-1.5)
and the input files beside it; this module reads the body as Kling would and calls the
renderer. One function per kind, in KINDS: a new kind adds its entry here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from .effects import render_effect
from .extend import render_extension
from .render import render_video
from .spec import RenderError, RenderSpec

Renderer = Callable[[dict[str, Any], dict[str, str], str, str], None]


def _whole_seconds(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError as exc:
        raise RenderError(f"duration must be whole seconds, got {value!r}") from exc


def _video_spec(body: dict[str, Any], files: dict[str, str]) -> RenderSpec:
    """text2video and image2video: the body's parameters, the frames as files."""
    return RenderSpec(
        prompt=str(body.get("prompt", "")),
        negative_prompt=str(body.get("negative_prompt", "")),
        duration=_whole_seconds(body.get("duration", "5")),
        aspect_ratio=str(body.get("aspect_ratio", "16:9")),
        mode=str(body.get("mode", "std")),
        camera_control=body.get("camera_control"),
        cfg_scale=float(body.get("cfg_scale", 0.5)),
        model_name=str(body.get("model_name", "kling-v1")),
        first_frame=files.get("image"),
        last_frame=files.get("image_tail"),
    )


def _render_video(body: dict[str, Any], files: dict[str, str], video: str, poster: str) -> None:
    render_video(_video_spec(body, files), video, poster)


def _listed(files: dict[str, str], role: str) -> list[str]:
    """The staged inputs of one role in list order: "image.0", "image.1", ..."""
    keys = sorted(
        (k for k in files if k.startswith(f"{role}.")), key=lambda k: int(k.split(".")[1])
    )
    return [files[k] for k in keys]


def _render_effect(body: dict[str, Any], files: dict[str, str], video: str, poster: str) -> None:
    """kling-kinds.md §7.7: the scene over input.image, or input.images side by side."""
    render_effect(str(body.get("effect_scene", "")), _listed(files, "image"), video, poster)


def _render_extend(body: dict[str, Any], files: dict[str, str], video: str, poster: str) -> None:
    """kling-kinds.md §7.5: the parent's frames, then five seconds more from its last one.

    The jobs stage the parent's stored MP4 beside the body (its video_id names it upstream).
    """
    parent = files.get("parent_video")
    if not body.get("video_id") or not parent:
        raise RenderError("video-extend needs the video it extends")
    spec = RenderSpec(
        prompt=str(body.get("prompt", "")),
        negative_prompt=str(body.get("negative_prompt", "")),
        cfg_scale=float(body.get("cfg_scale", 0.5)),
    )
    render_extension(parent, spec, video, poster)


KINDS: dict[str, Renderer] = {
    "text2video": _render_video,
    "image2video": _render_video,
    "effects": _render_effect,
    "video-extend": _render_extend,
}


def render_request(
    kind: str, body: dict[str, Any], files: dict[str, str], workdir: str
) -> tuple[str, str]:
    """Render one create into workdir; returns the MP4 and poster paths."""
    renderer = KINDS.get(kind)
    if renderer is None:
        raise RenderError(f"the local renderer does not do {kind}")
    video, poster = os.path.join(workdir, "video.mp4"), os.path.join(workdir, "poster.jpg")
    renderer(body, files, video, poster)
    return video, poster
