"""Helpers for the renderer tests: decode what the renderer wrote, make inputs it reads."""

from __future__ import annotations

import math
from array import array
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageChops, ImageDraw, ImageStat

RATE = 48000


def frames_of(path: Path) -> list[Image.Image]:
    """Every video frame of the file as RGB pictures."""
    with av.open(str(path)) as container:
        return [frame.to_image() for frame in container.decode(video=0)]


def sound_of(path: Path) -> array:
    """The file's first audio stream as mono float samples at 48 kHz."""
    samples = array("f")
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                samples.frombytes(bytes(out.planes[0])[: 4 * out.samples])
    for out in resampler.resample(None):
        samples.frombytes(bytes(out.planes[0])[: 4 * out.samples])
    return samples


def audio_streams(path: Path) -> list[av.audio.stream.AudioStream]:
    """The file's audio streams (closed container: read their codec facts only)."""
    with av.open(str(path)) as container:
        return list(container.streams.audio)


def rms(samples: array, start: float = 0.0, end: float | None = None) -> float:
    """Root mean square level of samples between two times in seconds."""
    window = samples[round(start * RATE) : None if end is None else round(end * RATE)]
    if not window:
        return 0.0
    return math.sqrt(sum(x * x for x in window) / len(window))


def crossings(samples: array, start: float, end: float) -> float:
    """Zero crossings per second between two times: twice a steady tone's pitch."""
    window = samples[round(start * RATE) : round(end * RATE)]
    flips = sum(1 for a, b in zip(window, window[1:], strict=False) if (a < 0) != (b < 0))
    return flips / (end - start)


def difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel, 0..255."""
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def mean_colour(image: Image.Image) -> tuple[float, float, float]:
    """The average RGB colour of a picture."""
    return tuple(ImageStat.Stat(image.convert("RGB")).mean)  # type: ignore[return-value]


def upper(image: Image.Image) -> Image.Image:
    """The top three quarters of a frame, clear of the caption band."""
    return image.crop((0, 0, image.width, image.height * 3 // 4))


def photo(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (800, 600)) -> Path:
    """A stand-in upload: a flat colour with a pale disc and a dark bar, so motion shows."""
    image = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(image)
    width, height = size
    draw.ellipse((width * 0.15, height * 0.2, width * 0.45, height * 0.6), fill=(240, 240, 200))
    draw.rectangle((width * 0.6, height * 0.3, width * 0.8, height * 0.7), fill=(20, 20, 20))
    image.save(path)
    return path


# Container format and codec per voice-line kind (kling-kinds.md §7.6: mp3/wav/m4a/aac).
SOUND_FORMATS = {
    "mp3": ("mp3", "libmp3lame"),
    "wav": ("wav", "pcm_s16le"),
    "m4a": ("ipod", "aac"),
    "aac": ("adts", "aac"),
}


def sound_file(
    path: Path, seconds: float, pitch: float = 220.0, level: float = 0.5, rate: int = 44100
) -> Path:
    """A stereo sine tone file of the kind path's suffix names (mp3, wav, m4a, aac, ogg)."""
    kind = path.suffix.lstrip(".")
    # Anything else becomes Ogg Opus, a sound format the renderer must refuse.
    container_format, codec = SOUND_FORMATS.get(kind, ("ogg", "libopus"))
    rate = rate if kind in SOUND_FORMATS else 48000
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate, layout="stereo")
        total = round(seconds * rate)
        for start in range(0, total, 1024):
            count = min(1024, total - start)
            wave = (level * math.sin(math.tau * pitch * (start + i) / rate) for i in range(count))
            frame = av.AudioFrame(format="flt", layout="stereo", samples=count)
            data = array("f", (value for value in wave for _ in range(2))).tobytes()
            frame.planes[0].update(data + bytes(frame.planes[0].buffer_size - len(data)))
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
