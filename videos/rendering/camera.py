"""Camera paths: which part of the larger world canvas each output frame shows.

A view is a 3x3 homography (row-major tuple) mapping continuous output-pixel coordinates to
world-canvas coordinates. Frame 0 always shows the centre of the world 1:1, so an image2video
clip starts on exactly the uploaded image.
"""

import math
from dataclasses import dataclass, fields

from .spec import RenderError

Matrix = tuple[float, float, float, float, float, float, float, float, float]

# What an axis value of +-10 does by the end of the clip. The world canvas has a margin of a
# quarter of the output on every side; these sizes keep every single-axis move inside it.
TRANSLATE_AT_10 = 0.2  # fraction of the output width (horizontal) or height (vertical)
# Pan and tilt are rotations, sized by how far they swing the view centre across the world
# (a fraction of the output width or height) so portrait and landscape both stay inside.
TURN_AT_10 = 0.16
ROLL_AT_10 = math.radians(15)
ZOOM_AT_10 = 1.45  # magnification factor; negative zoom values magnify (narrower field)
# Focal length relative to the output's long side: about a 50 degree horizontal field of view.
FOCAL = 1.07


@dataclass(frozen=True)
class Move:
    """A camera move in Kling's axis units (-10..10), reached at the end of the clip."""

    horizontal: float = 0.0
    vertical: float = 0.0
    pan: float = 0.0
    tilt: float = 0.0
    roll: float = 0.0
    zoom: float = 0.0


AXES = tuple(f.name for f in fields(Move))

# Kling's preset moves have no published numbers; these combinations read as their names.
PRESETS = {
    "down_back": Move(vertical=-5, zoom=6),
    "forward_up": Move(vertical=5, zoom=-7),
    "right_turn_forward": Move(pan=7, horizontal=2, zoom=-5),
    "left_turn_forward": Move(pan=-7, horizontal=-2, zoom=-5),
}
# Without camera_control a clip still should not look frozen: a slow push-in with a drift.
DEFAULT_MOVE = Move(horizontal=1, zoom=-2)


def move_from_camera_control(camera_control: dict | None) -> Move:
    """Translate Kling's camera_control object into a Move."""
    if not camera_control:
        return DEFAULT_MOVE
    kind = camera_control.get("type")
    config = camera_control.get("config") or {}
    if kind in PRESETS:
        return PRESETS[kind]
    if kind in AXES and "value" in config:
        # Third-party shorthand {"type": "zoom", "config": {"value": -5}}: one axis set.
        return Move(**{kind: _axis_value(config["value"], kind)})
    if kind == "simple":
        return Move(**{axis: _axis_value(config.get(axis, 0), axis) for axis in AXES})
    raise RenderError(f"unknown camera_control type {kind!r}")


def _axis_value(value: object, axis: str) -> float:
    try:
        number = float(value or 0)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RenderError(f"camera_control {axis} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise RenderError(f"camera_control {axis} must be finite")
    return max(-10.0, min(10.0, number))


@dataclass(frozen=True)
class CameraPath:
    """The view of every frame for one move, output size and world size."""

    move: Move
    output: tuple[int, int]
    world: tuple[int, int]
    frames: int

    def progress(self, index: int) -> float:
        """Eased progress 0..1 of frame index; ease-in-out so moves start and stop softly."""
        linear = index / max(1, self.frames - 1)
        return 0.5 - 0.5 * math.cos(math.pi * linear)

    def view(self, index: int) -> Matrix:
        """Output-to-world homography of frame index, kept inside the world canvas."""
        return self._fit(self._view_at(self.progress(index)))

    def tail_view(self, index: int) -> Matrix:
        """View for the last-frame image: the same motion, arriving at the centre at the end."""
        end = self._view_at(1.0)
        return self._fit(
            matmul(self._view_at(self.progress(index)), matmul(invert(end), self._home()))
        )

    def _home(self) -> Matrix:
        (w, h), (ww, wh) = self.output, self.world
        return translate((ww - w) / 2, (wh - h) / 2)

    def _view_at(self, t: float) -> Matrix:
        m = self.move
        (w, h), (ww, wh) = self.output, self.world
        f = FOCAL * max(w, h)
        # Camera moving right/up shows world content further right/up (image y grows down).
        tx = m.horizontal / 10 * TRANSLATE_AT_10 * w * t
        ty = -m.vertical / 10 * TRANSLATE_AT_10 * h * t
        zoom = ZOOM_AT_10 ** (-m.zoom / 10 * t)
        pan = math.atan(TURN_AT_10 * w / f) * m.pan / 10 * t
        tilt = math.atan(TURN_AT_10 * h / f) * m.tilt / 10 * t
        roll = -m.roll / 10 * ROLL_AT_10 * t
        rotation = matmul(rotate_y(pan), matmul(rotate_x(tilt), rotate_z(roll)))
        # K R K^-1 in centred coordinates: a pure camera rotation seen on a flat world.
        lens = matmul(scale(f, f), matmul(rotation, scale(1 / f, 1 / f)))
        return matmul(
            translate(ww / 2 + tx, wh / 2 + ty),
            matmul(scale(1 / zoom, 1 / zoom), matmul(lens, translate(-w / 2, -h / 2))),
        )

    def _fit(self, view: Matrix) -> Matrix:
        """Shrink the view about its centre (zoom in a little) where it would leave the world."""
        (w, h), (ww, wh) = self.output, self.world
        ox, oy = apply(view, w / 2, h / 2)
        cx, cy = min(max(ox, 1.0), ww - 1.0), min(max(oy, 1.0), wh - 1.0)
        k = 1.0
        for x, y in ((0, 0), (w, 0), (w, h), (0, h)):
            px, py = apply(view, x, y)
            k = min(k, _room(px - ox, cx, ww), _room(py - oy, cy, wh))
        if k < 1.0 or (cx, cy) != (ox, oy):
            view = matmul(matmul(translate(cx, cy), matmul(scale(k, k), translate(-ox, -oy))), view)
        return normalise(view)


def _room(offset: float, centre: float, limit: float) -> float:
    """Largest factor (at most 1) keeping centre + factor * offset inside [0, limit]."""
    if centre + offset > limit:
        return (limit - centre) / offset
    if centre + offset < 0:
        return centre / -offset
    return 1.0


def matmul(a: Matrix, b: Matrix) -> Matrix:
    """3x3 matrix product a @ b."""
    return tuple(  # type: ignore[return-value]
        sum(a[r * 3 + k] * b[k * 3 + c] for k in range(3)) for r in range(3) for c in range(3)
    )


def invert(m: Matrix) -> Matrix:
    """Inverse of a 3x3 matrix (adjugate over determinant)."""
    a, b, c, d, e, f, g, h, i = m
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    adj = (
        e * i - f * h, c * h - b * i, b * f - c * e,
        f * g - d * i, a * i - c * g, c * d - a * f,
        d * h - e * g, b * g - a * h, a * e - b * d,
    )  # fmt: skip
    return tuple(x / det for x in adj)  # type: ignore[return-value]


def normalise(m: Matrix) -> Matrix:
    """Scale a homography so its bottom-right entry is 1 (the form Pillow expects)."""
    return tuple(x / m[8] for x in m)  # type: ignore[return-value]


def apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    """Map the point (x, y) through homography m."""
    w = m[6] * x + m[7] * y + m[8]
    return (m[0] * x + m[1] * y + m[2]) / w, (m[3] * x + m[4] * y + m[5]) / w


def translate(x: float, y: float) -> Matrix:
    """Translation by (x, y)."""
    return (1.0, 0.0, x, 0.0, 1.0, y, 0.0, 0.0, 1.0)


def scale(x: float, y: float) -> Matrix:
    """Scaling about the origin."""
    return (x, 0.0, 0.0, 0.0, y, 0.0, 0.0, 0.0, 1.0)


def rotate_y(angle: float) -> Matrix:
    """Camera pan: positive turns right."""
    c, s = math.cos(angle), math.sin(angle)
    return (c, 0.0, s, 0.0, 1.0, 0.0, -s, 0.0, c)


def rotate_x(angle: float) -> Matrix:
    """Camera tilt: positive looks up (image y grows downward)."""
    c, s = math.cos(angle), math.sin(angle)
    return (1.0, 0.0, 0.0, 0.0, c, -s, 0.0, s, c)


def rotate_z(angle: float) -> Matrix:
    """Camera roll: positive turns the view window counter-clockwise on screen."""
    c, s = math.cos(angle), math.sin(angle)
    return (c, s, 0.0, -s, c, 0.0, 0.0, 0.0, 1.0)
