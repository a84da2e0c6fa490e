"""Small image files for tests, made with Pillow."""

from __future__ import annotations

from io import BytesIO

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


def image_bytes(
    width: int = 640, height: int = 360, fmt: str = "JPEG", color: tuple = (200, 80, 40)
) -> bytes:
    buf = BytesIO()
    img = Image.new("RGB", (width, height), color)
    for x in range(0, width, 40):  # some structure so frames are not flat
        img.paste((20, 20, 20), (x, 0, x + 8, height))
    img.save(buf, fmt)
    return buf.getvalue()


def upload(name: str = "frame.jpg", **kwargs: object) -> SimpleUploadedFile:
    fmt = "PNG" if name.endswith(".png") else ("GIF" if name.endswith(".gif") else "JPEG")
    return SimpleUploadedFile(name, image_bytes(fmt=fmt, **kwargs))
