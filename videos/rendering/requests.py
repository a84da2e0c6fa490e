"""Kling create bodies rendered locally: what the built-in upstream does with each kind.

The local provider hands over the same strict body Kling would get (kling-api.md §1.3-1.5)
and the input files beside it; this module reads the body as Kling would and calls the
renderer. One function per kind, in KINDS: a new kind adds its entry here.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

from .effects import render_effect
from .extend import render_extension
from .lip_sync import render_lip_sync
from .multi_image import render_multi_image
from .omni import Reference, ReferenceVideo, render_omni
from .render import render_video
from .spec import RenderError, RenderSpec

Renderer = Callable[[dict[str, Any], dict[str, str], str, str], None]


def _whole_seconds(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError as exc:
        raise RenderError(f"duration must be whole seconds, got {value!r}") from exc


def _video_spec(body: dict[str, Any], files: dict[str, str]) -> RenderSpec:
    """text2video and image2video: the body's parameters, the frames as files (§7.2: with
    sound, voices and shots as omni-video has them)."""
    duration = _whole_seconds(body.get("duration", "5"))
    return RenderSpec(
        prompt=str(body.get("prompt", "")),
        negative_prompt=str(body.get("negative_prompt", "")),
        duration=duration,
        aspect_ratio=str(body.get("aspect_ratio", "16:9")),
        mode=str(body.get("mode", "std")),
        camera_control=body.get("camera_control"),
        cfg_scale=float(body.get("cfg_scale", 0.5)),
        model_name=str(body.get("model_name", "kling-v1")),
        first_frame=files.get("image"),
        last_frame=files.get("image_tail"),
        sound=body.get("sound") == "on",
        voices=[str(v.get("voice_id", "")) for v in body.get("voice_list") or []],
        shots=_shots(body, duration),
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


def _render_multi_image(
    body: dict[str, Any], files: dict[str, str], video: str, poster: str
) -> None:
    """kling-kinds.md §7.4: image_list in turn over the duration, pushed in on, crossfading."""
    spec = RenderSpec(
        prompt=str(body.get("prompt", "")),
        negative_prompt=str(body.get("negative_prompt", "")),
        duration=_whole_seconds(body.get("duration", "5")),
        aspect_ratio=str(body.get("aspect_ratio", "16:9")),
        mode=str(body.get("mode", "std")),
        model_name=str(body.get("model_name", "kling-v1-6")),
    )
    render_multi_image(_listed(files, "image"), spec, video, poster)


def _shots(body: dict[str, Any], duration: int) -> list[tuple[str, int]]:
    """multi_prompt as (prompt, seconds); intelligence: ceil(duration / 5) near-equal shots."""
    if not body.get("multi_shot"):
        return []
    if body.get("shot_type") == "customize":
        return [
            (str(s.get("prompt", "")), _whole_seconds(s.get("duration")))
            for s in body.get("multi_prompt") or []
        ]
    count = math.ceil(duration / 5)
    prompt = str(body.get("prompt", ""))
    return [(prompt, duration // count + (1 if k < duration % count else 0)) for k in range(count)]


def _render_omni(body: dict[str, Any], files: dict[str, str], video: str, poster: str) -> None:
    """kling-kinds.md §7.3: references as labelled tiles, first -> end frame, the video's use.

    image_list[n] is the staged "image.n"; a reference is labelled image_<n+1> as the prompt
    cites it; element_list entries are grey tiles labelled element_<n>.
    """
    frames: dict[str, str] = {}
    references: list[Reference] = []
    for n, item in enumerate(body.get("image_list") or []):
        path = files.get(f"image.{n}")
        if path is None:
            raise RenderError(f"image_list[{n}] was not staged")
        if item.get("type") in ("first_frame", "end_frame"):
            frames[item["type"]] = path
        else:
            references.append(Reference(f"image_{n + 1}", path))
    for n, _element in enumerate(body.get("element_list") or [], 1):
        references.append(Reference(f"element_{n}"))
    reference_video = None
    if listed := body.get("video_list"):
        if "video.0" not in files:
            raise RenderError("video_list[0] was not staged")
        reference_video = ReferenceVideo(
            files["video.0"],
            str(listed[0].get("refer_type", "base")),
            listed[0].get("keep_original_sound") == "yes",
        )
    # A base video keeps its own length (no duration is sent); 5 only satisfies the spec.
    duration = _whole_seconds(body.get("duration", "5"))
    spec = RenderSpec(
        prompt=str(body.get("prompt", "")),
        duration=duration,
        aspect_ratio=str(body.get("aspect_ratio", "16:9")),
        mode=str(body.get("mode", "pro")),
        model_name=str(body.get("model_name", "kling-video-o1")),
        first_frame=frames.get("first_frame"),
        last_frame=frames.get("end_frame"),
        sound=body.get("sound") == "on",
        shots=_shots(body, duration),
    )
    render_omni(spec, video, poster, references, reference_video)


KINDS: dict[str, Renderer] = {
    "text2video": _render_video,
    "image2video": _render_video,
    "effects": _render_effect,
    "video-extend": _render_extend,
    "advanced-lip-sync": _render_lip_sync,
    "multi-image2video": _render_multi_image,
    "omni-video": _render_omni,
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
