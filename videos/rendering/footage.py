"""Input videos (a parent clip, a reference video) decoded into frames at the output rate."""

from collections.abc import Iterator
from dataclasses import dataclass, field

import av
from av.video.reformatter import ColorRange, Colorspace
from PIL import Image

from .planes import COLOR_RANGE, COLORSPACE
from .spec import FPS, RenderError

# Half a frame's worth of slack when matching source timestamps to output frame times.
_SLACK = 0.5 / FPS
# Frames tagged like our own output (or not tagged) pass through without conversion.
_AS_OURS = (Colorspace.ITU709.value, 2)  # 2 is FFmpeg's AVCOL_SPC_UNSPECIFIED


@dataclass
class Footage:
    """One input video: its facts, its frames at FPS (decoded on demand), its last frame."""

    path: str
    field: str
    size: tuple[int, int]
    frames: int
    source_size: tuple[int, int]
    last: av.VideoFrame | None = field(default=None, repr=False)

    @property
    def duration(self) -> float:
        """Seconds at FPS."""
        return self.frames / FPS

    def pictures(self) -> Iterator[av.VideoFrame]:
        """Exactly self.frames yuv420p frames at self.size, resampled in time to FPS.

        Each output frame shows the latest source frame due at its time, so any source rate
        plays at its own speed. self.last holds the final one once the iterator is done.
        """
        emitted = 0
        current: av.VideoFrame | None = None
        start: float | None = None
        try:
            with av.open(self.path) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                for decoded in container.decode(stream):
                    time = decoded.time if decoded.time is not None else emitted / FPS
                    start = time if start is None else start
                    while (
                        current is not None
                        and emitted < self.frames
                        and (emitted / FPS < time - start - _SLACK)
                    ):
                        yield current
                        emitted += 1
                    if emitted >= self.frames:
                        break
                    current = self._conform(decoded)
        except av.FFmpegError as exc:
            raise RenderError(f"{self.field} is not a decodable video: {exc}") from exc
        if current is None:
            raise RenderError(f"{self.field} has no decodable frames")
        while emitted < self.frames:
            yield current
            emitted += 1
        self.last = current

    def last_image(self) -> Image.Image:
        """The final frame as an RGB picture (after pictures() has run)."""
        if self.last is None:
            raise RenderError(f"{self.field} was not decoded")
        return self.last.to_image()

    def _conform(self, frame: av.VideoFrame) -> av.VideoFrame:
        """frame as yuv420p at self.size (no work for our own clips, which already are)."""
        if (
            frame.format.name == "yuv420p"
            and (frame.width, frame.height) == self.size
            and frame.colorspace in _AS_OURS
            and frame.color_range != ColorRange.JPEG.value
        ):
            return frame
        return frame.reformat(
            width=self.size[0],
            height=self.size[1],
            format="yuv420p",
            dst_colorspace=COLORSPACE,
            dst_color_range=COLOR_RANGE,
            interpolation="BILINEAR",
        )


def open_footage(
    path: str, field: str, size: tuple[int, int] | None = None, max_seconds: float | None = None
) -> Footage:
    """Probe an input video; size defaults to its own (rounded down to even sides)."""
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise RenderError(f"{field} has no video stream")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            else:
                seconds = (container.duration or 0) / av.time_base
    except (av.FFmpegError, OSError) as exc:
        raise RenderError(f"{field} is not a readable video ({path}): {exc}") from exc
    if width < 2 or height < 2 or seconds <= 0:
        raise RenderError(f"{field} has no usable picture ({width}x{height}, {seconds:.2f} s)")
    if max_seconds is not None and seconds > max_seconds:
        raise RenderError(f"{field} is {seconds:.1f} s long, at most {max_seconds:g} s")
    own = (width - width % 2, height - height % 2)
    frames = max(1, round(seconds * FPS))
    return Footage(path, field, size or own, frames, (width, height))


def read_last_image(path: str, field: str) -> Image.Image:
    """The last decodable frame of a video as an RGB picture."""
    last = None
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise RenderError(f"{field} has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                last = frame
            image = last.to_image() if last is not None else None
    except (av.FFmpegError, OSError) as exc:
        raise RenderError(f"{field} is not a decodable video ({path}): {exc}") from exc
    if image is None:
        raise RenderError(f"{field} has no decodable frames")
    return image
