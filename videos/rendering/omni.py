"""omni-video (kling-kinds.md §7.3): references as labelled tiles over the requested clip.

Without a video it is render_video's clip (first -> end frame crossfade, shots, sound) with
the references shown. A base video is the video itself, re-encoded at its own length and
tinted, its sound kept only if asked. A feature video is continued from its last frame.
"""

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import av
from PIL import Image, ImageDraw, ImageOps

from .audio import decode_soundtrack
from .encode import FrameJob, write_video
from .footage import open_footage, read_last_image
from .planes import Overlay, Planes
from .render import (
    Decorate,
    caption_overlay,
    prepare_scenes,
    scene_jobs,
    spec_soundtrack,
)
from .scene import draw_caption, load_image
from .spec import RenderError, RenderSpec, VideoMeta, fitted_size

REFER_TYPES = ("base", "feature")
# Base videos may be up to three minutes (re-encoded at their own length).
MAX_BASE_SECONDS = 180
TILE_SHARE = 0.2  # of the short side
TILE_GAP = 0.02  # of the short side
PLACEHOLDER = (70, 76, 92)  # an element id has no picture here: a slate-grey tile


@dataclass(frozen=True)
class Reference:
    """A reference shown as a labelled tile: an image file, or an element (path None)."""

    label: str
    path: str | None = None


@dataclass(frozen=True)
class ReferenceVideo:
    """video_list[0]: what to do with the video and whether its sound stays."""

    path: str
    refer_type: str = "base"
    keep_original_sound: bool = False


def render_omni(
    spec: RenderSpec,
    video_path: str,
    poster_path: str,
    references: Sequence[Reference] = (),
    video: ReferenceVideo | None = None,
) -> VideoMeta:
    """An omni-video clip; spec.first_frame/last_frame are the first_frame/end_frame images.

    references are drawn in order as tiles labelled with their label (image_1, element_1,
    ...) along the top of every frame.
    """
    spec.validate()
    if video is None:
        scenes = prepare_scenes(spec)
        size = scenes[0].size
        tiles = reference_tiles(references, size)
        audio = spec_soundtrack(spec) if spec.sound else None
        return write_video(
            size, scene_jobs(scenes, _painter(tiles)), video_path, poster_path, audio
        )
    if video.refer_type not in REFER_TYPES:
        raise RenderError(
            f"video_list refer_type must be base or feature, got {video.refer_type!r}"
        )
    if spec.sound:
        raise RenderError("sound must be off with a reference video")
    if spec.first_frame or spec.last_frame:
        if video.refer_type == "base":
            raise RenderError("a base video cannot be combined with first or end frames")
    if video.refer_type == "base":
        return _render_base(spec, video, video_path, poster_path, references)
    return _render_feature(spec, video, video_path, poster_path, references)


def _render_base(
    spec: RenderSpec,
    video: ReferenceVideo,
    video_path: str,
    poster_path: str,
    references: Sequence[Reference],
) -> VideoMeta:
    probe = open_footage(video.path, "video_list[0]", max_seconds=MAX_BASE_SECONDS)
    footage = open_footage(
        video.path, "video_list[0]", size=fitted_size(*probe.source_size, spec.mode)
    )
    size = footage.size
    tiles = reference_tiles(references, size)
    caption = caption_overlay(spec.prompt, size, opaque=True)
    u_shift, v_shift = _tint(spec.prompt)

    def edit(frame: av.VideoFrame) -> Planes:
        # "Edited" visibly: a colour grade picked by the prompt, the prompt and references.
        picture = Planes.from_frame(frame).tinted(u_shift, v_shift, contrast=1.08)
        if tiles is not None:
            tiles.paint(picture)
        if caption is not None:
            caption.paint(picture)
        return picture

    def jobs() -> Iterator[FrameJob]:
        for frame in footage.pictures():
            yield lambda frame=frame: edit(frame)

    audio = decode_soundtrack(video.path) if video.keep_original_sound else None
    return write_video(size, jobs(), video_path, poster_path, audio)


def _render_feature(
    spec: RenderSpec,
    video: ReferenceVideo,
    video_path: str,
    poster_path: str,
    references: Sequence[Reference],
) -> VideoMeta:
    # The next shot after the reference: it opens on the video's last picture (unless a
    # first frame says otherwise); with shots, the first shot does.
    opening = None if spec.first_frame else read_last_image(video.path, "video_list[0]")
    scenes = prepare_scenes(spec, opening=opening)
    tiles = reference_tiles(references, scenes[0].size)
    return write_video(scenes[0].size, scene_jobs(scenes, _painter(tiles)), video_path, poster_path)


def reference_tiles(references: Sequence[Reference], size: tuple[int, int]) -> Overlay | None:
    """One overlay holding a labelled tile per reference, in a row along the top."""
    if not references:
        return None
    width, height = size
    short = min(size)
    gap = _even(short * TILE_GAP)
    side = _even(min(short * TILE_SHARE, (width - gap * (len(references) + 1)) / len(references)))
    band = Image.new("RGBA", (width, side + 2 * gap), (0, 0, 0, 0))
    for n, reference in enumerate(references):
        band.paste(_tile(reference, side), (gap + n * (side + gap), gap))
    return Overlay.from_rgba(band, (0, 0))


def _tile(reference: Reference, side: int) -> Image.Image:
    """A framed square picture with its label along the bottom."""
    if reference.path is not None:
        picture = ImageOps.fit(load_image(reference.path, reference.label), (side, side))
    else:
        picture = Image.new("RGB", (side, side), PLACEHOLDER)
    tile = picture.convert("RGBA")
    label = draw_caption(reference.label, (side, side))
    if label is not None:
        tile.alpha_composite(label, (0, side - label.height))
    border = max(2, side // 60)
    ImageDraw.Draw(tile).rectangle(
        (0, 0, side - 1, side - 1), outline=(255, 255, 255, 255), width=border
    )
    return tile


def _painter(tiles: Overlay | None) -> Decorate | None:
    """A frame decoration painting tiles on every frame (None: nothing to paint)."""
    if tiles is None:
        return None
    return lambda picture, _index: tiles.paint(picture)


def _tint(prompt: str) -> tuple[float, float]:
    """A chroma shift (a colour grade) picked by the prompt: warm, cool, green or magenta."""
    choice = hashlib.sha256(f"tint\x1f{prompt}".encode()).digest()[0] % 4
    return ((-14.0, 16.0), (16.0, -10.0), (-12.0, -12.0), (12.0, 14.0))[choice]


def _even(value: float) -> int:
    return max(2, 2 * int(value / 2))
