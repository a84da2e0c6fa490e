"""Pictures held as the three yuv420p planes the encoder wants.

Converting colour once and warping each plane separately is what makes per-frame camera
motion cheap: Pillow works on one byte per pixel (1.5 per output pixel in total) instead of
four for RGB, and no colour conversion runs per frame.
"""

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import av
from av.video.reformatter import ColorRange, Colorspace
from PIL import Image

from .camera import Matrix, matmul, scale

# Tagged on the stream as well: BT.709, limited range, what browsers assume for HD video.
COLORSPACE = Colorspace.ITU709
COLOR_RANGE = ColorRange.MPEG
BILINEAR = Image.Resampling.BILINEAR
NEAREST = Image.Resampling.NEAREST
_HALF = scale(0.5, 0.5)
_DOUBLE = scale(2.0, 2.0)
YUV = tuple[int, int, int]


@dataclass(frozen=True)
class Planes:
    """Luma at full size, the two chroma planes at half size (so dimensions must be even)."""

    y: Image.Image
    u: Image.Image
    v: Image.Image

    @classmethod
    def from_rgb(cls, image: Image.Image) -> "Planes":
        """Convert an RGB picture with even dimensions once, through FFmpeg's swscale."""
        frame = av.VideoFrame.from_image(image).reformat(
            format="yuv420p",
            dst_colorspace=COLORSPACE,
            dst_color_range=COLOR_RANGE,
            interpolation="AREA",
            threads=1,
        )
        return cls.from_frame(frame)

    @classmethod
    def from_frame(cls, frame: av.VideoFrame) -> "Planes":
        """Copy a yuv420p VideoFrame's planes (a decoded video's, or a reformatted picture's)."""
        return cls(*(_plane_image(plane) for plane in frame.planes))

    @property
    def size(self) -> tuple[int, int]:
        """Width and height of the picture (its luma plane)."""
        return self.y.size

    def warp(self, view: Matrix, size: tuple[int, int], resample: int = BILINEAR) -> "Planes":
        """The part of this picture that view (output-to-picture homography) shows, at size."""
        half = (size[0] // 2, size[1] // 2)
        # Chroma coordinates are luma coordinates halved, on both sides of the mapping.
        chroma_view = matmul(_HALF, matmul(view, _DOUBLE))
        return Planes(
            _warp(self.y, view, size, resample),
            _warp(self.u, chroma_view, half, resample),
            _warp(self.v, chroma_view, half, resample),
        )

    def blend(self, other: "Planes", amount: float) -> "Planes":
        """Crossfade: amount 0 is self, 1 is other."""
        return Planes(*(Image.blend(a, b, amount) for a, b in zip(self, other, strict=True)))

    def overlay(
        self, top: "Planes", mask: Image.Image, xy: tuple[int, int], opacity: float
    ) -> None:
        """Paint top over this picture at the even position xy through the luma-sized mask."""
        if opacity <= 0:
            return
        if opacity < 1:
            mask = mask.point(lambda v: round(v * opacity))
        chroma_mask = mask.reduce(2)
        x, y = xy
        self.y.paste(top.y, (x, y), mask)
        self.u.paste(top.u, (x // 2, y // 2), chroma_mask)
        self.v.paste(top.v, (x // 2, y // 2), chroma_mask)

    def fill(self, box: tuple[int, int, int, int], colour: YUV) -> None:
        """Paint the rectangle box (even luma coordinates: left, top, right, bottom) in colour."""
        left, top, right, bottom = box
        self.y.paste(colour[0], box)
        chroma = (left // 2, top // 2, right // 2, bottom // 2)
        self.u.paste(colour[1], chroma)
        self.v.paste(colour[2], chroma)

    def tinted(self, u_shift: float, v_shift: float, contrast: float = 1.0) -> "Planes":
        """A colour-graded copy: chroma moved by the shifts, luma contrast scaled about mid-grey."""
        y = self.y if contrast == 1 else self.y.point(_line(contrast, 128 * (1 - contrast)))
        return Planes(y, self.u.point(_line(1, u_shift)), self.v.point(_line(1, v_shift)))

    def copy(self) -> "Planes":
        """A copy that can be painted on without touching this picture."""
        return Planes(*(plane.copy() for plane in self))

    def to_frame(self) -> av.VideoFrame:
        """An encoder-ready yuv420p VideoFrame holding these planes."""
        frame = av.VideoFrame(self.y.width, self.y.height, "yuv420p")
        frame.colorspace = COLORSPACE
        frame.color_range = COLOR_RANGE
        for plane, image in zip(frame.planes, self, strict=True):
            if plane.line_size != image.width:
                # FFmpeg pads rows to its alignment; lay the picture out with the same stride.
                padded = Image.new("L", (plane.line_size, image.height))
                padded.paste(image)
                image = padded
            plane.update(image.tobytes())
        return frame

    def to_rgb(self) -> Image.Image:
        """Back to an RGB picture (for the poster)."""
        return self.to_frame().to_image(src_colorspace=COLORSPACE, src_color_range=COLOR_RANGE)

    def __iter__(self) -> Iterator[Image.Image]:
        """Y, U, V in encoder order."""
        return iter((self.y, self.u, self.v))

    def __getitem__(self, index: int) -> Image.Image:
        """Plane 0 (Y), 1 (U) or 2 (V)."""
        return (self.y, self.u, self.v)[index]


class World:
    """A still picture a camera looks at: any view of it, warped at the lowest fair cost.

    Pillow's bilinear filters are most of a render's time (x264 is the rest), so each plane
    is sampled as cheaply as the eye allows:
    - a whole-pixel shift at 1:1 (every clip's frame 0) is an exact crop;
    - zoom and shift resize luma bilinearly; chroma, which the eye resolves far less finely,
      is taken with nearest neighbour from a bilinearly doubled copy;
    - rotating views (pan, tilt, roll) need Pillow's generic transform, whose bilinear filter
      costs two to three times its nearest one: all planes come from doubled copies.
    Nearest neighbour on a bilinearly doubled picture is bilinear filtering with positions
    rounded to half a source pixel: no visible difference in motion, at a fraction of the cost.
    """

    def __init__(self, planes: Planes) -> None:
        self.planes = planes
        self._fine: dict[int, Image.Image] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_rgb(cls, image: Image.Image) -> "World":
        """A world from an RGB picture with even dimensions."""
        return cls(Planes.from_rgb(image))

    def view(self, view: Matrix, size: tuple[int, int]) -> Planes:
        """What the output-to-world homography view shows, at size."""
        a, b, c, d, e, f, g, h, _ = view
        half = (size[0] // 2, size[1] // 2)
        chroma_view = matmul(_HALF, matmul(view, _DOUBLE))
        if b == d == g == h == 0 and a == e == 1 and c % 2 == f % 2 == 0:
            x, y = int(c), int(f)
            return Planes(
                self.planes.y.crop((x, y, x + size[0], y + size[1])),
                self.planes.u.crop((x // 2, y // 2, x // 2 + half[0], y // 2 + half[1])),
                self.planes.v.crop((x // 2, y // 2, x // 2 + half[0], y // 2 + half[1])),
            )
        fine_chroma = matmul(_DOUBLE, chroma_view)
        if b == d == g == h == 0:
            luma = _warp(self.planes.y, view, size, BILINEAR)
        else:
            luma = _warp(self._doubled(0), matmul(_DOUBLE, view), size, NEAREST)
        return Planes(
            luma,
            _warp(self._doubled(1), fine_chroma, half, NEAREST),
            _warp(self._doubled(2), fine_chroma, half, NEAREST),
        )

    def _doubled(self, plane: int) -> Image.Image:
        """A plane at twice the size, made once on first use (the render's threads share it)."""
        with self._lock:
            if plane not in self._fine:
                source = self.planes[plane]
                self._fine[plane] = source.resize((source.width * 2, source.height * 2), BILINEAR)
            return self._fine[plane]


@dataclass(frozen=True)
class Overlay:
    """A picture with transparency, converted once, painted over frames at a fixed place."""

    planes: Planes
    mask: Image.Image
    xy: tuple[int, int]

    @classmethod
    def from_rgba(cls, image: Image.Image, xy: tuple[int, int]) -> "Overlay":
        """An overlay from an RGBA picture with even dimensions, placed at the even point xy."""
        return cls(Planes.from_rgb(image.convert("RGB")), image.getchannel("A"), xy)

    def paint(self, picture: Planes, opacity: float = 1.0) -> None:
        """Paint this overlay onto picture (in place)."""
        picture.overlay(self.planes, self.mask, self.xy, opacity)


def rgb_to_yuv(colour: tuple[int, int, int]) -> YUV:
    """An 8-bit RGB colour as limited-range BT.709 Y, U, V (what the planes hold)."""
    r, g, b = colour
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    u = (b - y) / 1.8556
    v = (r - y) / 1.5748
    return round(16 + y * 219 / 255), round(128 + u * 224 / 255), round(128 + v * 224 / 255)


def _line(gain: float, offset: float) -> list[int]:
    """A 256-entry lookup table for value * gain + offset, clamped to a byte."""
    return [min(255, max(0, round(value * gain + offset))) for value in range(256)]


def _plane_image(plane: av.video.plane.VideoPlane) -> Image.Image:
    """A copy of one FFmpeg plane as a Pillow "L" image, skipping FFmpeg's row padding."""
    return Image.frombuffer(
        "L", (plane.width, plane.height), bytes(plane), "raw", "L", plane.line_size, 1
    )


def _warp(image: Image.Image, view: Matrix, size: tuple[int, int], resample: int) -> Image.Image:
    """Sample image through view; the cheapest Pillow operation that can express the view."""
    a, b, c, d, e, f, g, h, _ = view
    if b == d == g == h == 0:
        # Zoom and shift only: a box resize is several times faster than a generic transform
        # and filters properly when it shrinks. Its box must stay inside the picture.
        width, height = image.size
        box = (
            min(max(c, 0.0), width),
            min(max(f, 0.0), height),
            min(max(c + a * size[0], 0.0), width),
            min(max(f + e * size[1], 0.0), height),
        )
        return image.resize(size, resample, box=box)
    if g == h == 0:
        return image.transform(size, Image.Transform.AFFINE, (a, b, c, d, e, f), resample)
    return image.transform(size, Image.Transform.PERSPECTIVE, (a, b, c, d, e, f, g, h), resample)
