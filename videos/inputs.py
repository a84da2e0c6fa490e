"""Input frames given by URL are fetched by the worker, checked like uploads, and stored by us."""

from __future__ import annotations

import tempfile

from django.core.exceptions import ValidationError
from django.core.files import File

from .images import MAX_IMAGE_BYTES, check_frame
from .models import Generation
from .providers.fetch import FetchError, open_url, without_credentials


class InputFetchError(Exception):
    """A first or last frame given by URL could not be fetched or is not a usable image."""


IMAGE_TYPES = ("image/jpeg", "image/jpg", "image/png")


def ensure_input_stored(generation: Generation, field: str) -> str | None:
    """The storage name of an input frame, fetching it from its URL the first time."""
    stored = getattr(generation, field)
    if stored:
        return stored.name
    url = getattr(generation, f"{field}_url")
    if not url:
        return None
    label = "first frame" if field == "image" else "last frame"
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
        getattr(generation, field).save(f"{field}.{ext}", File(tmp), save=False)
    Generation.objects.filter(pk=generation.pk).update(**{field: getattr(generation, field).name})
    return getattr(generation, field).name
