"""render_video: draw the world once, move a camera over it, encode H.264."""

import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction

import av
from av.video.reformatter import ColorPrimaries, ColorTrc
from PIL import Image

from .camera import CameraPath, move_from_camera_control
from .planes import COLOR_RANGE, COLORSPACE, Planes
from .probe import POSTER_SECONDS, probe_video, save_jpeg
from .scene import draw_caption, draw_scene, extend_image, load_image
from .spec import FPS, RenderError, RenderSpec, VideoMeta, nearest_aspect, output_size

# The world canvas exceeds the output by this fraction of it on every side: room for the
# camera to move, zoom out and turn without showing an edge.
MARGIN = 0.25
# Pillow releases the GIL while warping, so two workers keep both cores busy while the main
# thread feeds x264; the window bounds how many finished frames wait in memory.
WORKERS = 2
WINDOW = 6
# x264 output depends on its thread count; a fixed count keeps renders byte-reproducible
# across machines. veryfast is the quickest preset that keeps CABAC and B-frames (small
# files, clean gradients). Macroblock-tree rate control is off because with it, identical
# frames encoded to different bytes depending on what the process had decoded earlier
# (heap contents reaching the lookahead, seen with 720-line sizes); without it renders are
# reproducible. A keyframe every second keeps seeking to a comment's timecode snappy.
X264_THREADS = 2
X264_OPTIONS = {"preset": "veryfast", "crf": "23", "x264-params": "mbtree=0"}
GOP = FPS


@dataclass(frozen=True)
class Shot:
    """The stills and camera for one clip, prepared before any frame is drawn."""

    size: tuple[int, int]
    start: Planes
    tail: Planes | None
    caption: tuple[Planes, Image.Image, tuple[int, int]] | None
    camera: CameraPath

    def frame(self, index: int) -> Planes:
        """The finished picture of frame index."""
        weight = self._tail_weight(index)
        if weight >= 1:
            assert self.tail is not None
            return self.tail.warp(self.camera.tail_view(index), self.size)
        picture = self.start.warp(self.camera.view(index), self.size)
        if weight > 0:
            assert self.tail is not None
            arriving = self.tail.warp(self.camera.tail_view(index), self.size)
            picture = picture.blend(arriving, weight)
        if self.caption is not None:
            top, mask, xy = self.caption
            # The caption belongs to the generated scene: it fades out with it.
            picture.overlay(top, mask, xy, opacity=1 - weight)
        return picture

    def _tail_weight(self, index: int) -> float:
        """How much of the last-frame image shows: none early, all of it for the final frames."""
        if self.tail is None:
            return 0.0
        t = index / max(1, self.camera.frames - 1)
        x = min(1.0, max(0.0, (t - 0.15) / 0.7))
        return x * x * (3 - 2 * x)


def render_video(spec: RenderSpec, video_path: str, poster_path: str) -> VideoMeta:
    """Write an H.264 MP4 (yuv420p, moov first) to video_path and a JPEG poster to poster_path."""
    spec.validate()
    shot = prepare_shot(spec)
    poster_index = min(round(POSTER_SECONDS * FPS), spec.frame_count - 1)
    poster = _encode(shot, spec.frame_count, video_path, poster_index)
    save_jpeg(poster.to_rgb(), poster_path)
    return probe_video(video_path)


def prepare_shot(spec: RenderSpec) -> Shot:
    """Load or draw the stills and plan the camera for spec."""
    first = load_image(spec.first_frame, "first_frame") if spec.first_frame else None
    last = load_image(spec.last_frame, "last_frame") if spec.last_frame else None
    # Kling takes no aspect_ratio for image2video: the uploaded picture decides.
    decider = first or last
    aspect = nearest_aspect(*decider.size) if decider else spec.aspect_ratio
    size = output_size(aspect, spec.mode)
    world = _world_size(size)

    if first is not None:
        start = extend_image(first, size, world)
    else:
        start = draw_scene(spec.seed_text, world)
    tail = Planes.from_rgb(extend_image(last, size, world)) if last is not None else None
    caption = None
    if first is None and (band := draw_caption(spec.prompt, size)) is not None:
        xy = (0, size[1] - band.height)
        caption = (Planes.from_rgb(band.convert("RGB")), band.getchannel("A"), xy)
    camera = CameraPath(
        move_from_camera_control(spec.camera_control), size, world, spec.frame_count
    )
    return Shot(size, Planes.from_rgb(start), tail, caption, camera)


def _world_size(size: tuple[int, int]) -> tuple[int, int]:
    # Margins are rounded to multiples of 2 so frame 0 sits on whole chroma samples and is
    # copied exactly, not resampled.
    return tuple(n + 4 * round(n * MARGIN / 2) for n in size)  # type: ignore[return-value]


def _encode(shot: Shot, frames: int, video_path: str, poster_index: int) -> Planes:
    """Encode every frame of shot into video_path; return the poster frame's picture."""
    os.makedirs(os.path.dirname(os.path.abspath(video_path)), exist_ok=True)
    partial = f"{video_path}.part"
    poster: Planes | None = None
    try:
        with av.open(partial, "w", format="mp4", options={"movflags": "+faststart"}) as container:
            stream = container.add_stream("libx264", rate=FPS, options=X264_OPTIONS)
            stream.width, stream.height = shot.size
            stream.pix_fmt = "yuv420p"
            stream.time_base = Fraction(1, FPS)
            codec = stream.codec_context
            codec.thread_count = X264_THREADS
            codec.gop_size = GOP
            codec.colorspace = COLORSPACE.value
            codec.color_range = COLOR_RANGE.value
            codec.color_primaries = ColorPrimaries.BT709.value
            codec.color_trc = ColorTrc.BT709.value
            for index, picture in enumerate(_frames(shot, frames)):
                if index == poster_index:
                    poster = picture
                frame = picture.to_frame()
                frame.pts = index
                frame.time_base = Fraction(1, FPS)
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        os.replace(partial, video_path)
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise
    if poster is None:
        raise RenderError("no frames were rendered")
    return poster


def _frames(shot: Shot, frames: int) -> Iterator[Planes]:
    """Frames in order, drawn ahead on worker threads."""
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="render") as pool:
        pending: deque[Future[Planes]] = deque()
        for index in range(frames):
            pending.append(pool.submit(shot.frame, index))
            if len(pending) >= WINDOW:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
