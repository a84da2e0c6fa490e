"""multi-image2video (kling-kinds.md §7.4): each image in turn, pushed in on, crossfaded."""

from collections.abc import Iterator, Sequence

from .camera import Move
from .encode import FrameJob, write_video
from .planes import Planes
from .render import caption_overlay, in_parallel, picture_scene, spec_soundtrack
from .scene import load_image
from .spec import FPS, RenderError, RenderSpec, VideoMeta, output_size

MAX_IMAGES = 4
CROSSFADE = FPS // 2  # frames: half a second of each change is a dissolve


def render_multi_image(
    images: Sequence[str], spec: RenderSpec, video_path: str, poster_path: str
) -> VideoMeta:
    """1..4 images in list order over spec.duration, at spec's aspect ratio and mode.

    Each image gets an equal share of the clip and a slow push-in (drifting alternately
    left and right); neighbours dissolve into each other over CROSSFADE frames. The prompt
    is the caption.
    """
    spec.validate()
    if not 1 <= len(images) <= MAX_IMAGES:
        raise RenderError(f"image_list must hold 1..{MAX_IMAGES} images, got {len(images)}")
    pictures = in_parallel(
        lambda item: load_image(item[1], f"image_list[{item[0]}]"), enumerate(images)
    )
    size = output_size(spec.aspect_ratio, spec.mode)
    total = spec.frame_count
    bounds = [round(k * total / len(pictures)) for k in range(len(pictures) + 1)]
    spans = [
        (max(0, bounds[k] - CROSSFADE // 2), min(total, bounds[k + 1] + CROSSFADE // 2))
        for k in range(len(pictures))
    ]
    scenes = in_parallel(
        lambda k: picture_scene(
            pictures[k],
            size,
            spans[k][1] - spans[k][0],
            Move(horizontal=1 - 2 * (k % 2), zoom=-4),
            None,
        ),
        range(len(pictures)),
    )
    caption = caption_overlay(spec.prompt, size)

    def frame(index: int) -> Planes:
        showing = [
            (scene, start, end)
            for scene, (start, end) in zip(scenes, spans, strict=True)
            if start <= index < end
        ]
        scene, start, _ = showing[0]
        picture = scene.frame(index - start)
        if len(showing) > 1:
            arriving, arrived, _ = showing[1]
            weight = (index - arrived + 0.5) / (spans[scenes.index(scene)][1] - arrived)
            picture = picture.blend(arriving.frame(index - arrived), _smooth(weight))
        if caption is not None:
            caption.paint(picture)
        return picture

    def jobs() -> Iterator[FrameJob]:
        for index in range(total):
            yield lambda index=index: frame(index)

    audio = spec_soundtrack(spec) if spec.sound else None
    return write_video(size, jobs(), video_path, poster_path, audio)


def _smooth(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3 - 2 * x)
