"""Inputs given by URL are fetched by the worker, checked like uploads, and stored by us;
before a create, every input the kind needs is staged as a local file."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import av
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage

from .images import MAX_IMAGE_BYTES, check_frame
from .models import Generation, GenerationInput
from .providers.fetch import FetchError, open_url, without_credentials


class InputFetchError(Exception):
    """An input given by URL could not be fetched, or is not usable."""


IMAGE_TYPES = ("image/jpeg", "image/jpg", "image/png")
LABELS = {"image": "first frame", "image_tail": "last frame", "static_mask": "static mask"}


def ensure_input_stored(generation: Generation, field: str) -> str | None:
    """The storage name of an input frame, fetching it from its URL the first time."""
    stored = getattr(generation, field)
    if stored:
        return stored.name
    url = getattr(generation, f"{field}_url", "")
    if not url:
        return None
    label = LABELS.get(field, field)
    with tempfile.TemporaryFile() as tmp:
        try:
            with open_url(url, max_bytes=MAX_IMAGE_BYTES, allowed_types=IMAGE_TYPES) as chunks:
                size = 0
                for chunk in chunks:
                    tmp.write(chunk)
                    size += len(chunk)
            _w, _h, ext = check_frame(tmp, size, label)
        except FetchError as exc:
            raise InputFetchError(f"The {label} could not be fetched: {exc}") from exc
        except ValidationError as exc:
            shown = without_credentials(url)  # the message is on the team's timeline
            raise InputFetchError(
                f"The {label} at {shown} is not usable: {exc.messages[0]}"
            ) from exc
        name = default_storage.save(f"inputs/{generation.pk}/{field}.{ext}", File(tmp))
    generation.store_input(field, name)
    return name


# What an input of the newer kinds may be when given by URL: (content types, byte cap).
ROW_RULES = {
    "image": (IMAGE_TYPES, MAX_IMAGE_BYTES),
    # kling-kinds.md §7.3: a reference video is mp4/mov, at most 200 MB.
    "video": (("video/mp4", "video/quicktime", "application/octet-stream"), 200 * 1024 * 1024),
    # §7.6: a voice line is mp3/wav/m4a/aac, at most 5 MB.
    "audio": (
        (
            "audio/mpeg",
            "audio/mp3",
            "audio/wav",
            "audio/x-wav",
            "audio/wave",
            "audio/mp4",
            "audio/x-m4a",
            "audio/aac",
            "application/octet-stream",
        ),
        5 * 1024 * 1024,
    ),
}


# kling-kinds.md §7.3: what Kling takes as an omni-video reference video, checked once fetched
# so the job fails with a clear message instead of an upstream 1201 (or a render error).
REFERENCE_VIDEO = {"min_seconds": 3.0, "sides": (720, 2160), "fps": (24.0, 60.0)}


def check_reference_video(stream: IO[bytes], label: str) -> None:
    """Raise ValidationError unless the video lasts ≥ 3 s, with sides and frame rate in range."""
    stream.seek(0)
    try:
        with av.open(stream) as container:
            video = container.streams.video[0]
            width, height = video.codec_context.width, video.codec_context.height
            fps = float(video.average_rate or 0)
            seconds = (container.duration or 0) / av.time_base
    except (av.error.FFmpegError, IndexError, ValueError) as exc:
        raise ValidationError(f"The {label} is not a readable video.", code="video") from exc
    low, high = REFERENCE_VIDEO["sides"]
    if seconds < REFERENCE_VIDEO["min_seconds"]:
        raise ValidationError(f"The {label} lasts {seconds:.1f} s; at least 3 s is needed.")
    if not (low <= width <= high and low <= height <= high):
        raise ValidationError(f"The {label} is {width}×{height}; sides must be {low}..{high} px.")
    if not REFERENCE_VIDEO["fps"][0] <= fps <= REFERENCE_VIDEO["fps"][1]:
        raise ValidationError(f"The {label} runs at {fps:.0f} fps; 24..60 fps is needed.")


def ensure_row_stored(row: GenerationInput) -> str:
    """The storage name of a listed input, fetching it from its URL the first time."""
    if row.file:
        return row.file.name
    types, max_bytes = ROW_RULES.get(row.role, ROW_RULES["image"])
    label = f"{row.role} {row.position + 1}"
    with tempfile.TemporaryFile() as tmp:
        try:
            with open_url(row.url, max_bytes=max_bytes, allowed_types=types) as chunks:
                size = 0
                for chunk in chunks:
                    tmp.write(chunk)
                    size += len(chunk)
            extension = "bin"
            if row.role == "image":
                _w, _h, extension = check_frame(tmp, size, label)
            else:
                extension = Path(urlsplit(row.url).path).suffix.lstrip(".").lower()[:5] or "bin"
            if row.role == "video" and "refer_type" in row.meta:
                check_reference_video(tmp, label)  # an omni-video reference (§7.3)
        except FetchError as exc:
            raise InputFetchError(f"The {label} could not be fetched: {exc}") from exc
        except ValidationError as exc:
            shown = without_credentials(row.url)  # the message is on the team's timeline
            raise InputFetchError(
                f"The {label} at {shown} is not usable: {exc.messages[0]}"
            ) from exc
        name = default_storage.save(
            f"inputs/{row.generation_id}/{row.role}-{row.position}.{extension}", File(tmp)
        )
    row.keep_file(name)
    return name


def stage_inputs(generation: Generation, fields: tuple[str, ...], workdir: str) -> dict[str, str]:
    """Copy the inputs a create needs from storage (S3 included) into workdir.

    Returns name -> local path: a frame by its field ("image"), a listed input by its role
    and position ("image.0", "video.0", "audio.0").
    """
    stored: dict[str, str] = {}
    for field in fields:
        if name := ensure_input_stored(generation, field):
            stored[field] = name
    for row in generation.inputs.all():
        stored[row.field] = ensure_row_stored(row)
    files: dict[str, str] = {}
    for key, name in stored.items():
        files[key] = copy_to_local(name, Path(workdir) / f"{key}{Path(name).suffix or '.bin'}")
    return files


def copy_to_local(name: str, target: str | Path) -> str:
    """A stored file (S3 included) copied to a local path for the renderer or an upload,
    a megabyte at a time; returns the path."""
    with default_storage.open(name, "rb") as src, open(target, "wb") as dst:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            dst.write(chunk)
    return str(target)
