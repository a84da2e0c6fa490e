"""Facts and posters for any MP4: ours, or one downloaded from a real upstream."""

import hashlib
import os

import av
from PIL import Image

from .spec import RenderError, VideoMeta

POSTER_SECONDS = 1.0
JPEG_QUALITY = 85
CHUNK = 1 << 20


def probe_video(video_path: str) -> VideoMeta:
    """Read duration/size/fps with PyAV and hash the file (streamed, constant memory)."""
    try:
        with av.open(video_path) as container:
            if not container.streams.video:
                raise RenderError(f"{video_path} has no video stream")
            stream = container.streams.video[0]
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            else:
                duration = (container.duration or 0) / av.time_base
            rate = stream.average_rate or stream.guessed_rate or 0
            width, height = stream.codec_context.width, stream.codec_context.height
            audio_duration = _audio_duration(container)
    except (av.FFmpegError, OSError) as exc:
        raise RenderError(f"{video_path} is not a readable video: {exc}") from exc
    digest = hashlib.sha256()
    with open(video_path, "rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return VideoMeta(
        duration=duration,
        width=width,
        height=height,
        fps=float(rate),
        bytes=os.path.getsize(video_path),
        sha256=digest.hexdigest(),
        has_audio=audio_duration is not None,
        audio_duration=audio_duration or 0.0,
    )


def _audio_duration(container: av.container.InputContainer) -> float | None:
    """Seconds of the first audio stream, or None when the file has none."""
    if not container.streams.audio:
        return None
    stream = container.streams.audio[0]
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return (container.duration or 0) / av.time_base


def make_poster(video_path: str, poster_path: str) -> None:
    """Decode the frame about one second in (or the last one, if shorter) and save it as JPEG."""
    chosen = None
    try:
        with av.open(video_path) as container:
            if not container.streams.video:
                raise RenderError(f"{video_path} has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            # Decoding from the start rather than seeking: a second of frames is cheap, and
            # some upstream files have no index that would make seeking reliable.
            for frame in container.decode(stream):
                chosen = frame
                if frame.time is not None and frame.time >= POSTER_SECONDS:
                    break
            image = chosen.to_image() if chosen is not None else None
    except (av.FFmpegError, OSError) as exc:
        raise RenderError(f"{video_path} is not a decodable video: {exc}") from exc
    if image is None:
        raise RenderError(f"{video_path} has no decodable frames")
    save_jpeg(image, poster_path)


def save_jpeg(image: Image.Image, path: str) -> None:
    """Write image as a JPEG, atomically, creating the folder if needed."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = f"{path}.part"
    image.convert("RGB").save(partial, "JPEG", quality=JPEG_QUALITY, optimize=True)
    os.replace(partial, path)
