"""Lip-sync (kling-kinds.md §7.6): identify-face and advanced-lip-sync, rendered locally.

The local renderer's clips hold landscapes, not people, so it reports one face over the
whole clip at a fixed place (face_id "0") and, when asked to lip-sync, draws that face with
a mouth that opens as loud as the inserted voice line is at each frame.
"""

import io
from collections.abc import Iterator
from dataclasses import dataclass

import av
from PIL import Image, ImageDraw

from .audio import (
    RATE,
    SAMPLES_PER_FRAME,
    decode_soundtrack,
    decode_voice,
    loudness,
    mix,
    place,
)
from .encode import FrameJob, write_video
from .footage import open_footage
from .planes import Overlay, Planes, rgb_to_yuv
from .probe import JPEG_QUALITY
from .spec import FPS, RenderError, VideoMeta

FACE_ID = "0"
MAX_VIDEO_SECONDS = 180
MAX_VOLUME = 2.0
SLACK_MS = 1000 // FPS
FACE_SHARE = 0.42  # face box side, of the short side
SKIN = (224, 178, 142, 235)
LIPS = rgb_to_yuv((178, 52, 64))
MOUTH = rgb_to_yuv((52, 14, 20))
# An RMS level that opens the mouth all the way (speech peaks around 0.1..0.3).
FULL_OPEN_RMS = 0.15


@dataclass(frozen=True)
class Face:
    """One face identify-face reports: an id, a JPEG of it, and when it shows (ms)."""

    face_id: str
    face_image: bytes
    start_time: int
    end_time: int


def identify_faces(video_path: str) -> list[Face]:
    """The one face of a local clip: face_id "0" over the whole clip, its picture a crop."""
    footage = open_footage(video_path, "video", max_seconds=MAX_VIDEO_SECONDS)
    poster_at = min(FPS, footage.frames - 1)
    for index, frame in enumerate(footage.pictures()):
        if index == poster_at:
            crop = frame.to_image().crop(face_box(footage.size))
            break
    jpeg = io.BytesIO()
    crop.save(jpeg, "JPEG", quality=JPEG_QUALITY)
    return [Face(FACE_ID, jpeg.getvalue(), 0, round(footage.duration * 1000))]


def render_lip_sync(
    video_path: str,
    audio_path: str,
    out_video_path: str,
    out_poster_path: str,
    *,
    sound_start_ms: int,
    sound_end_ms: int,
    insert_ms: int,
    sound_volume: float = 1.0,
    original_audio_volume: float = 1.0,
) -> VideoMeta:
    """The clip at its own size and length, with the voice line's [start, end) mixed in.

    The voice starts at insert_ms at sound_volume over the clip's own sound (if any) at
    original_audio_volume; the face's mouth opens to the voice's loudness frame by frame.
    """
    footage = open_footage(video_path, "video", max_seconds=MAX_VIDEO_SECONDS)
    voice = decode_voice(audio_path, "sound_file")
    voice_ms = len(voice) * 1000 // RATE
    span = sound_end_ms - sound_start_ms
    video_ms = round(footage.duration * 1000)
    # A frame's worth of slack on the sound's end too: decoders disagree by a few
    # milliseconds about a file's length (encoder padding), and the API measured it first.
    if not 0 <= sound_start_ms < sound_end_ms <= voice_ms + SLACK_MS:
        raise RenderError(
            f"sound_start_time and sound_end_time must satisfy 0 <= start < end <= {voice_ms} "
            f"(the sound's length), got {sound_start_ms}..{sound_end_ms}"
        )
    # Lengths in ms and in frames round differently: the same slack.
    if insert_ms < 0 or insert_ms + span > video_ms + SLACK_MS:
        raise RenderError(
            f"sound_insert_time {insert_ms} + {span} ms does not fit the {video_ms} ms video"
        )
    for name, volume in (
        ("sound_volume", sound_volume),
        ("original_audio_volume", original_audio_volume),
    ):
        if not 0 <= volume <= MAX_VOLUME:
            raise RenderError(f"{name} must be within [0, {MAX_VOLUME:g}], got {volume!r}")

    length = footage.frames * SAMPLES_PER_FRAME
    line = voice[sound_start_ms * RATE // 1000 : sound_end_ms * RATE // 1000]
    placed = place(line, length, insert_ms * RATE // 1000)
    parts = [(placed, sound_volume)]
    original = decode_soundtrack(video_path)
    if original is not None:
        parts.append((original, original_audio_volume))
    audio = mix(parts, length)
    levels = loudness(mix([(placed, sound_volume)], length), footage.frames)

    face = face_overlay(footage.size)
    mouth = mouth_geometry(footage.size)

    def talk(frame: av.VideoFrame, index: int) -> Planes:
        picture = Planes.from_frame(frame)
        face.paint(picture)
        _draw_mouth(picture, mouth, min(1.0, levels[index] / FULL_OPEN_RMS))
        return picture

    def jobs() -> Iterator[FrameJob]:
        for index, frame in enumerate(footage.pictures()):
            yield lambda frame=frame, index=index: talk(frame, index)

    return write_video(footage.size, jobs(), out_video_path, out_poster_path, audio)


def face_box(size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Where the face is in a frame of size: left, top, right, bottom (even numbers)."""
    width, height = size
    side = _even(min(size) * FACE_SHARE)
    left, top = _even((width - side) / 2), _even(height * 0.45 - side / 2)
    return left, top, left + side, top + side


def face_overlay(size: tuple[int, int]) -> Overlay:
    """A plain face (skin, two eyes) filling the face box."""
    left, top, right, bottom = face_box(size)
    side = right - left
    face = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(face)
    draw.ellipse((side * 0.1, 0, side * 0.9, side - 1), fill=SKIN)
    for x in (0.36, 0.64):
        draw.ellipse(
            (side * (x - 0.05), side * 0.36, side * (x + 0.05), side * 0.44), fill=(40, 30, 30, 255)
        )
    return Overlay.from_rgba(face, (left, top))


@dataclass(frozen=True)
class Mouth:
    """The mouth's centre, width and how tall it gets closed and fully open (pixels)."""

    x: int
    y: int
    width: int
    closed: int
    open: int


def mouth_geometry(size: tuple[int, int]) -> Mouth:
    """Where the mouth sits in the face box of a size frame."""
    left, top, right, _ = face_box(size)
    side = right - left
    return Mouth(
        x=_even(left + side / 2),
        y=_even(top + side * 0.72),
        width=_even(side * 0.36),
        closed=_even(side * 0.03),
        open=_even(side * 0.24),
    )


def _draw_mouth(picture: Planes, mouth: Mouth, opening: float) -> None:
    height = _even(mouth.closed + (mouth.open - mouth.closed) * opening)
    half_w, half_h = mouth.width // 2, height // 2
    lip = max(2, _even(mouth.width * 0.06))
    picture.fill(
        (mouth.x - half_w, mouth.y - half_h - lip, mouth.x + half_w, mouth.y + half_h + lip), LIPS
    )
    if half_h > 0:
        inner = (mouth.x - half_w + lip, mouth.y - half_h, mouth.x + half_w - lip, mouth.y + half_h)
        picture.fill(inner, MOUTH)


def _even(value: float) -> int:
    return 2 * int(value / 2)
