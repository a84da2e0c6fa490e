"""Checks for first/last-frame images: the rules of kling-api.md §1.4, on the decoded image."""

from __future__ import annotations

import base64
import binascii
import re
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MIN_SIDE = 300
MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding any pixel
ALLOWED_FORMATS = {"JPEG": "jpg", "PNG": "png"}
DATA_URI = re.compile(r"^data:image/[a-zA-Z0-9.+-]+;base64,", re.IGNORECASE)


def check_frame(stream: IO[bytes], size: int, label: str = "image") -> tuple[int, int, str]:
    """Validate a frame image; returns (width, height, extension) or raises ValidationError."""
    if size > MAX_IMAGE_BYTES:
        raise ValidationError(
            _("The %(label)s is %(mb).1f MB; the limit is 10 MB."),
            code="too_big",
            params={"label": label, "mb": size / 1e6},
        )
    if size == 0:
        raise ValidationError(_("The %(label)s is empty."), code="empty", params={"label": label})
    try:
        stream.seek(0)
        with Image.open(stream) as img:  # reads the header only: size is known before decoding
            fmt, (width, height) = img.format, img.size
            if fmt not in ALLOWED_FORMATS:
                raise ValidationError(
                    _("The %(label)s must be a JPEG or PNG, not %(format)s."),
                    code="format",
                    params={"label": label, "format": fmt},
                )
            if width * height > MAX_PIXELS:
                raise ValidationError(
                    _("The %(label)s has too many pixels (%(size)s)."),
                    code="pixels",
                    params={"label": label, "size": f"{width}×{height}"},
                )
            img.verify()  # PNG: walks the chunks and their checksums
        _decode(stream)
    except Image.DecompressionBombError as exc:
        # Pillow refuses to even open a header declaring over ~179 million pixels.
        raise ValidationError(
            _("The %(label)s has too many pixels."), code="pixels", params={"label": label}
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValidationError(
            _("The %(label)s is not a readable JPEG or PNG image."),
            code="invalid",
            params={"label": label},
        ) from exc
    finally:
        stream.seek(0)
    if width < MIN_SIDE or height < MIN_SIDE:
        raise ValidationError(
            _("The %(label)s is %(size)s; width and height must be at least %(min)d px."),
            code="small",
            params={"label": label, "size": f"{width}×{height}", "min": MIN_SIDE},
        )
    ratio = width / height
    if not (1 / 2.5 <= ratio <= 2.5):
        raise ValidationError(
            _("The %(label)s's aspect ratio %(ratio)s is outside 1:2.5 to 2.5:1."),
            code="aspect",
            params={"label": label, "ratio": f"{width}:{height}"},
        )
    return width, height, ALLOWED_FORMATS[fmt]


def _decode(stream: IO[bytes]) -> None:
    """Decode the pixels (the size is already known to be within limits).

    verify() reads no JPEG data at all and no PNG pixel data, so a truncated or garbled
    file would pass it. A JPEG is decoded at 1/8 scale: every byte is read, little memory.
    """
    stream.seek(0)
    with Image.open(stream) as img:
        if img.format == "JPEG":
            img.draft("RGB", (max(1, img.width // 8), max(1, img.height // 8)))
        img.load()


def decode_base64_image(
    value: str, name: str, *, what: str = "image", urls: bool = True
) -> SimpleUploadedFile:
    """Turn raw Base64 or a data: URI into an uploaded file (validated later like any upload)."""
    payload = DATA_URI.sub("", value.strip(), count=1)
    if len(payload) > MAX_IMAGE_BYTES * 4 // 3 + 8:
        raise ValidationError(f"The {what} is larger than 10 MB.", code="too_big")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        either = "neither an http(s) URL nor" if urls else "not"
        raise ValidationError(f"The {what} is {either} valid Base64.", code="base64") from exc
    return SimpleUploadedFile(name, raw)


def check_mask(value: Any, label: str) -> tuple[str, int, int]:
    """A motion-brush mask given as Base64 or a data: URI, checked like any frame image.

    Returns (raw Base64, width, height): the upstream is sent the bytes that were checked,
    without a data: prefix (kling-api.md §1.4), never the client's text as it came.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"The {label} must be a Base64 JPEG or PNG.", code="invalid")
    if value.strip().lower().startswith(("http://", "https://")):
        raise ValidationError(
            f"Give the {label} as Base64; mask URLs are not supported.", code="url"
        )
    upload = decode_base64_image(value, "mask", what=label, urls=False)
    width, height, _ext = check_frame(upload, upload.size, label)
    return base64.b64encode(upload.read()).decode(), width, height


def same_aspect(size: tuple[int, int], other: tuple[int, int]) -> bool:
    """Whether two images have the same aspect ratio, within what the upstream tolerates."""
    return abs(size[0] / size[1] - other[0] / other[1]) <= 0.01
