"""The local renderer's other kinds: extend, multi-image, omni, lip-sync, effects (§7.3-7.7)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.renders import (
    audio_streams,
    difference,
    frames_of,
    mean_colour,
    photo,
    rms,
    sound_file,
    sound_of,
    upper,
)
from videos.rendering import (
    EXTEND_SECONDS,
    Reference,
    ReferenceVideo,
    RenderError,
    RenderSpec,
    identify_faces,
    render_effect,
    render_extension,
    render_lip_sync,
    render_multi_image,
    render_omni,
    render_video,
)
from videos.rendering.lip_sync import face_box, mouth_geometry

AUDIBLE = 0.05
SILENT = 0.001
RED, GREEN, BLUE = (200, 30, 30), (30, 180, 40), (30, 40, 200)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kinds")


@pytest.fixture(scope="module")
def parent(folder: Path) -> Path:
    """A 3 s 1:1 clip with sound: what extend, lip-sync and omni start from."""
    video = folder / "parent.mp4"
    spec = RenderSpec(prompt="A lighthouse at dusk", duration=3, aspect_ratio="1:1", sound=True)
    render_video(spec, str(video), str(folder / "parent.jpg"))
    return video


@pytest.fixture(scope="module")
def silent_parent(folder: Path) -> Path:
    """A 3 s 1:1 clip without sound."""
    video = folder / "silent.mp4"
    spec = RenderSpec(prompt="A windmill in a field", duration=3, aspect_ratio="1:1")
    render_video(spec, str(video), str(folder / "silent.jpg"))
    return video


@pytest.fixture(scope="module")
def pictures(folder: Path) -> dict[str, Path]:
    return {
        "red": photo(folder / "red.png", RED),
        "green": photo(folder / "green.jpg", GREEN),
        "blue": photo(folder / "blue.png", BLUE),
    }


def nearest(colour: tuple[float, float, float]) -> str:
    """Which of the test pictures' colours a frame's mean colour is closest to."""
    named = {"red": RED, "green": GREEN, "blue": BLUE}
    return min(
        named, key=lambda n: sum((a - b) ** 2 for a, b in zip(named[n], colour, strict=True))
    )


# ---- video-extend ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def extension(folder: Path, parent: Path) -> tuple[Path, object]:
    video = folder / "extended.mp4"
    meta = render_extension(
        str(parent), RenderSpec(prompt="the light turns"), str(video), str(folder / "ext.jpg")
    )
    return video, meta


def test_an_extension_starts_with_the_parents_frames(
    parent: Path, extension: tuple[Path, object]
) -> None:
    original, extended = frames_of(parent), frames_of(extension[0])
    assert len(extended) == len(original) + EXTEND_SECONDS * 24
    for index, frame in enumerate(original):
        assert difference(extended[index], frame) < 2, f"frame {index} is not the parent's"


def test_an_extension_continues_from_the_parents_last_frame(
    parent: Path, extension: tuple[Path, object]
) -> None:
    original, extended = frames_of(parent), frames_of(extension[0])
    joint = len(original)
    # The first new frame is the parent's last picture (under the new caption).
    assert difference(upper(extended[joint]), upper(original[-1])) < 2
    # Then the camera pushes in: the picture keeps changing, without a jump.
    assert difference(upper(extended[-1]), upper(original[-1])) > 3
    steps = [
        difference(a, b) for a, b in zip(extended[joint:], extended[joint + 1 :], strict=False)
    ]
    assert max(steps) < 4


def test_an_extension_keeps_the_parents_sound_then_falls_silent(
    parent: Path, extension: tuple[Path, object]
) -> None:
    video, meta = extension
    assert meta.duration == pytest.approx(3 + EXTEND_SECONDS, abs=0.05)  # type: ignore[attr-defined]
    assert meta.audio_duration == pytest.approx(3 + EXTEND_SECONDS, abs=0.05)  # type: ignore[attr-defined]
    before, after = sound_of(parent), sound_of(video)
    assert rms(after, 0.1, 2.9) == pytest.approx(rms(before, 0.1, 2.9), rel=0.1)
    assert rms(after, 3.2, 3 + EXTEND_SECONDS) < SILENT


def test_an_extension_with_sound_carries_a_tone_in_its_new_part(
    folder: Path, silent_parent: Path
) -> None:
    video = folder / "extended-sound.mp4"
    render_extension(
        str(silent_parent), RenderSpec(prompt="wind", sound=True), str(video), str(folder / "x.jpg")
    )
    samples = sound_of(video)
    assert rms(samples, 0.1, 2.9) < SILENT
    assert rms(samples, 3.2, 7.8) > AUDIBLE


def test_extending_a_silent_parent_without_sound_writes_no_audio(
    folder: Path, silent_parent: Path
) -> None:
    video = folder / "extended-silent.mp4"
    meta = render_extension(
        str(silent_parent), RenderSpec(prompt=""), str(video), str(folder / "y.jpg")
    )
    assert audio_streams(video) == []
    assert not meta.has_audio
    assert meta.duration == pytest.approx(3 + EXTEND_SECONDS, abs=0.05)


def test_an_extension_of_something_that_is_not_a_video_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "parent.mp4"
    bogus.write_bytes(b"\x00" * 500)
    with pytest.raises(RenderError, match="parent video"):
        render_extension(
            str(bogus), RenderSpec(prompt=""), str(tmp_path / "o.mp4"), str(tmp_path / "o.jpg")
        )
    assert not (tmp_path / "o.mp4").exists()


# ---- multi-image2video ----------------------------------------------------------------------


def test_multi_image_shows_each_image_in_turn(folder: Path, pictures: dict[str, Path]) -> None:
    video = folder / "multi.mp4"
    order = ["red", "green", "blue"]
    meta = render_multi_image(
        [str(pictures[name]) for name in order],
        RenderSpec(prompt="three photos", duration=5, aspect_ratio="16:9"),
        str(video),
        str(folder / "multi.jpg"),
    )
    assert meta.duration == pytest.approx(5.0, abs=0.05)
    assert (meta.width, meta.height) == (1280, 720)
    frames = frames_of(video)
    assert len(frames) == 120
    # The middle of each third shows that image; the camera pushes in within it.
    shown = [nearest(mean_colour(upper(frames[t]))) for t in (20, 60, 100)]
    assert shown == order
    assert difference(upper(frames[2]), upper(frames[30])) > 2
    # Changes dissolve: no frame-to-frame jump anywhere.
    steps = [difference(a, b) for a, b in zip(frames, frames[1:], strict=False)]
    assert max(steps) < 12


def test_multi_image_refuses_more_than_four_images(
    tmp_path: Path, pictures: dict[str, Path]
) -> None:
    images = [str(pictures["red"])] * 5
    with pytest.raises(RenderError, match="image_list"):
        render_multi_image(
            images, RenderSpec(prompt="x"), str(tmp_path / "o.mp4"), str(tmp_path / "o.jpg")
        )


# ---- omni-video -----------------------------------------------------------------------------


def test_omni_references_show_as_tiles_and_frames_crossfade(
    folder: Path, pictures: dict[str, Path]
) -> None:
    video = folder / "omni.mp4"
    spec = RenderSpec(
        prompt="<<<image_3>>> walks in",
        duration=3,
        first_frame=str(pictures["red"]),
        last_frame=str(pictures["green"]),
    )
    references = [Reference("image_3", str(pictures["blue"])), Reference("element_1")]
    render_omni(spec, str(video), str(folder / "omni.jpg"), references=references)
    frames = frames_of(video)
    first, last = frames[0], frames[-1]
    assert nearest(mean_colour(first.crop((300, 300, 900, 700)))) == "red"
    assert nearest(mean_colour(last.crop((300, 300, 900, 700)))) == "green"
    # The tile row along the top: the blue picture first, then a grey element tile. Their top
    # strips hold plain colour (the test photo's shapes and the label are lower down).
    side = round(720 * 0.2)
    gap = round(720 * 0.02)
    strip = (8, 8, side - 8, side // 8)
    tile = first.crop((gap + strip[0], gap + strip[1], gap + strip[2], gap + strip[3]))
    assert nearest(mean_colour(tile)) == "blue"
    x = 2 * gap + side
    element = mean_colour(first.crop((x + strip[0], gap + strip[1], x + strip[2], gap + strip[3])))
    assert max(element) - min(element) < 40  # grey, not a colour


def test_omni_base_video_is_re_encoded_at_its_length_tinted_with_its_sound(
    folder: Path, parent: Path
) -> None:
    video = folder / "base.mp4"
    meta = render_omni(
        RenderSpec(prompt="make it moody", mode="std"),
        str(video),
        str(folder / "base.jpg"),
        video=ReferenceVideo(str(parent), "base", keep_original_sound=True),
    )
    source, edited = frames_of(parent), frames_of(video)
    assert len(edited) == len(source)
    assert (meta.width, meta.height) == (720, 720)
    for index in (0, 36, 71):
        assert 4 < difference(upper(edited[index]), upper(source[index])) < 40
    assert rms(sound_of(video), 0.1, 2.9) == pytest.approx(rms(sound_of(parent), 0.1, 2.9), rel=0.1)


def test_omni_base_video_drops_its_sound_unless_kept(folder: Path, parent: Path) -> None:
    video = folder / "base-mute.mp4"
    meta = render_omni(
        RenderSpec(prompt="make it moody"),
        str(video),
        str(folder / "base-mute.jpg"),
        video=ReferenceVideo(str(parent), "base", keep_original_sound=False),
    )
    assert audio_streams(video) == []
    assert not meta.has_audio


def test_omni_feature_video_continues_from_its_last_frame(folder: Path, parent: Path) -> None:
    video = folder / "feature.mp4"
    meta = render_omni(
        RenderSpec(prompt="what happens next", duration=5, aspect_ratio="1:1"),
        str(video),
        str(folder / "feature.jpg"),
        video=ReferenceVideo(str(parent), "feature"),
    )
    assert meta.duration == pytest.approx(5.0, abs=0.05)
    assert not meta.has_audio
    frames = frames_of(video)
    assert difference(upper(frames[0]), upper(frames_of(parent)[-1])) < 2
    assert difference(upper(frames[-1]), upper(frames[0])) > 3


def test_omni_feature_video_with_shots_opens_the_first_shot_on_its_last_frame(
    folder: Path, parent: Path
) -> None:
    video = folder / "feature-shots.mp4"
    spec = RenderSpec(prompt="", duration=3, aspect_ratio="1:1", shots=[("after", 1), ("later", 2)])
    render_omni(
        spec, str(video), str(folder / "fs.jpg"), video=ReferenceVideo(str(parent), "feature")
    )
    frames = frames_of(video)
    assert len(frames) == 72
    assert difference(upper(frames[0]), upper(frames_of(parent)[-1])) < 2
    assert difference(frames[23], frames[24]) > 15


def test_omni_refuses_sound_with_a_video(tmp_path: Path, parent: Path) -> None:
    with pytest.raises(RenderError, match="sound must be off"):
        render_omni(
            RenderSpec(prompt="x", sound=True),
            str(tmp_path / "o.mp4"),
            str(tmp_path / "o.jpg"),
            video=ReferenceVideo(str(parent), "base"),
        )


# ---- identify-face and lip-sync ---------------------------------------------------------------


def test_identify_faces_reports_one_face_over_the_whole_clip(parent: Path) -> None:
    (face,) = identify_faces(str(parent))
    assert face.face_id == "0"
    assert (face.start_time, face.end_time) == (0, 3000)
    with Image.open(io.BytesIO(face.face_image)) as image:
        assert image.format == "JPEG"
        left, top, right, bottom = face_box((720, 720))
        assert image.size == (right - left, bottom - top)
        # A crop of the clip's frame one second in, at the face box.
        expected = frames_of(parent)[24].crop((left, top, right, bottom))
        assert difference(image.convert("RGB"), expected) < 4


@pytest.fixture(scope="module")
def voice_line(folder: Path) -> Path:
    """A 3 s voice line: a loud steady tone (what matters is when it is heard)."""
    return sound_file(folder / "line.m4a", 3.0, pitch=330.0, level=0.4)


def lip_sync(folder: Path, video: Path, voice: Path, name: str, **fields: object) -> Path:
    out = folder / f"{name}.mp4"
    arguments = {"sound_start_ms": 500, "sound_end_ms": 2500, "insert_ms": 500, **fields}
    render_lip_sync(str(video), str(voice), str(out), str(folder / f"{name}.jpg"), **arguments)  # type: ignore[arg-type]
    return out


def test_lip_sync_mixes_the_cropped_line_in_at_the_insert_time(
    folder: Path, silent_parent: Path, voice_line: Path
) -> None:
    video = lip_sync(folder, silent_parent, voice_line, "synced", insert_ms=800)
    samples = sound_of(video)
    assert len(frames_of(video)) == 72
    assert rms(samples, 0.0, 0.75) < SILENT  # the clip had no sound: silence before
    assert rms(samples, 0.85, 2.75) > AUDIBLE  # 2000 ms of the line from 800 ms on
    assert rms(samples, 2.85, 3.0) < SILENT


def test_lip_sync_keeps_the_original_sound_at_its_volume(
    folder: Path, parent: Path, voice_line: Path
) -> None:
    original = rms(sound_of(parent), 0.05, 0.45)
    kept = sound_of(lip_sync(folder, parent, voice_line, "kept", original_audio_volume=1.0))
    halved = sound_of(lip_sync(folder, parent, voice_line, "halved", original_audio_volume=0.5))
    muted = sound_of(lip_sync(folder, parent, voice_line, "muted", original_audio_volume=0.0))
    assert rms(kept, 0.05, 0.45) == pytest.approx(original, rel=0.1)
    assert rms(halved, 0.05, 0.45) == pytest.approx(original / 2, rel=0.1)
    assert rms(muted, 0.05, 0.45) < SILENT
    assert rms(muted, 0.6, 2.4) > AUDIBLE


def test_lip_sync_volume_scales_the_line(
    folder: Path, silent_parent: Path, voice_line: Path
) -> None:
    loud = sound_of(lip_sync(folder, silent_parent, voice_line, "loud", sound_volume=1.0))
    soft = sound_of(lip_sync(folder, silent_parent, voice_line, "soft", sound_volume=0.25))
    assert rms(soft, 0.6, 2.4) == pytest.approx(rms(loud, 0.6, 2.4) / 4, rel=0.1)


def test_the_mouth_opens_while_the_line_plays(
    folder: Path, silent_parent: Path, voice_line: Path
) -> None:
    frames = frames_of(lip_sync(folder, silent_parent, voice_line, "synced", insert_ms=800))
    mouth = mouth_geometry((720, 720))
    box = (
        mouth.x - mouth.width // 2,
        mouth.y - mouth.open // 2,
        mouth.x + mouth.width // 2,
        mouth.y + mouth.open // 2,
    )
    quiet, talking, quiet_again = frames[6].crop(box), frames[40].crop(box), frames[70].crop(box)
    assert difference(quiet, quiet_again) < 3
    assert difference(quiet, talking) > 30


def test_lip_sync_tolerates_a_few_ms_past_the_lines_decoded_end(
    folder: Path, silent_parent: Path, voice_line: Path
) -> None:
    # Decoders disagree by a few ms about a file's length; the API measured it first.
    video = lip_sync(
        folder,
        silent_parent,
        voice_line,
        "edge",
        sound_start_ms=1000,
        sound_end_ms=3020,
        insert_ms=0,
    )
    assert rms(sound_of(video), 0.1, 1.9) > AUDIBLE


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"sound_start_ms": 2500, "sound_end_ms": 500}, "sound_start_time"),
        ({"sound_start_ms": 1000, "sound_end_ms": 3100, "insert_ms": 0}, "sound_start_time"),
        ({"sound_end_ms": 9000}, "sound_start_time"),
        ({"insert_ms": 2000}, "sound_insert_time"),
        ({"sound_volume": 2.5}, "sound_volume"),
        ({"original_audio_volume": -1}, "original_audio_volume"),
    ],
)
def test_lip_sync_refuses_timings_and_volumes_out_of_range(
    tmp_path: Path, silent_parent: Path, voice_line: Path, fields: dict, message: str
) -> None:
    with pytest.raises(RenderError, match=message):
        lip_sync(tmp_path, silent_parent, voice_line, "bad", **fields)
    assert not (tmp_path / "bad.mp4").exists()


# ---- effects --------------------------------------------------------------------------------


def test_an_effect_is_five_seconds_of_a_visible_transform(
    folder: Path, pictures: dict[str, Path]
) -> None:
    video = folder / "effect.mp4"
    meta = render_effect("bullet_time", [str(pictures["red"])], str(video), str(folder / "e.jpg"))
    assert meta.duration == pytest.approx(5.0, abs=0.05)
    assert (meta.width, meta.height) == (960, 720)  # the 4:3 photo's shape
    assert not meta.has_audio
    frames = frames_of(video)
    with Image.open(pictures["red"]) as image:
        assert difference(upper(frames[0]), upper(image.convert("RGB").resize((960, 720)))) < 4
    assert difference(upper(frames[-1]), upper(frames[0])) > 10


def test_scene_names_pick_different_effects(folder: Path, pictures: dict[str, Path]) -> None:
    endings = []
    for scene in ("bullet_time", "anime_figure", "steampunk", "yearbook"):
        video = folder / f"{scene}.mp4"
        render_effect(scene, [str(pictures["red"])], str(video), str(folder / f"{scene}.jpg"))
        endings.append(frames_of(video)[-1])
    distinct = {round(difference(endings[0], other)) > 3 for other in endings[1:]}
    assert distinct == {True}


def test_a_dual_effect_shows_both_images_side_by_side(
    folder: Path, pictures: dict[str, Path]
) -> None:
    video = folder / "dual.mp4"
    meta = render_effect(
        "hug_pro",
        [str(pictures["blue"]), str(pictures["green"])],
        str(video),
        str(folder / "d.jpg"),
    )
    assert (meta.width, meta.height) == (1280, 720)
    assert meta.duration == pytest.approx(5.0, abs=0.05)
    first = frames_of(video)[0]
    assert nearest(mean_colour(first.crop((0, 0, 640, 500)))) == "blue"
    assert nearest(mean_colour(first.crop((640, 0, 1280, 500)))) == "green"


def test_an_effect_takes_one_or_two_images(tmp_path: Path, pictures: dict[str, Path]) -> None:
    with pytest.raises(RenderError, match="one or two images"):
        render_effect(
            "x", [str(pictures["red"])] * 3, str(tmp_path / "o.mp4"), str(tmp_path / "o.jpg")
        )
