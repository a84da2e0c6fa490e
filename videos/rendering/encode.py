"""Frames and a soundtrack in, a faststart MP4 (H.264 + AAC) and a JPEG poster out."""

import os
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from fractions import Fraction

import av
from av.video.frame import PictureType
from av.video.reformatter import ColorPrimaries, ColorTrc

from .audio import RATE, SAMPLES_PER_FRAME, silence
from .planes import COLOR_RANGE, COLORSPACE, Planes
from .probe import POSTER_SECONDS, probe_video, save_jpeg
from .spec import FPS, RenderError, VideoMeta

# A frame job makes one output picture: a Planes drawn by the renderer, or a VideoFrame
# decoded from an input video and passed through unchanged.
Picture = Planes | av.VideoFrame
FrameJob = Callable[[], Picture]

# Pillow releases the GIL while warping, so two workers keep both cores busy while the main
# thread feeds x264; the window bounds how many finished frames wait in memory.
WORKERS = 2
WINDOW = 6
# x264 output depends on its thread count; a fixed count keeps renders byte-reproducible
# across machines. superfast is the quickest preset that keeps CABAC, B-frames and the
# deblocking filter (small files, clean gradients); against veryfast it spends about 30%
# less time for files about 10% larger at the same quality (measured in bench/render_speed.py's
# notes). Macroblock-tree rate control is off because with it, identical frames encoded to
# different bytes depending on what the process had decoded earlier (heap contents reaching
# the lookahead, seen with 720-line sizes); without it renders are reproducible. A keyframe
# every second keeps seeking to a comment's timecode snappy.
X264_THREADS = 2
X264_OPTIONS = {"preset": "superfast", "crf": "23", "x264-params": "mbtree=0:b-adapt=0"}
GOP = FPS
# Mono speech and synthesised tones: 96 kbit/s AAC-LC is transparent for both.
AAC_BIT_RATE = 96_000
POSTER_INDEX = round(POSTER_SECONDS * FPS)


def write_video(
    size: tuple[int, int],
    jobs: Iterable[FrameJob],
    video_path: str,
    poster_path: str,
    audio: array | None = None,
) -> VideoMeta:
    """Encode every job's picture at FPS (and audio, if any, as AAC mono) into video_path.

    audio is cut or padded with silence to the video's length; None writes no audio stream.
    The poster is the frame one second in (or the last, for shorter clips).
    """
    poster = _encode(size, jobs, video_path, audio)
    # Every frame carries its colour tags (ours are BT.709), which to_image honours.
    save_jpeg(poster.to_image(), poster_path)
    return probe_video(video_path)


def _encode(
    size: tuple[int, int], jobs: Iterable[FrameJob], video_path: str, audio: array | None
) -> av.VideoFrame:
    os.makedirs(os.path.dirname(os.path.abspath(video_path)), exist_ok=True)
    partial = f"{video_path}.part"
    poster: av.VideoFrame | None = None
    try:
        with av.open(partial, "w", format="mp4", options={"movflags": "+faststart"}) as container:
            video = _video_stream(container, size)
            sound = _audio_stream(container) if audio is not None else None
            count = 0
            for count, frame in enumerate(_frames(jobs), 1):
                if count - 1 <= POSTER_INDEX:
                    poster = frame
                frame.pts = count - 1
                frame.time_base = Fraction(1, FPS)
                container.mux(video.encode(frame))
                if sound is not None:
                    # Interleaved one video frame's worth at a time, as a player reads them.
                    container.mux(_encode_audio(sound, audio, count - 1))
            container.mux(video.encode(None))
            if sound is not None:
                container.mux(sound.encode(None))
        if poster is None:
            raise RenderError("no frames were rendered")
        os.replace(partial, video_path)
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise
    return poster


def _video_stream(
    container: av.container.OutputContainer, size: tuple[int, int]
) -> av.video.stream.VideoStream:
    stream = container.add_stream("libx264", rate=FPS, options=X264_OPTIONS)
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    stream.time_base = Fraction(1, FPS)
    codec = stream.codec_context
    codec.thread_count = X264_THREADS
    codec.gop_size = GOP
    codec.colorspace = COLORSPACE.value
    codec.color_range = COLOR_RANGE.value
    codec.color_primaries = ColorPrimaries.BT709.value
    codec.color_trc = ColorTrc.BT709.value
    return stream


def _audio_stream(container: av.container.OutputContainer) -> av.audio.stream.AudioStream:
    stream = container.add_stream("aac", rate=RATE, layout="mono")
    stream.bit_rate = AAC_BIT_RATE
    stream.time_base = Fraction(1, RATE)
    return stream


def _encode_audio(stream: av.audio.stream.AudioStream, audio: array, index: int) -> list[av.Packet]:
    """Encode the samples under video frame index (silence past the end of audio)."""
    start = index * SAMPLES_PER_FRAME
    chunk = audio[start : start + SAMPLES_PER_FRAME]
    if len(chunk) < SAMPLES_PER_FRAME:
        chunk += silence(SAMPLES_PER_FRAME - len(chunk))
    frame = av.AudioFrame(format="flt", layout="mono", samples=SAMPLES_PER_FRAME)
    frame.planes[0].update(chunk.tobytes())
    frame.sample_rate = RATE
    frame.pts = start
    frame.time_base = Fraction(1, RATE)
    return stream.encode(frame)


def _frames(jobs: Iterable[FrameJob]) -> Iterator[av.VideoFrame]:
    """Encoder-ready frames in order, made ahead on worker threads."""
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="render") as pool:
        pending: deque[Future[av.VideoFrame]] = deque()
        for job in jobs:
            pending.append(pool.submit(_run, job))
            if len(pending) >= WINDOW:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _run(job: FrameJob) -> av.VideoFrame:
    picture = job()
    if isinstance(picture, Planes):
        return picture.to_frame()
    # A decoded frame carries its source's picture type, which x264 would obey as a forced
    # I/P/B decision: let the encoder choose its own.
    picture.pict_type = PictureType.NONE
    return picture
