"""Inputs given by URL are fetched by the worker, checked like uploads, and stored by us;
before a create, every input the kind needs is staged as a local file."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage

from .images import MAX_IMAGE_BYTES, check_frame
from .models import Generation
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


def stage_inputs(generation: Generation, fields: tuple[str, ...], workdir: str) -> dict[str, str]:
    """Copy the inputs a create needs from storage (S3 included) into workdir: field -> path."""
    files: dict[str, str] = {}
    for field in fields:
        stored = ensure_input_stored(generation, field)
        if not stored:
            continue
        target = Path(workdir) / f"{field}{Path(stored).suffix or '.img'}"
        with default_storage.open(stored, "rb") as src, open(target, "wb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                dst.write(chunk)
        files[field] = str(target)
    return files
