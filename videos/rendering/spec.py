"""What a render is asked for, what it produced, and the output geometry rules."""

import math
from dataclasses import dataclass

FPS = 24
DURATIONS = range(3, 16)
# Short side of the output per Kling mode: std is the 720p class, pro the 1080p class.
SHORT_SIDE = {"std": 720, "pro": 1080}
ASPECT_RATIOS = {
    "16:9": (16, 9),
    "9:16": (9, 16),
    "1:1": (1, 1),
    "3:2": (3, 2),
    "2:3": (2, 3),
    "3:4": (3, 4),
    "4:3": (4, 3),
}


class RenderError(Exception):
    """The renderer cannot use its input (bad parameters, an undecodable image or video)."""


@dataclass(frozen=True)
class RenderSpec:
    """Everything the local renderer needs, in Kling's parameter vocabulary."""

    prompt: str
    negative_prompt: str = ""
    duration: int = 5
    aspect_ratio: str = "16:9"
    mode: str = "std"
    camera_control: dict | None = None
    cfg_scale: float = 0.5
    model_name: str = "kling-v1"
    first_frame: str | None = None
    last_frame: str | None = None

    def validate(self) -> None:
        """Raise RenderError for parameters the renderer cannot honour."""
        if type(self.duration) is not int or self.duration not in DURATIONS:
            raise RenderError(f"duration must be 3..15 seconds, got {self.duration!r}")
        if self.mode not in SHORT_SIDE:
            raise RenderError(f"mode must be 'std' or 'pro', got {self.mode!r}")
        if self.aspect_ratio not in ASPECT_RATIOS:
            raise RenderError(f"unsupported aspect_ratio {self.aspect_ratio!r}")

    @property
    def frame_count(self) -> int:
        """Frames in the clip: exactly duration * FPS."""
        return self.duration * FPS

    @property
    def seed_text(self) -> str:
        """The parameters that choose the generated scene (not size, duration or camera)."""
        return "\x1f".join(
            [self.prompt, self.negative_prompt, self.model_name, f"{self.cfg_scale:.4f}"]
        )


@dataclass(frozen=True)
class VideoMeta:
    """Facts about a finished MP4 file."""

    duration: float
    width: int
    height: int
    fps: float
    bytes: int
    sha256: str


def output_size(aspect_ratio: str, mode: str) -> tuple[int, int]:
    """Width and height for an aspect and mode: the short side fixed, both even."""
    w, h = ASPECT_RATIOS[aspect_ratio]
    short = SHORT_SIDE[mode]
    long = 2 * round(short * max(w, h) / min(w, h) / 2)
    return (long, short) if w >= h else (short, long)


def nearest_aspect(width: int, height: int) -> str:
    """The listed aspect ratio closest to width:height (compared on a log scale)."""
    ratio = math.log(width / height)
    return min(ASPECT_RATIOS, key=lambda name: abs(math.log(_ratio(name)) - ratio))


def _ratio(name: str) -> float:
    w, h = ASPECT_RATIOS[name]
    return w / h
