"""Sound for the local renderer: synthesised tones and beeps, decoded voice lines, mixing.

A track is mono float32 samples at RATE in an array("f"). Per-sample Python loops would cost
a second per clip, so tracks are built from short computed pieces repeated with C-speed array
operations, and mixed as one-row Pillow "F" images (ImageMath runs the arithmetic in C).
Every step is plain arithmetic on the input, so the same request always sounds, and encodes,
the same.
"""

import hashlib
import math
from array import array
from collections.abc import Sequence

import av
from PIL import Image, ImageMath

from .spec import FPS, RenderError

RATE = 48000
SAMPLES_PER_FRAME = RATE // FPS
# Quiet enough to mix two voices and a tone without clipping, loud enough to hear at once.
TONE_LEVEL = 0.18
BEEP_LEVEL = 0.3
# Periods in samples: a whole number of samples per cycle lets one cycle repeat exactly.
TONE_PERIODS = range(80, 200)  # 600..240 Hz
BEEP_PERIODS = range(30, 60)  # 1600..800 Hz
BEEP_SLOTS = 8  # per second: each voice beeps in its own subset of eighth-second slots
BEEP_SAMPLES = RATE * 80 // 1000
FADE_SAMPLES = RATE * 5 // 1000  # softens every start and stop into an inaudible 5 ms ramp
# What an uploaded voice line may be (kling-kinds.md §7.6): FFmpeg's demuxer names.
VOICE_FORMATS = {"mp3": "mp3", "wav": "wav", "aac": "aac", "mov,mp4,m4a,3gp,3g2,mj2": "m4a"}


def silence(count: int) -> array:
    """count samples of silence."""
    return array("f", bytes(4 * count))


def tone(prompt: str, count: int) -> array:
    """A steady tone pitched from prompt (the same prompt, the same note), faded at both ends."""
    period = _pick(TONE_PERIODS, "tone", prompt)
    # A fundamental with two soft overtones: a hum rather than a test-signal whistle.
    cycle = array(
        "f",
        (
            TONE_LEVEL
            * (
                0.7 * math.sin(math.tau * i / period)
                + 0.2 * math.sin(2 * math.tau * i / period)
                + 0.1 * math.sin(3 * math.tau * i / period)
            )
            for i in range(period)
        ),
    )
    samples = (cycle * (count // period + 1))[:count]
    _fade(samples)
    return samples


def beeps(voice_id: str, count: int) -> array:
    """A beep pattern for one voice: its own pitch and rhythm, repeated every second."""
    period = _pick(BEEP_PERIODS, "beep", voice_id)
    beep = array("f", (BEEP_LEVEL * math.sin(math.tau * i / period) for i in range(BEEP_SAMPLES)))
    _fade(beep)
    bits = hashlib.sha256(f"rhythm\x1f{voice_id}".encode()).digest()[0]
    slots = [slot for slot in range(BEEP_SLOTS) if bits >> slot & 1]
    if len(slots) < 2:
        # Every voice must be heard at least twice a second.
        slots = sorted({*slots, 0, BEEP_SLOTS // 2})
    second = silence(RATE)
    for slot in slots:
        start = slot * RATE // BEEP_SLOTS
        second[start : start + BEEP_SAMPLES] = beep
    return (second * (count // RATE + 1))[:count]


def soundtrack(prompts: Sequence[tuple[str, int]], voices: Sequence[str]) -> array:
    """Tones for each (prompt, frames) part in turn, with every voice's beeps over them all."""
    tones = array("f")
    for prompt, frames in prompts:
        tones.extend(tone(prompt, frames * SAMPLES_PER_FRAME))
    return mix([(tones, 1.0), *((beeps(voice, len(tones)), 1.0) for voice in voices)])


def mix(parts: Sequence[tuple[array, float]], length: int | None = None) -> array:
    """The sum of each track times its gain, padded or cut to length, clipped to [-1, 1]."""
    if length is None:
        length = max(len(samples) for samples, _ in parts)
    if length == 0:
        return array("f")
    images = {f"t{n}": _image(_fit(samples, length)) for n, (samples, _) in enumerate(parts)}
    gains = [gain for _, gain in parts]

    def total(env: dict) -> object:
        result = env["t0"] * gains[0]
        for n in range(1, len(gains)):
            result = result + env[f"t{n}"] * gains[n]
        return env["min"](env["max"](result, -1.0), 1.0)

    return _samples(ImageMath.lambda_eval(total, **images))


def place(samples: array, length: int, offset: int) -> array:
    """samples on a silent track of length, starting at offset (whatever overhangs is cut)."""
    track = silence(length)
    end = min(length, offset + len(samples))
    if end > offset:
        track[offset:end] = samples[: end - offset]
    return track


def loudness(samples: array, frames: int) -> list[float]:
    """Root mean square level of each video frame's share of samples (0 for silence)."""
    squares = ImageMath.lambda_eval(
        lambda env: env["x"] * env["x"],
        x=Image.frombytes(
            "F", (SAMPLES_PER_FRAME, frames), _fit(samples, frames * SAMPLES_PER_FRAME).tobytes()
        ),
    )
    means = squares.resize((1, frames), Image.Resampling.BOX)
    return [math.sqrt(max(0.0, mean)) for mean in means.get_flattened_data()]


def decode_voice(path: str, field: str) -> array:
    """An uploaded voice line (mp3, wav, m4a or aac) as a track, or RenderError naming field."""
    return _decode(path, field, voice=True)


def voice_line_ms(path: str, field: str = "sound_file") -> int:
    """The length in ms of an uploaded voice line as the renderer will hear it.

    For checking sound_end_time and the 2..60 s rule (kling-kinds.md §7.6) against the same
    decoding the lip-sync render uses; RenderError naming field for a bad file.
    """
    return len(decode_voice(path, field)) * 1000 // RATE


def decode_soundtrack(path: str) -> array | None:
    """A video file's first audio stream as a track, or None when it has none."""
    return _decode(path, "video", voice=False)


def _decode(path: str, field: str, voice: bool) -> array | None:
    samples = array("f")
    try:
        with av.open(path) as container:
            if voice and container.format.name not in VOICE_FORMATS:
                raise RenderError(
                    f"{field} must be an mp3, wav, m4a or aac file, got {container.format.name}"
                )
            if not container.streams.audio:
                if voice:
                    raise RenderError(f"{field} has no audio stream")
                return None
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    samples.frombytes(bytes(out.planes[0])[: 4 * out.samples])
            for out in resampler.resample(None):
                samples.frombytes(bytes(out.planes[0])[: 4 * out.samples])
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise RenderError(f"{field} is not a decodable sound file ({path}): {exc}") from exc
    if voice and not samples:
        raise RenderError(f"{field} holds no sound")
    return samples


def _pick(choices: range, salt: str, text: str) -> int:
    """A choice from choices fixed by text: the same text always picks the same one."""
    digest = hashlib.sha256(f"{salt}\x1f{text}".encode()).digest()
    return choices[int.from_bytes(digest[:4], "big") % len(choices)]


def _fade(samples: array) -> None:
    """Ramp the first and last FADE_SAMPLES in and out (in place), so no cut clicks."""
    ramp = min(FADE_SAMPLES, len(samples) // 2)
    for i in range(ramp):
        level = i / ramp
        samples[i] *= level
        samples[-1 - i] *= level


def _fit(samples: array, length: int) -> array:
    """samples cut or padded with silence to exactly length."""
    if len(samples) >= length:
        return samples[:length]
    return samples + silence(length - len(samples))


def _image(samples: array) -> Image.Image:
    return Image.frombytes("F", (len(samples), 1), samples.tobytes())


def _samples(image: Image.Image) -> array:
    samples = array("f")
    samples.frombytes(image.tobytes())
    return samples
