"""render_video (text2video, image2video): draw each scene once, move a camera over it.

Also the pieces the other kinds build on: Scene (a still world, a camera, a caption) and the
frame-job helpers that turn scenes into the encoder's input.
"""

from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from PIL import Image

from .audio import soundtrack
from .camera import CameraPath, Move, move_from_camera_control
from .encode import FrameJob, write_video
from .planes import Overlay, Planes, World
from .scene import draw_caption, draw_scene, extend_image, load_image
from .spec import FPS, RenderSpec, VideoMeta, nearest_aspect, output_size, scene_seed

# The world canvas exceeds the output by this fraction of it on every side: room for the
# camera to move, zoom out and turn without showing an edge.
MARGIN = 0.25
Decorate = Callable[[Planes, int], None]


@dataclass(frozen=True)
class Scene:
    """The stills and camera for one stretch of frames, prepared before any frame is drawn."""

    size: tuple[int, int]
    start: World
    tail: World | None
    caption: Overlay | None
    camera: CameraPath

    @property
    def frames(self) -> int:
        """How many frames the scene lasts."""
        return self.camera.frames

    def frame(self, index: int) -> Planes:
        """The finished picture of frame index (a new picture each call)."""
        weight = self._tail_weight(index)
        if weight >= 1:
            assert self.tail is not None
            return self.tail.view(self.camera.tail_view(index), self.size)
        picture = self.start.view(self.camera.view(index), self.size)
        if weight > 0:
            assert self.tail is not None
            arriving = self.tail.view(self.camera.tail_view(index), self.size)
            picture = picture.blend(arriving, weight)
        if self.caption is not None:
            # The caption belongs to the generated scene: it fades out with it.
            self.caption.paint(picture, opacity=1 - weight)
        return picture

    def _tail_weight(self, index: int) -> float:
        """How much of the last-frame image shows: none early, all of it for the final frames."""
        if self.tail is None:
            return 0.0
        t = index / max(1, self.camera.frames - 1)
        x = min(1.0, max(0.0, (t - 0.15) / 0.7))
        return x * x * (3 - 2 * x)


def render_video(spec: RenderSpec, video_path: str, poster_path: str) -> VideoMeta:
    """text2video/image2video: an H.264 MP4 (yuv420p, moov first) and a JPEG poster.

    With spec.shots, one scene per shot with hard cuts at the shot boundaries; with
    spec.sound, an AAC track (a tone per shot's prompt, beeps per voice).
    """
    spec.validate()
    scenes = prepare_scenes(spec)
    audio = spec_soundtrack(spec) if spec.sound else None
    return write_video(scenes[0].size, scene_jobs(scenes), video_path, poster_path, audio)


def prepare_scenes(spec: RenderSpec, opening: Image.Image | None = None) -> list[Scene]:
    """The scenes of spec in order: one, or one per shot.

    opening, when spec has no first_frame, is a picture to open on instead of a generated
    scene (a reference video's last frame), under the prompt's caption, which is opaque so
    that any caption the picture carries does not show through.
    """
    first = load_image(spec.first_frame, "first_frame") if spec.first_frame else None
    last = load_image(spec.last_frame, "last_frame") if spec.last_frame else None
    # Kling takes no aspect_ratio for image2video: the uploaded picture decides.
    decider = first or last
    aspect = nearest_aspect(*decider.size) if decider else spec.aspect_ratio
    size = output_size(aspect, spec.mode)
    move = move_from_camera_control(spec.camera_control)
    caption, opaque = None, False
    if first is None and opening is not None:
        first, caption, opaque = opening, spec.prompt, True
    if not spec.shots:
        return [
            prepare_scene(spec, size, spec.frame_count, move, first, last, None, caption, opaque)
        ]
    count = len(spec.shots)

    def shot(number: int) -> Scene:
        prompt, seconds = spec.shots[number - 1]
        label = f"shot {number}/{count}"
        return prepare_scene(
            spec,
            size,
            seconds * FPS,
            move,
            first if number == 1 else None,
            None,
            # The shot number is part of the seed: two shots with one prompt still cut to
            # visibly different scenes.
            seed=f"{scene_seed(spec, prompt)}\x1f{label}",
            caption=f"{label}: {prompt}" if prompt.strip() else label,
            opaque=opaque and number == 1,
        )

    return in_parallel(shot, range(1, count + 1))


def in_parallel[T, R](make: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """make(item) for every item, in order, two at a time.

    Drawing a scene is mostly Pillow work that releases the GIL, so several shots' scenes
    (or several images' worlds) are drawn on both cores at once.
    """
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="prepare") as pool:
        return list(pool.map(make, items))


def prepare_scene(
    spec: RenderSpec,
    size: tuple[int, int],
    frames: int,
    move: Move,
    first: Image.Image | None,
    last: Image.Image | None,
    seed: str | None = None,
    caption: str | None = None,
    opaque: bool = False,
) -> Scene:
    """Load or draw the stills and plan the camera for one scene.

    The caption defaults to the prompt over a generated scene and none over an uploaded
    first frame (the picture is the user's own); opaque as in caption_overlay.
    """
    world = world_size(size)
    if first is not None:
        start = extend_image(first, size, world)
    else:
        start = draw_scene(seed if seed is not None else spec.seed_text, world)
    tail = World.from_rgb(extend_image(last, size, world)) if last is not None else None
    if caption is None and first is None:
        caption = spec.prompt
    return Scene(
        size,
        World.from_rgb(start),
        tail,
        caption_overlay(caption, size, opaque) if caption else None,
        CameraPath(move, size, world, frames),
    )


def picture_scene(
    image: Image.Image,
    size: tuple[int, int],
    frames: int,
    move: Move,
    caption: str | None,
    opaque: bool = False,
) -> Scene:
    """A scene whose world is image, framed at size, filmed with move (see caption_overlay)."""
    world = world_size(size)
    return Scene(
        size,
        World.from_rgb(extend_image(image, size, world)),
        None,
        caption_overlay(caption, size, opaque) if caption else None,
        CameraPath(move, size, world, frames),
    )


def caption_overlay(text: str, size: tuple[int, int], opaque: bool = False) -> Overlay | None:
    """text as a caption band along the bottom of a size frame, or None for blank text.

    opaque doubles the band's shade: over footage (a parent clip, a reference video) it hides
    the caption the footage itself may carry, which would otherwise show through the text.
    """
    band = draw_caption(text, size)
    if band is None:
        return None
    if opaque:
        band.putalpha(band.getchannel("A").point(lambda a: min(255, 2 * a)))
    return Overlay.from_rgba(band, (0, size[1] - band.height))


def world_size(size: tuple[int, int]) -> tuple[int, int]:
    """The world canvas for an output size."""
    # Margins are rounded to multiples of 2 so frame 0 sits on whole chroma samples and is
    # copied exactly, not resampled.
    return tuple(n + 4 * round(n * MARGIN / 2) for n in size)  # type: ignore[return-value]


def scene_jobs(scenes: Sequence[Scene], decorate: Decorate | None = None) -> Iterator[FrameJob]:
    """Frame jobs playing scenes one after another (hard cuts), each frame decorated."""
    offset = 0
    for scene in scenes:
        for index in range(scene.frames):
            yield _job(scene.frame, index, offset + index, decorate)
        offset += scene.frames


def spec_soundtrack(spec: RenderSpec) -> array:
    """The synthesised track of spec: a tone per shot (or one for the clip), voices over it."""
    parts = [(prompt, seconds * FPS) for prompt, seconds in spec.shots]
    return soundtrack(parts or [(spec.prompt, spec.frame_count)], spec.voices)


def _job(
    draw: Callable[[int], Planes], index: int, position: int, decorate: Decorate | None
) -> FrameJob:
    def job() -> Planes:
        picture = draw(index)
        if decorate is not None:
            decorate(picture, position)
        return picture

    return job
