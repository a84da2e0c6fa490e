"""Pictures held as the three yuv420p planes the encoder wants.

Converting colour once and warping each plane separately is what makes per-frame camera
motion cheap: Pillow works on one byte per pixel (1.5 per output pixel in total) instead of
four for RGB, and no colour conversion runs per frame.
"""

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
_HALF = scale(0.5, 0.5)
_DOUBLE = scale(2.0, 2.0)


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
        return cls(*(_plane_image(plane) for plane in frame.planes))

    def warp(self, view: Matrix, size: tuple[int, int]) -> "Planes":
        """The part of this picture that view (output-to-picture homography) shows, at size."""
        half = (size[0] // 2, size[1] // 2)
        # Chroma coordinates are luma coordinates halved, on both sides of the mapping.
        chroma_view = matmul(_HALF, matmul(view, _DOUBLE))
        return Planes(
            _warp(self.y, view, size),
            _warp(self.u, chroma_view, half),
            _warp(self.v, chroma_view, half),
        )

    def blend(self, other: "Planes", amount: float) -> "Planes":
        """Crossfade: amount 0 is self, 1 is other."""
        return Planes(*(Image.blend(a, b, amount) for a, b in zip(self, other, strict=True)))

    def overlay(
        self, top: "Planes", mask: Image.Image, xy: tuple[int, int], opacity: float
    ) -> None:
        """Paint top over this picture at the even position xy through the luma-sized mask."""
        if opacity < 1:
            mask = mask.point(lambda v: round(v * opacity))
        chroma_mask = mask.reduce(2)
        x, y = xy
        self.y.paste(top.y, (x, y), mask)
        self.u.paste(top.u, (x // 2, y // 2), chroma_mask)
        self.v.paste(top.v, (x // 2, y // 2), chroma_mask)

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


def _plane_image(plane: av.video.plane.VideoPlane) -> Image.Image:
    """A copy of one FFmpeg plane as a Pillow "L" image, skipping FFmpeg's row padding."""
    return Image.frombuffer(
        "L", (plane.width, plane.height), bytes(plane), "raw", "L", plane.line_size, 1
    )


def _warp(image: Image.Image, view: Matrix, size: tuple[int, int]) -> Image.Image:
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
        return image.resize(size, BILINEAR, box=box)
    if g == h == 0:
        return image.transform(size, Image.Transform.AFFINE, (a, b, c, d, e, f), BILINEAR)
    return image.transform(size, Image.Transform.PERSPECTIVE, (a, b, c, d, e, f, g, h), BILINEAR)
