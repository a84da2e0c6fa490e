"""The local renderer's sound, voices and multi-shot clips (kling-kinds.md §7.2)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from tests.renders import (
    audio_streams,
    crossings,
    difference,
    frames_of,
    photo,
    rms,
    sound_file,
    sound_of,
    upper,
)
from videos.rendering import (
    RenderError,
    RenderSpec,
    VideoMeta,
    probe_video,
    render_video,
    voice_line_ms,
)
from videos.rendering.audio import decode_voice

PROMPT = "A lighthouse on a cliff at sunset, waves below"
# Audible: about -25 dBFS or louder. Silent: below -60 dBFS.
AUDIBLE = 0.05
SILENT = 0.001


@dataclass(frozen=True)
class Clip:
    """A rendered clip with what the tests read from it."""

    meta: VideoMeta
    path: Path


@pytest.fixture(scope="module")
def render(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Clip]:
    """Render a spec once per module (short 1:1 std clips unless a test says otherwise)."""
    folder = tmp_path_factory.mktemp("sound")
    cache: dict[str, Clip] = {}

    def _render(**fields: object) -> Clip:
        spec = RenderSpec(**{"prompt": PROMPT, "duration": 3, "aspect_ratio": "1:1", **fields})
        key = repr(spec)
        if key not in cache:
            name = hashlib.sha256(key.encode()).hexdigest()[:16]
            video = folder / f"{name}.mp4"
            cache[key] = Clip(render_video(spec, str(video), str(folder / f"{name}.jpg")), video)
        return cache[key]

    return _render


def test_sound_off_renders_no_audio_stream_at_all(render: Callable[..., Clip]) -> None:
    clip = render()
    assert audio_streams(clip.path) == []
    assert not clip.meta.has_audio
    assert clip.meta.audio_duration == 0.0


def test_sound_on_adds_an_audible_aac_mono_track_as_long_as_the_video(
    render: Callable[..., Clip],
) -> None:
    clip = render(sound=True)
    (stream,) = audio_streams(clip.path)
    assert stream.codec_context.name == "aac"
    assert stream.codec_context.channels == 1
    assert stream.codec_context.sample_rate == 48000
    assert clip.meta.has_audio
    assert clip.meta.audio_duration == pytest.approx(3.0, abs=0.05)
    assert clip.meta.duration == pytest.approx(3.0, abs=0.05)
    samples = sound_of(clip.path)
    assert len(samples) == pytest.approx(3 * 48000, abs=1024)
    # Audible from start to end, not just somewhere.
    for second in range(3):
        assert rms(samples, second + 0.1, second + 0.9) > AUDIBLE


def test_the_tone_is_pitched_from_the_prompt(render: Callable[..., Clip]) -> None:
    one = sound_of(render(sound=True).path)
    again = sound_of(render(sound=True, prompt=PROMPT, mode="std", cfg_scale=0.5).path)
    other = sound_of(render(sound=True, prompt="A quiet village under the stars").path)
    pitch, pitch_again, other_pitch = (crossings(s, 0.5, 2.5) for s in (one, again, other))
    assert pitch_again == pitch
    assert abs(other_pitch - pitch) > 0.05 * pitch


def test_sound_renders_byte_identical_files(tmp_path: Path) -> None:
    spec = RenderSpec(prompt=PROMPT, duration=3, aspect_ratio="1:1", sound=True, voices=["v1"])
    first = render_video(spec, str(tmp_path / "a.mp4"), str(tmp_path / "a.jpg"))
    second = render_video(spec, str(tmp_path / "b.mp4"), str(tmp_path / "b.jpg"))
    assert first.has_audio
    assert first.sha256 == second.sha256


def _eighths(samples: object) -> list[float]:
    """Loudness of each eighth of the second from 1 s to 2 s."""
    return [rms(samples, 1 + k / 8, 1 + (k + 1) / 8) for k in range(8)]  # type: ignore[arg-type]


def test_a_voice_adds_its_own_beep_pattern(render: Callable[..., Clip]) -> None:
    plain = sound_of(render(sound=True).path)
    voiced = sound_of(render(sound=True, voices=["voice-amy"]).path)
    other = sound_of(render(sound=True, voices=["voice-bob"]).path)
    # Without a voice the tone is steady; a voice beeps in some eighths of each second only.
    steady = _eighths(plain)
    assert max(steady) < 1.2 * min(steady)
    beeping = _eighths(voiced)
    assert max(beeping) > 1.5 * min(beeping)
    assert rms(voiced) > rms(plain)
    # Another voice beeps to another pattern or pitch.
    assert _eighths(other) != pytest.approx(beeping, rel=0.05)
    # The pattern repeats every second.
    assert _eighths(voiced) == pytest.approx(
        [rms(voiced, 2 + k / 8, 2 + (k + 1) / 8) for k in range(8)], rel=0.05
    )


def test_two_voices_beep_over_one_another(render: Callable[..., Clip]) -> None:
    one = sound_of(render(sound=True, voices=["voice-amy"]).path)
    two = sound_of(render(sound=True, voices=["voice-amy", "voice-bob"]).path)
    assert rms(two) > rms(one)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"voices": ["v1"]}, "voices need sound on"),
        ({"sound": True, "voices": ["a", "b", "c"]}, "at most 2"),
        ({"sound": "on"}, "sound must be a bool"),
        ({"shots": [("a", 1), ("b", 1)]}, "durations sum to 2, duration is 3"),
        ({"shots": [("a", 3), ("b", 0)]}, "at least 1 second"),
        ({"shots": [("a", 1.5), ("b", 1.5)]}, "whole seconds"),
        ({"shots": [(str(n), 1) for n in range(7)], "duration": 7}, "at most 6"),
        ({"shots": [("a", 3)], "last_frame": "/tmp/tail.png"}, "last_frame"),
    ],
)
def test_it_refuses_sound_and_shots_it_cannot_render(
    tmp_path: Path, fields: dict, message: str
) -> None:
    spec = RenderSpec(**{"prompt": PROMPT, "duration": 3, **fields})
    with pytest.raises(RenderError, match=message):
        render_video(spec, str(tmp_path / "out.mp4"), str(tmp_path / "out.jpg"))
    assert not list(tmp_path.glob("out*"))


SHOTS = [("A harbour at dawn", 1), ("A desert road at noon", 1), ("A forest at night", 1)]


def test_multi_shot_cuts_exactly_at_each_shot_boundary(render: Callable[..., Clip]) -> None:
    clip = render(shots=SHOTS, prompt="")
    frames = frames_of(clip.path)
    assert len(frames) == 3 * 24
    assert clip.meta.duration == pytest.approx(3.0, abs=0.05)
    steps = [difference(a, b) for a, b in zip(frames, frames[1:], strict=False)]
    # steps[i] compares frame i with frame i + 1: the cuts come before frames 24 and 48.
    cuts = {23, 47}
    for index, step in enumerate(steps):
        if index in cuts:
            assert step > 15, f"no cut before frame {index + 1}"
        else:
            assert step < 4, f"a jump before frame {index + 1}"


def test_shots_with_one_prompt_still_cut_to_different_scenes(render: Callable[..., Clip]) -> None:
    frames = frames_of(render(shots=[("A meadow", 1), ("A meadow", 2)], prompt="").path)
    assert difference(frames[23], frames[24]) > 15


def test_each_shot_has_its_own_tone(render: Callable[..., Clip]) -> None:
    samples = sound_of(render(shots=SHOTS, prompt="", sound=True).path)
    pitches = [crossings(samples, second + 0.1, second + 0.9) for second in range(3)]
    assert len({round(p, -1) for p in pitches}) == 3
    for second in range(3):
        assert rms(samples, second + 0.1, second + 0.9) > AUDIBLE


def test_a_first_frame_opens_the_first_shot(
    render: Callable[..., Clip], tmp_path_factory: pytest.TempPathFactory
) -> None:
    picture = photo(tmp_path_factory.mktemp("shots") / "first.png", (200, 40, 40), (720, 720))
    frames = frames_of(render(shots=SHOTS, prompt="", first_frame=str(picture)).path)
    with Image.open(picture) as image:
        assert difference(upper(frames[0]), upper(image.convert("RGB"))) < 3
    assert difference(upper(frames[24]), upper(frames[23])) > 15


@pytest.mark.parametrize("kind", ["mp3", "wav", "m4a", "aac"])
def test_voice_lines_decode_to_48khz_mono_from_every_accepted_format(
    tmp_path: Path, kind: str
) -> None:
    path = sound_file(tmp_path / f"line.{kind}", 2.0, rate=44100)
    samples = decode_voice(str(path), "sound_file")
    # ADTS AAC keeps its encoder's priming samples: allow a few milliseconds more.
    assert len(samples) == pytest.approx(2 * 48000, abs=48000 * 0.05)
    # FFmpeg's standard downmix: mono = (left + right) / sqrt(2), so a 0.5 sine on both
    # channels becomes a 0.71 sine (RMS 0.5).
    assert rms(samples, 0.2, 1.8) == pytest.approx(0.5, rel=0.1)


def test_a_voice_lines_length_is_measured_as_the_render_hears_it(tmp_path: Path) -> None:
    assert voice_line_ms(str(sound_file(tmp_path / "line.wav", 2.5))) == 2500
    assert voice_line_ms(str(sound_file(tmp_path / "line.mp3", 4.0))) == pytest.approx(4000, abs=30)


def test_a_voice_line_in_another_format_is_refused_by_name(tmp_path: Path) -> None:
    path = sound_file(tmp_path / "line.ogg", 2.0)
    with pytest.raises(RenderError, match="sound_file must be an mp3, wav, m4a or aac file"):
        decode_voice(str(path), "sound_file")


def test_a_voice_line_that_is_not_sound_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "line.mp3"
    path.write_text("not a sound at all")
    with pytest.raises(RenderError, match="sound_file"):
        decode_voice(str(path), "sound_file")


def test_probe_reports_whether_a_file_has_sound_and_how_long(
    render: Callable[..., Clip],
) -> None:
    with_sound = probe_video(str(render(sound=True).path))
    assert with_sound.has_audio
    assert with_sound.audio_duration == pytest.approx(3.0, abs=0.05)
    silent = probe_video(str(render().path))
    assert (silent.has_audio, silent.audio_duration) == (False, 0.0)
