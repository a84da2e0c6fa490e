"""The local renderer: real H.264 files whose content follows the Kling parameters."""

import hashlib
import logging
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from videos.rendering import (
    RenderError,
    RenderSpec,
    VideoMeta,
    fonts,
    make_poster,
    probe_video,
    render_video,
)
from videos.rendering.camera import CameraPath, Move, apply
from videos.rendering.fonts import caption_font
from videos.rendering.scene import caption_lines, draw_caption
from videos.rendering.spec import ASPECT_RATIOS, output_size

PROMPT = "A lighthouse on a cliff at sunset, waves below"
# Kling's camera_control vocabulary (docs/kling-api.md section 1.5).
AXES = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")
PRESETS = ("down_back", "forward_up", "right_turn_forward", "left_turn_forward")


@dataclass(frozen=True)
class Rendered:
    """A rendered clip and the frames the tests look at."""

    meta: VideoMeta
    video: Path
    poster: Path
    first: Image.Image
    at_one_second: Image.Image
    last: Image.Image
    frame_count: int


def decode(path: Path) -> list[Image.Image]:
    """Every frame of the file as RGB pictures."""
    with av.open(str(path)) as container:
        return [frame.to_image() for frame in container.decode(video=0)]


def difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel, 0..255."""
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def upper(image: Image.Image) -> Image.Image:
    """The top three quarters of a frame, clear of the prompt caption."""
    return image.crop((0, 0, image.width, image.height * 3 // 4))


def top_level_boxes(path: Path) -> list[str]:
    """Names of an MP4's top-level boxes in file order."""
    names = []
    data = path.read_bytes()
    offset = 0
    while offset + 8 <= len(data):
        size, name = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        names.append(name.decode("latin-1"))
        if size < 8:
            break
        offset += size
    return names


def make_photo(path: Path, size: tuple[int, int], colour: tuple[int, int, int]) -> Path:
    """A stand-in for an uploaded photo: a gradient with a few distinct shapes."""
    width, height = size
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    image = Image.blend(image, Image.new("RGB", size, colour), 0.6)
    draw = ImageDraw.Draw(image)
    draw.ellipse((width * 0.1, height * 0.2, width * 0.4, height * 0.6), fill=(240, 240, 60))
    draw.rectangle((width * 0.55, height * 0.3, width * 0.9, height * 0.8), fill=(30, 30, 30))
    draw.line((0, height, width, 0), fill=(255, 255, 255), width=max(4, width // 80))
    image.save(path)
    return path


@pytest.fixture(scope="module")
def render(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Rendered]:
    """Render a spec once per module (specs are short 1:1 clips unless a test says otherwise)."""
    folder = tmp_path_factory.mktemp("renders")
    cache: dict[str, Rendered] = {}

    def _render(**fields: object) -> Rendered:
        spec = RenderSpec(**{"prompt": PROMPT, "duration": 3, "aspect_ratio": "1:1", **fields})
        key = repr(spec)
        if key not in cache:
            name = hashlib.sha256(key.encode()).hexdigest()[:16]
            video, poster = folder / f"{name}.mp4", folder / f"{name}.jpg"
            meta = render_video(spec, str(video), str(poster))
            frames = decode(video)
            cache[key] = Rendered(
                meta, video, poster, frames[0], frames[24], frames[-1], len(frames)
            )
        return cache[key]

    return _render


@pytest.fixture(scope="module")
def clip(render: Callable[..., Rendered]) -> Rendered:
    """The usual request: 16:9 std, no camera control (3 s to keep the suite quick)."""
    return render(aspect_ratio="16:9")


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 4:3 JPEG first frame and a 4:3 PNG last frame that look nothing alike."""
    folder = tmp_path_factory.mktemp("photos")
    return {
        "first": make_photo(folder / "first.jpg", (1200, 900), (200, 40, 40)),
        "last": make_photo(folder / "last.png", (1000, 750), (40, 60, 220)),
    }


def test_it_renders_a_playable_h264_of_the_requested_duration(clip: Rendered) -> None:
    with av.open(str(clip.video)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.codec_context.width, stream.codec_context.height) == (1280, 720)
        assert stream.average_rate == 24
    assert clip.frame_count == 3 * 24
    assert clip.meta.duration == pytest.approx(3.0, abs=0.05)
    assert (clip.meta.width, clip.meta.height, clip.meta.fps) == (1280, 720, 24.0)
    assert clip.meta.bytes == clip.video.stat().st_size


def test_it_puts_the_moov_atom_before_the_media_data(clip: Rendered) -> None:
    boxes = top_level_boxes(clip.video)
    assert boxes[0] == "ftyp"
    assert boxes.index("moov") < boxes.index("mdat")


def test_it_writes_a_jpeg_poster_of_a_frame_one_second_in(clip: Rendered) -> None:
    with Image.open(clip.poster) as poster:
        assert poster.format == "JPEG"
        assert poster.size == (1280, 720)
        assert difference(poster.convert("RGB"), clip.at_one_second) < 4
    assert difference(clip.at_one_second, clip.first) > 0.5


@pytest.mark.parametrize(
    ("aspect_ratio", "mode", "size"),
    [("9:16", "std", (720, 1280)), ("3:2", "std", (1080, 720)), ("1:1", "pro", (1080, 1080))],
)
def test_it_sizes_the_video_by_aspect_ratio_and_mode(
    render: Callable[..., Rendered], aspect_ratio: str, mode: str, size: tuple[int, int]
) -> None:
    rendered = render(aspect_ratio=aspect_ratio, mode=mode)
    assert (rendered.meta.width, rendered.meta.height) == size
    assert rendered.first.size == size
    with Image.open(rendered.poster) as poster:
        assert poster.size == size


def test_every_listed_aspect_ratio_has_an_even_720p_and_1080p_size() -> None:
    expected_std = {
        "16:9": (1280, 720),
        "9:16": (720, 1280),
        "1:1": (720, 720),
        "3:2": (1080, 720),
        "2:3": (720, 1080),
        "3:4": (720, 960),
        "4:3": (960, 720),
    }
    assert {aspect: output_size(aspect, "std") for aspect in ASPECT_RATIOS} == expected_std
    assert output_size("16:9", "pro") == (1920, 1080)
    for aspect in ASPECT_RATIOS:
        width, height = output_size(aspect, "pro")
        assert min(width, height) == 1080 and width % 2 == height % 2 == 0


def test_the_same_spec_renders_a_byte_identical_video(tmp_path: Path) -> None:
    spec = RenderSpec(prompt=PROMPT, duration=3, aspect_ratio="1:1")
    first = render_video(spec, str(tmp_path / "a.mp4"), str(tmp_path / "a.jpg"))
    second = render_video(spec, str(tmp_path / "b.mp4"), str(tmp_path / "b.jpg"))
    assert first.sha256 == second.sha256
    assert (tmp_path / "a.jpg").read_bytes() == (tmp_path / "b.jpg").read_bytes()


def test_a_different_prompt_renders_a_different_scene(render: Callable[..., Rendered]) -> None:
    one = render()
    other = render(prompt="A quiet village under the stars")
    assert one.meta.sha256 != other.meta.sha256
    assert difference(upper(one.first), upper(other.first)) > 10


CAMERAS = {
    **{
        f"{axis}{value:+d}": {
            "type": "simple",
            "config": {name: (value if name == axis else 0) for name in AXES},
        }
        for axis in AXES
        for value in (-10, 10)
    },
    **{preset: {"type": preset} for preset in PRESETS},
    "none": None,
}


@pytest.mark.parametrize("camera", CAMERAS.values(), ids=CAMERAS.keys())
def test_the_camera_moves_the_picture(render: Callable[..., Rendered], camera: dict | None) -> None:
    rendered = render(camera_control=camera)
    still = render(camera_control={"type": "simple", "config": {}})
    # Every clip starts on the same framing; the move shows by the last frame.
    assert difference(rendered.first, still.first) < 1
    assert difference(upper(still.first), upper(still.last)) < 1
    assert difference(upper(rendered.first), upper(rendered.last)) > 3


def test_opposite_moves_end_on_different_pictures(render: Callable[..., Rendered]) -> None:
    for axis in AXES:
        minus = render(camera_control=CAMERAS[f"{axis}-10"])
        plus = render(camera_control=CAMERAS[f"{axis}+10"])
        assert difference(upper(minus.last), upper(plus.last)) > 3, axis
    right = render(camera_control=CAMERAS["right_turn_forward"])
    left = render(camera_control=CAMERAS["left_turn_forward"])
    assert difference(upper(right.last), upper(left.last)) > 3


def test_zoom_in_ends_on_the_magnified_centre(render: Callable[..., Rendered]) -> None:
    rendered = render(camera_control=CAMERAS["zoom-10"])
    side = 720 / 1.45  # ZOOM_AT_10: the last frame shows this much of the first
    centre = rendered.first.crop((360 - side / 2, 360 - side / 2, 360 + side / 2, 360 + side / 2))
    magnified = centre.resize((720, 720), Image.Resampling.BILINEAR)
    assert difference(upper(rendered.last), upper(magnified)) < 1.5
    assert difference(upper(rendered.last), upper(rendered.first)) > 10


def test_a_horizontal_move_to_the_right_slides_the_picture_left(
    render: Callable[..., Rendered],
) -> None:
    rendered = render(camera_control=CAMERAS["horizontal+10"])
    shift = round(0.2 * 720)  # TRANSLATE_AT_10 of the width
    box = (0, 0, 720 - shift, 500)
    moved = rendered.last.crop(box)
    assert difference(moved, rendered.first.crop((shift, 0, 720, 500))) < 1.5
    assert difference(moved, rendered.first.crop(box)) > 10


@pytest.mark.parametrize(
    ("camera", "expect"),
    [
        ("horizontal-10", "left"),
        ("vertical-10", "down"),
        ("pan-10", "left"),
        ("tilt-10", "down"),
        ("zoom-10", "narrower"),
        ("roll-10", "counter-clockwise"),
    ],
)
def test_negative_axis_values_follow_klings_directions(camera: str, expect: str) -> None:
    config = CAMERAS[camera]["config"]  # type: ignore[index]
    path = CameraPath(Move(**config), (720, 720), (1080, 1080), 72)
    start, end = path.view(0), path.view(71)
    (x0, y0), (x1, y1) = apply(start, 360, 360), apply(end, 360, 360)
    top_left, top_right = apply(end, 0, 0), apply(end, 720, 0)
    width = top_right[0] - top_left[0]
    observed = {
        "left": x1 < x0 - 50,
        "down": y1 > y0 + 50,  # image y grows downward
        "narrower": width < 720 * 0.8,
        "counter-clockwise": top_right[1] < top_left[1] - 50,
    }
    assert observed[expect]


def test_image2video_starts_on_the_image_and_takes_its_aspect(
    render: Callable[..., Rendered], photos: dict[str, Path]
) -> None:
    # aspect_ratio is not a Kling image2video parameter: the 4:3 picture decides.
    rendered = render(first_frame=str(photos["first"]), aspect_ratio="9:16")
    assert (rendered.meta.width, rendered.meta.height) == (960, 720)
    with Image.open(photos["first"]) as photo:
        expected = photo.convert("RGB").resize((960, 720), Image.Resampling.LANCZOS)
    assert difference(rendered.first, expected) < 3
    assert difference(rendered.last, expected) > 3


def test_image2video_with_a_last_frame_ends_on_it(
    render: Callable[..., Rendered], photos: dict[str, Path]
) -> None:
    rendered = render(first_frame=str(photos["first"]), last_frame=str(photos["last"]))
    with Image.open(photos["first"]) as first, Image.open(photos["last"]) as last:
        first_expected = first.convert("RGB").resize((960, 720), Image.Resampling.LANCZOS)
        last_expected = last.convert("RGB").resize((960, 720), Image.Resampling.LANCZOS)
    assert difference(rendered.first, first_expected) < 3
    assert difference(rendered.last, last_expected) < 3
    assert difference(rendered.first, last_expected) > 20


def test_a_last_frame_alone_ends_a_generated_scene_on_it(
    render: Callable[..., Rendered], photos: dict[str, Path]
) -> None:
    rendered = render(last_frame=str(photos["last"]))
    with Image.open(photos["last"]) as last:
        expected = last.convert("RGB").resize((960, 720), Image.Resampling.LANCZOS)
    assert difference(rendered.last, expected) < 3
    assert difference(rendered.first, expected) > 20


def test_a_first_frame_that_is_not_an_image_raises_render_error(tmp_path: Path) -> None:
    bogus = tmp_path / "frame.jpg"
    bogus.write_text("this is not a picture")
    spec = RenderSpec(prompt=PROMPT, first_frame=str(bogus))
    with pytest.raises(RenderError, match="first_frame"):
        render_video(spec, str(tmp_path / "out.mp4"), str(tmp_path / "out.jpg"))
    assert not list(tmp_path.glob("out*"))


@pytest.mark.parametrize(
    "fields",
    [
        {"duration": 20},
        {"duration": 5.5},
        {"mode": "professional"},
        {"aspect_ratio": "21:9"},
        {"camera_control": {"type": "orbit"}},
        {"camera_control": {"type": "simple", "config": {"zoom": "fast"}}},
        {"last_frame": "/nonexistent/tail.png"},
    ],
)
def test_it_rejects_input_it_cannot_render(tmp_path: Path, fields: dict) -> None:
    spec = RenderSpec(**{"prompt": PROMPT, "duration": 3, **fields})
    with pytest.raises(RenderError):
        render_video(spec, str(tmp_path / "out.mp4"), str(tmp_path / "out.jpg"))


def test_probe_video_reports_size_timing_and_hash(clip: Rendered) -> None:
    meta = probe_video(str(clip.video))
    assert meta == clip.meta
    assert meta.sha256 == hashlib.sha256(clip.video.read_bytes()).hexdigest()
    assert meta.bytes == clip.video.stat().st_size


def test_probe_video_rejects_a_file_that_is_not_a_video(tmp_path: Path) -> None:
    bogus = tmp_path / "video.mp4"
    bogus.write_bytes(b"\x00" * 1000)
    with pytest.raises(RenderError):
        probe_video(str(bogus))


def test_make_poster_saves_a_jpeg_of_a_frame_about_one_second_in(
    clip: Rendered, tmp_path: Path
) -> None:
    poster = tmp_path / "posters" / "poster.jpg"
    make_poster(str(clip.video), str(poster))
    with Image.open(poster) as image:
        assert image.format == "JPEG"
        assert image.size == (1280, 720)
        assert difference(image.convert("RGB"), clip.at_one_second) < 4


# ---- captions: Chinese and Latin in a CJK font (videos/rendering/fonts.py) ----------------
CAPTION = (1280, 720)


@pytest.fixture
def cjk_font() -> tuple[str, int]:
    """The CJK font the captions use; the test skips (saying why) when none is installed."""
    found = fonts.find_cjk_font()
    if found is None:
        pytest.skip(
            "no CJK font on this machine: `make test` installs Debian's fonts-wqy-microhei "
            "when run as root"
        )
    return found


@pytest.fixture
def no_cjk_font(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A machine without any CJK font (discovery finds nothing)."""
    monkeypatch.setattr(fonts, "KNOWN_FONTS", ())
    monkeypatch.setattr(fonts, "_fontconfig_fonts", list)
    fonts.find_cjk_font.cache_clear()
    fonts.caption_font.cache_clear()
    yield
    fonts.find_cjk_font.cache_clear()
    fonts.caption_font.cache_clear()


def changed_pixels(a: Image.Image, b: Image.Image) -> int:
    """How many pixels of two same-sized images differ clearly."""
    assert a.size == b.size
    return sum(ImageChops.difference(a, b).convert("L").histogram()[49:])


def test_two_chinese_captions_draw_different_glyphs_not_boxes(
    cjk_font: tuple[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Same length: drawn as missing-glyph boxes, the two would be the same picture.
    cat, garden = draw_caption("一只小猫", CAPTION), draw_caption("花园里玩", CAPTION)
    assert cat is not None and garden is not None
    assert changed_pixels(cat, garden) > 500
    # What boxes would look like: four characters no font has, drawn in the same place.
    monkeypatch.setattr(fonts, "has_glyph", lambda font, char: True)
    boxes = draw_caption(fonts.UNMAPPED * 4, CAPTION)
    assert boxes is not None
    assert changed_pixels(cat, boxes) > 500
    assert changed_pixels(garden, boxes) > 500


def test_the_caption_font_has_chinese_and_latin_glyphs(cjk_font: tuple[str, int]) -> None:
    font = caption_font(30)
    box = font.getmask(fonts.UNMAPPED)
    for char in "一只小猫花园里玩耍阳光Aa7，":
        mask = font.getmask(char)
        assert (mask.size, bytes(mask)) != (box.size, bytes(box)), f"{char!r} is a box"


def test_it_wraps_chinese_captions_between_characters(cjk_font: tuple[str, int]) -> None:
    font = caption_font(30)
    width = CAPTION[0] * 0.88
    text = "赛博朋克风格的城市夜景，霓虹灯闪烁，雨后的街道倒映着五彩的灯光。" * 4
    lines = caption_lines(text, font, width, max_lines=3)
    assert len(lines) == 3
    assert all(font.getlength(line) <= width for line in lines)
    assert lines[-1].endswith("…")
    shown = "".join(lines).removesuffix("…")
    assert text.startswith(shown) and len(shown) > 40
    # Closing punctuation never starts a line, whatever width the break falls at.
    for narrow in range(60, 400, 7):
        assert not any(line[0] in "，。" for line in caption_lines(text, font, narrow, 30))
    # Latin still breaks at spaces only, and both mix on one line.
    english = caption_lines("lighthouse " * 40, font, width, max_lines=3)
    assert {word for line in english for word in line.split()} == {"lighthouse", "…"}
    assert caption_lines("A cat 一只小猫 at dawn", font, width, 3) == ["A cat 一只小猫 at dawn"]


def test_it_leaves_out_characters_the_font_lacks_instead_of_boxes(
    cjk_font: tuple[str, int],
) -> None:
    font = caption_font(30)
    assert caption_lines(f"小猫 {fonts.UNMAPPED} cat", font, 1000, 3) == ["小猫 cat"]


def test_without_a_cjk_font_the_caption_says_so_and_the_render_succeeds(
    no_cjk_font: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="videos.rendering.fonts"):
        lines = caption_lines("A cat 一只小猫", caption_font(30), 1200, 3)
    assert lines == ["A cat", fonts.FALLBACK_NOTE]
    assert "apt-get install fonts-wqy-microhei" in caplog.text
    assert caption_lines("plain words", caption_font(30), 1200, 3) == ["plain words"]
    spec = RenderSpec(prompt="一只小猫在花园里玩耍", duration=3, aspect_ratio="1:1")
    meta = render_video(spec, str(tmp_path / "out.mp4"), str(tmp_path / "out.jpg"))
    assert meta.duration == pytest.approx(3.0, abs=0.05)
