"""What a render is asked for, what it produced, and the output geometry rules."""

import math
from collections.abc import Sequence
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
# kling-kinds.md §7.2: 1..6 shots, at most two voices.
MAX_SHOTS = 6
MAX_VOICES = 2


class RenderError(Exception):
    """The renderer cannot use its input (bad parameters, an undecodable image or video)."""


@dataclass(frozen=True)
class RenderSpec:
    """Everything the local renderer needs, in Kling's parameter vocabulary.

    sound: off renders no audio stream at all; on adds a tone pitched from the prompt (each
    shot's own prompt with shots). voices: voice ids, each adding its own beep pattern; only
    with sound. shots: (prompt, whole seconds) per shot, summing to duration; the clip cuts
    hard at every boundary. Lists are stored as tuples so a spec stays hashable.
    """

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
    sound: bool = False
    voices: Sequence[str] = ()
    shots: Sequence[tuple[str, int]] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "voices", tuple(self.voices))
        object.__setattr__(self, "shots", tuple(tuple(shot) for shot in self.shots))

    def validate(self) -> None:
        """Raise RenderError for parameters the renderer cannot honour."""
        if type(self.duration) is not int or self.duration not in DURATIONS:
            raise RenderError(f"duration must be 3..15 seconds, got {self.duration!r}")
        if self.mode not in SHORT_SIDE:
            raise RenderError(f"mode must be 'std' or 'pro', got {self.mode!r}")
        if self.aspect_ratio not in ASPECT_RATIOS:
            raise RenderError(f"unsupported aspect_ratio {self.aspect_ratio!r}")
        self.validate_sound()
        if self.shots:
            self._validate_shots()

    def validate_sound(self) -> None:
        """Raise RenderError for a sound or voices request the renderer cannot honour."""
        if type(self.sound) is not bool:
            raise RenderError(f"sound must be a bool, got {self.sound!r}")
        if self.voices and not self.sound:
            raise RenderError("voices need sound on")
        if len(self.voices) > MAX_VOICES or not all(
            isinstance(voice, str) and voice for voice in self.voices
        ):
            raise RenderError(f"voices must be at most {MAX_VOICES} non-empty voice ids")

    def _validate_shots(self) -> None:
        if len(self.shots) > MAX_SHOTS:
            raise RenderError(f"shots: at most {MAX_SHOTS}, got {len(self.shots)}")
        for number, shot in enumerate(self.shots, 1):
            if len(shot) != 2 or not isinstance(shot[0], str) or type(shot[1]) is not int:
                raise RenderError(f"shot {number} must be (prompt, whole seconds), got {shot!r}")
            if shot[1] < 1:
                raise RenderError(f"shot {number} must last at least 1 second")
        total = sum(seconds for _, seconds in self.shots)
        if total != self.duration:
            raise RenderError(f"shots: durations sum to {total}, duration is {self.duration}")
        if self.last_frame:
            # Kling refuses image_tail with multi-shot (kling-kinds.md §7.2).
            raise RenderError("last_frame cannot be combined with shots")

    @property
    def frame_count(self) -> int:
        """Frames in the clip: exactly duration * FPS."""
        return self.duration * FPS

    @property
    def seed_text(self) -> str:
        """The parameters that choose the generated scene (not size, duration or camera)."""
        return scene_seed(self, self.prompt)


def scene_seed(spec: RenderSpec, prompt: str) -> str:
    """The seed of a scene for prompt under spec's other scene-choosing parameters."""
    return "\x1f".join([prompt, spec.negative_prompt, spec.model_name, f"{spec.cfg_scale:.4f}"])


@dataclass(frozen=True)
class VideoMeta:
    """Facts about a finished MP4 file (audio_duration is 0.0 without an audio stream)."""

    duration: float
    width: int
    height: int
    fps: float
    bytes: int
    sha256: str
    has_audio: bool = False
    audio_duration: float = 0.0


def output_size(aspect_ratio: str, mode: str) -> tuple[int, int]:
    """Width and height for an aspect and mode: the short side fixed, both even."""
    w, h = ASPECT_RATIOS[aspect_ratio]
    short = SHORT_SIDE[mode]
    long = 2 * round(short * max(w, h) / min(w, h) / 2)
    return (long, short) if w >= h else (short, long)


def fitted_size(width: int, height: int, mode: str) -> tuple[int, int]:
    """An input video's own shape with its short side at mode's size, both sides even."""
    short = SHORT_SIDE[mode]
    long = 2 * round(short * max(width, height) / min(width, height) / 2)
    return (long, short) if width >= height else (short, long)


def nearest_aspect(width: int, height: int) -> str:
    """The listed aspect ratio closest to width:height (compared on a log scale)."""
    ratio = math.log(width / height)
    return min(ASPECT_RATIOS, key=lambda name: abs(math.log(_ratio(name)) - ratio))


def _ratio(name: str) -> float:
    w, h = ASPECT_RATIOS[name]
    return w / h
