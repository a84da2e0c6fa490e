"""Still pictures the camera moves over: a scene generated from the prompt, or uploaded frames.

Everything here runs once per render, so plain Pillow drawing is fast enough.
"""

import colorsys
import hashlib
import math
import random
import unicodedata
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from . import fonts
from .fonts import caption_font
from .spec import RenderError

RGB = tuple[int, int, int]
Point = tuple[float, float]


def draw_scene(seed_text: str, size: tuple[int, int]) -> Image.Image:
    """A landscape (sky, sun, clouds, hills, trees) whose look is chosen by hashing seed_text."""
    rng = random.Random(hashlib.sha256(seed_text.encode()).digest())
    width, height = size
    hue = rng.random()
    night = rng.random() < 0.25
    sky_top = _hls(hue + 0.55, 0.12 if night else 0.38, 0.55)
    horizon = _hls(hue + 0.05, 0.35 if night else 0.78, 0.65)
    image = _vertical_gradient(size, sky_top, horizon, power=1.6)

    if night:
        _stars(image, rng)
    sun_xy = (rng.uniform(0.2, 0.8) * width, rng.uniform(0.22, 0.45) * height)
    sun_radius = rng.uniform(0.045, 0.08) * min(width, height)
    # A warm sun by day, a pale moon by night, whatever the sky's hue.
    sun_colour = _hls(0.6, 0.88, 0.15) if night else _hls(rng.uniform(0.07, 0.16), 0.75, 0.95)
    _glow(image, sun_xy, sun_radius * 5, sun_colour, 0.55)
    ImageDraw.Draw(image).ellipse(_circle(sun_xy, sun_radius), fill=sun_colour)
    _clouds(image, rng, _mix(horizon, (255, 255, 255), 0.6), 0.25 if night else 0.7)

    hill_hue = hue + rng.choice([0.3, 0.4, 0.5, 0.6])
    layers = 4
    for layer in range(layers):
        depth = layer / (layers - 1)  # 0 = far away, 1 = nearest
        # The first frame shows the middle two thirds of the world: keep the hills there.
        base = height * (0.52 + 0.22 * depth)
        near = _hls(hill_hue, 0.08 if night else 0.18 + 0.1 * (1 - depth), 0.45)
        # Far hills fade towards the horizon colour, as haze does.
        colour = _mix(near, horizon, 0.75 * (1 - depth))
        ridge = _ridge(rng, width, base, height * (0.12 - 0.05 * depth))
        _fill_below(image, ridge, colour)
        if layer == layers - 1:
            _trees(image, rng, ridge, _mix(colour, (0, 0, 0), 0.55), min(width, height))
    # Darken towards the bottom for depth (and a calmer backdrop for the caption). The shade
    # only varies down the picture: made one pixel wide, widened, applied where it is > 0.
    ground = _column(size[1], lambda v: round(140 * max(0.0, v / 255 - 0.55) / 0.45))
    top = next((y for y in range(height) if ground.getpixel((0, y))), height)
    shade = ground.crop((0, top, 1, height)).resize((width, height - top), Image.Resampling.NEAREST)
    image.paste((0, 0, 0), (0, top), shade)
    return image


def draw_caption(text: str, size: tuple[int, int]) -> Image.Image | None:
    """An RGBA band for the bottom of the frame with the (wrapped) prompt, or None if blank."""
    text = " ".join(text.split())
    if not text:
        return None
    width, height = size
    short = min(width, height)
    font = caption_font(max(12, round(short / 24)))
    with fonts.LOCK:
        lines = caption_lines(text, font, width * 0.88, max_lines=3)
        line_height = round(font.size * 1.3)
        band = 2 * ((len(lines) * line_height + round(short * 0.09)) // 2)
        caption = Image.new("RGBA", (width, band), (0, 0, 0, 0))
        # A soft dark band keeps white text legible over any scene.
        shade = Image.linear_gradient("L").resize((width, band)).point(lambda v: v * 150 // 255)
        caption.putalpha(shade)
        draw = ImageDraw.Draw(caption)
        top = band - len(lines) * line_height - round(short * 0.04)
        for number, line in enumerate(lines):
            y = top + number * line_height
            x = (width - font.getlength(line)) / 2
            draw.text((x + 2, y + 2), line, font=font, fill=(0, 0, 0, 200))
            draw.text((x, y), line, font=font, fill=(255, 255, 255, 255))
    return caption


def caption_lines(
    text: str, font: ImageFont.FreeTypeFont, max_width: float, max_lines: int
) -> list[str]:
    """The caption's lines: what font can draw of text, wrapped (plus a note without CJK font).

    Characters the font has no glyph for (emoji in a CJK font; CJK in the built-in one) are
    left out rather than drawn as boxes; when Chinese or Japanese is left out because no CJK
    font is installed, a last line says so. Text is cut first to what could possibly fit
    (no glyph is narrower than a fifth of the size), so a 2,500-character prompt costs
    what a short one does.
    """
    text = text[: int(max_lines * max_width / (font.size * 0.2)) + 1]
    missing = {char for char in set(text) if not fonts.has_glyph(font, char)}
    drawable = " ".join("".join(char for char in text if char not in missing).split())
    lines = _wrap(drawable, font, max_width, max_lines) if drawable else []
    # Without a CJK font, say why the Chinese or Japanese words are not there.
    cjk_missing = any(_wide(char) and unicodedata.category(char) == "Lo" for char in missing)
    if cjk_missing and fonts.find_cjk_font() is None:
        lines.append(_fit(fonts.FALLBACK_NOTE, font, max_width))
    return lines or [""]


def load_image(path: str, field: str) -> Image.Image:
    """Open an uploaded JPEG/PNG frame upright in RGB, or raise RenderError."""
    try:
        with Image.open(path) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise RenderError(f"{field} is not a decodable JPEG/PNG image ({path}): {exc}") from exc
    if min(image.size) < 2:
        raise RenderError(f"{field} is too small: {image.width}x{image.height}")
    return image


def extend_image(image: Image.Image, size: tuple[int, int], world: tuple[int, int]) -> Image.Image:
    """Cover-fit image to size and surround it with a blurred mirror of itself up to world.

    The camera can look past the uploaded picture (zoom out, pan); a mirrored, softened
    continuation looks far less jarring there than black borders.
    """
    (w, h), (ww, wh) = size, world
    picture = _cover(image, size)
    mx, my = (ww - w) // 2, (wh - h) // 2
    canvas = Image.new("RGB", world)
    canvas.paste(picture, (mx, my))
    mirrored = ImageOps.mirror(picture)
    canvas.paste(mirrored.crop((w - mx, 0, w, h)), (0, my))
    canvas.paste(mirrored.crop((0, 0, ww - mx - w, h)), (mx + w, my))
    canvas.paste(ImageOps.flip(canvas.crop((0, my, ww, 2 * my))), (0, 0))
    bottom = wh - my - h
    canvas.paste(ImageOps.flip(canvas.crop((0, my + h - bottom, ww, my + h))), (0, my + h))

    small = (max(1, ww // 8), max(1, wh // 8))
    blurred = canvas.resize(small, Image.Resampling.BOX).filter(ImageFilter.GaussianBlur(4))
    mask = Image.new("L", small, 255)
    ImageDraw.Draw(mask).rectangle(
        (mx / 8 * 0.6, my / 8 * 0.6, (mx + w) / 8 + mx / 8 * 0.4, (my + h) / 8 + my / 8 * 0.4),
        fill=0,
    )
    mask = mask.filter(ImageFilter.GaussianBlur(max(mx, my) / 8 * 0.3))
    mask.paste(0, (mx // 8, my // 8, (mx + w) // 8, (my + h) // 8))
    resample = Image.Resampling.BILINEAR
    canvas.paste(blurred.resize(world, resample), (0, 0), mask.resize(world, resample))
    canvas.paste(picture, (mx, my))
    return canvas


def _cover(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale image to fill size, cropping the centre of whichever side is too long."""
    w, h = size
    crop_w, crop_h = min(image.width, image.height * w / h), min(image.height, image.width * h / w)
    x, y = (image.width - crop_w) / 2, (image.height - crop_h) / 2
    # reducing_gap shrinks big photos by whole factors first: far faster, same look.
    box = (x, y, x + crop_w, y + crop_h)
    return image.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)


def _wrap(text: str, font: ImageFont.FreeTypeFont, max_width: float, max_lines: int) -> list[str]:
    """Greedy wrap by rendered width at break points; an ellipsis marks text that did not fit."""
    ends = [*_break_points(text), len(text)]
    lines: list[str] = []
    start = 0
    while start < len(text):
        end = None
        for point in ends:
            if point <= start:
                continue
            if end is not None and font.getlength(text[start:point].rstrip()) > max_width:
                break
            end = point
        assert end is not None  # len(text) is always a point past start
        lines.append(text[start:end].rstrip())
        start = end
        if len(lines) == max_lines and start < len(text):
            lines[-1] += "…" if _wide(lines[-1][-1]) else " …"
            break
    return [_fit(line, font, max_width) for line in lines]


# Chinese and Japanese lines may break between any two characters, except before closing
# punctuation or after opening punctuation (the basic kinsoku rules).
NO_LINE_START = frozenset("，。、；：！？）」』》〉】〕〗’”…‥・ー々,.;:!?)]}%")
NO_LINE_END = frozenset("（「『《〈【〔〖‘“([{")


def _break_points(text: str) -> list[int]:
    """Indices where a new line may start: after a space, or next to a wide character."""
    points = []
    for index in range(1, len(text)):
        before, after = text[index - 1], text[index]
        if after == " " or after in NO_LINE_START or before in NO_LINE_END:
            continue
        if before == " " or _wide(before) or _wide(after):
            points.append(index)
    return points


def _wide(char: str) -> bool:
    """A full-width character (CJK ideographs, kana, Hangul, full-width punctuation)."""
    return unicodedata.east_asian_width(char) in ("W", "F")


def _fit(line: str, font: ImageFont.FreeTypeFont, max_width: float) -> str:
    """Line cut short with an ellipsis so it renders within max_width."""
    if font.getlength(line) <= max_width:
        return line
    # Bisect on length: a 2500-character word must not cost 2500 measurements.
    low, high = 0, len(line)
    while low < high:
        middle = (low + high + 1) // 2
        if font.getlength(line[:middle] + "…") <= max_width:
            low = middle
        else:
            high = middle - 1
    return line[:low].rstrip() + "…"


def _hls(hue: float, lightness: float, saturation: float) -> RGB:
    """An 8-bit RGB colour from hue (wrapping), lightness and saturation."""
    r, g, b = colorsys.hls_to_rgb(hue % 1.0, lightness, saturation)
    return round(r * 255), round(g * 255), round(b * 255)


def _mix(a: RGB, b: RGB, amount: float) -> RGB:
    """Linear mix of two colours: amount 0 is a, 1 is b."""
    return tuple(round(x + (y - x) * amount) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def _circle(centre: Point, radius: float) -> tuple[float, float, float, float]:
    """Bounding box of a circle, as ImageDraw.ellipse wants it."""
    x, y = centre
    return x - radius, y - radius, x + radius, y + radius


def _vertical_gradient(size: tuple[int, int], top: RGB, bottom: RGB, power: float) -> Image.Image:
    """Top colour fading to bottom colour; power > 1 keeps the top colour longer."""
    # Each row is one colour: blend a one-pixel column, then widen it (a fraction of the
    # cost of blending every pixel, which showed in pro renders' profiles).
    height = size[1]
    ramp = _column(height, lambda v: round(255 * (v / 255) ** power))
    column = Image.composite(
        Image.new("RGB", (1, height), bottom), Image.new("RGB", (1, height), top), ramp
    )
    return column.resize(size, Image.Resampling.NEAREST)


def _column(height: int, curve: Callable[[int], int]) -> Image.Image:
    """A one-pixel-wide "L" ramp from top to bottom, shaped by curve (0..255 in and out)."""
    return Image.linear_gradient("L").point(curve).resize((1, height))


def _glow(image: Image.Image, centre: Point, radius: float, colour: RGB, strength: float) -> None:
    """A soft halo of colour around centre."""
    # radial_gradient is 0 at the centre and reaches 181 at the middle of each edge (255 only
    # in the corners): invert it into a halo that is fully gone before the square's edges.
    halo = Image.radial_gradient("L").point(
        lambda v: round(255 * strength * max(0.0, 1 - v / 180) ** 2)
    )
    side = max(2, round(radius * 2))
    x, y = centre
    image.paste(colour, (round(x - radius), round(y - radius)), halo.resize((side, side)))


def _stars(image: Image.Image, rng: random.Random) -> None:
    """Scattered small dots in the upper sky."""
    draw = ImageDraw.Draw(image)
    width, height = image.size
    for _ in range(width * height // 6000):
        x, y = rng.random() * width, rng.random() * height * 0.6
        r = rng.choice([0.8, 1.0, 1.4])
        level = rng.randint(150, 255)
        draw.ellipse(_circle((x, y), r), fill=(level, level, level))


def _clouds(image: Image.Image, rng: random.Random, colour: RGB, opacity: float) -> None:
    """A few soft clouds, each a cluster of flattened ellipses."""
    # Drawn small and blurred there: soft edges for a fraction of the cost at full size.
    width, height = image.size
    small = (max(1, width // 8), max(1, height // 8))
    mask = Image.new("L", small, 0)
    draw = ImageDraw.Draw(mask)
    for _ in range(rng.randint(2, 5)):
        cx, cy = rng.random() * small[0], rng.uniform(0.08, 0.4) * small[1]
        size = rng.uniform(0.04, 0.09) * small[0]
        for _ in range(rng.randint(3, 6)):
            dx, dy = rng.uniform(-1.6, 1.6) * size, rng.uniform(-0.3, 0.3) * size
            r = size * rng.uniform(0.5, 1.0)
            draw.ellipse(
                (cx + dx - r, cy + dy - r * 0.55, cx + dx + r, cy + dy + r * 0.55), fill=255
            )
    mask = mask.filter(ImageFilter.GaussianBlur(small[1] / 90)).point(lambda v: round(v * opacity))
    image.paste(colour, (0, 0), mask.resize(image.size, Image.Resampling.BILINEAR))


def _ridge(rng: random.Random, width: int, base: float, amplitude: float) -> list[Point]:
    """A hill outline across the width: a few sine waves, larger ones slower."""
    waves = [
        (rng.uniform(0.5, 1.5) * k, rng.random() * math.tau, amplitude / k)
        for k in (1, 2.3, 5.1, 11.7)
    ]
    step = max(4, width // 300)
    return [
        (x, base - sum(a * math.sin(math.tau * f * x / width + p) for f, p, a in waves))
        for x in range(0, width + step, step)
    ]


def _fill_below(image: Image.Image, ridge: list[Point], colour: RGB) -> None:
    """Paint everything under the ridge line in colour."""
    width, height = image.size
    # Only the band the ridge line crosses needs a mask; below it the hill is solid.
    top = max(0, int(min(y for _, y in ridge)) - 2)
    solid = min(height, int(max(y for _, y in ridge)) + 2)
    mask = Image.new("L", (width, solid - top), 0)
    outline = [(x, y - top) for x, y in ridge]
    ImageDraw.Draw(mask).polygon([*outline, (width, solid - top), (0, solid - top)], fill=255)
    # A one-pixel blur stands in for anti-aliasing, which Pillow's polygon fill lacks.
    image.paste(colour, (0, top), mask.filter(ImageFilter.BoxBlur(1)))
    image.paste(colour, (0, solid, width, height))


def _trees(
    image: Image.Image, rng: random.Random, ridge: list[Point], colour: RGB, scale: int
) -> None:
    """Fir-tree silhouettes standing on the ridge."""
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(4, 12)):
        x, y = rng.choice(ridge)
        tall = rng.uniform(0.05, 0.12) * scale
        wide = tall * rng.uniform(0.3, 0.45)
        draw.rectangle(
            (x - wide * 0.06, y - tall * 0.2, x + wide * 0.06, y + tall * 0.05), fill=colour
        )
        for tier in range(3):
            tip = y - tall * (1 - tier * 0.22)
            half = wide * (0.5 + tier * 0.25) / 2
            foot = tip + tall * 0.45
            draw.polygon([(x, tip), (x + half, foot), (x - half, foot)], fill=colour)
