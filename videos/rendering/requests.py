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
from .lip_sync import render_lip_sync
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


def _render_lip_sync(body: dict[str, Any], files: dict[str, str], video: str, poster: str) -> None:
    """kling-kinds.md §7.6: the voice line mixed in at the insert time, a mouth moving to it.

    The jobs stage the clip (the session's source) and the voice line beside the body.
    """
    choose = body.get("face_choose") or [{}]
    face = choose[0] if isinstance(choose, list) and choose else {}
    parent, voice = files.get("parent_video"), files.get("audio.0")
    if not body.get("session_id") or not parent:
        raise RenderError("advanced-lip-sync needs the session's video")
    if not voice:
        raise RenderError("the local renderer needs a sound_file (it has no TTS audio_id)")
    render_lip_sync(
        parent,
        voice,
        video,
        poster,
        sound_start_ms=int(face.get("sound_start_time", 0)),
        sound_end_ms=int(face.get("sound_end_time", 0)),
        insert_ms=int(face.get("sound_insert_time", 0)),
        sound_volume=float(face.get("sound_volume", 1)),
        original_audio_volume=float(face.get("original_audio_volume", 1)),
    )


KINDS: dict[str, Renderer] = {
    "text2video": _render_video,
    "image2video": _render_video,
    "effects": _render_effect,
    "video-extend": _render_extend,
    "advanced-lip-sync": _render_lip_sync,
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
