"""Effects (kling-kinds.md §7.7): five seconds of a visible transform of the photo(s).

Each scene name picks a camera move and a colour grade (the same name, the same effect), so
every one of Kling's ~200 scenes renders without a table here; new names need no code.
"""

import hashlib
from collections.abc import Iterator, Sequence

from PIL import Image, ImageOps

from .camera import Move
from .encode import FrameJob, write_video
from .planes import Planes
from .render import caption_overlay, picture_scene
from .scene import load_image
from .spec import FPS, RenderError, VideoMeta, nearest_aspect, output_size

EFFECT_SECONDS = 5
# Strong enough to read as an effect rather than a camera drift.
MOVES = (
    Move(roll=8, zoom=-6),
    Move(roll=-8, zoom=-6),
    Move(zoom=-10),
    Move(zoom=8, roll=5),
    Move(pan=8, zoom=-4),
    Move(tilt=-8, zoom=-4),
)
GRADES = ((-30.0, 30.0), (30.0, -24.0), (-26.0, -26.0), (28.0, 28.0))  # U, V shifts at the end


def render_effect(
    scene: str, images: Sequence[str], video_path: str, poster_path: str, mode: str = "std"
) -> VideoMeta:
    """scene applied to one image (input.image) or, side by side, two (input.images)."""
    if not scene.strip():
        raise RenderError("effect_scene is required")
    if len(images) not in (1, 2):
        raise RenderError(f"an effect takes one or two images, got {len(images)}")
    if len(images) == 1:
        picture = load_image(images[0], "input.image")
        size = output_size(nearest_aspect(*picture.size), mode)
    else:
        left, right = (load_image(path, f"input.images[{n}]") for n, path in enumerate(images))
        size = output_size("16:9", mode)
        # Both pictures in one world: the effect's camera moves them together.
        picture = Image.new("RGB", size)
        half = (size[0] // 2, size[1])
        picture.paste(_cover(left, half), (0, 0))
        picture.paste(_cover(right, half), (half[0], 0))
    digest = hashlib.sha256(f"effect\x1f{scene}".encode()).digest()
    move, (u_end, v_end) = MOVES[digest[0] % len(MOVES)], GRADES[digest[1] % len(GRADES)]
    frames = EFFECT_SECONDS * FPS
    stage = picture_scene(picture, size, frames, move, None)
    caption = caption_overlay(scene, size)

    def frame(index: int) -> Planes:
        progress = index / (frames - 1)
        shown = stage.frame(index)
        if progress > 0:
            shown = shown.tinted(u_end * progress, v_end * progress, 1 + 0.15 * progress)
        if caption is not None:
            caption.paint(shown)
        return shown

    def jobs() -> Iterator[FrameJob]:
        for index in range(frames):
            yield lambda index=index: frame(index)

    return write_video(size, jobs(), video_path, poster_path)


def _cover(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    return ImageOps.fit(image, size, Image.Resampling.LANCZOS)
