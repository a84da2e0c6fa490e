"""A valid frame is kept when another field fails (issue 9).

A browser cannot refill a file input, so a form re-rendered with an error would make the
user pick the frame again. Instead the valid upload is written to storage under kept/ and
the page carries a signed token naming it, its field and its owner: the next POST may give
the token instead of the file. The token is useless to anyone else (it names the user) and
expires; kept files older than that are deleted by purge_kept_frames (the due loop).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

KEPT_DIR = "kept"
SALT = "studio.kept-frame"
MAX_AGE_SECONDS = 24 * 3600
# Listing storage (S3 perhaps) every second of the due loop would cost more than it saves.
PURGE_EVERY_SECONDS = 600
KEPT_FIELDS = ("image", "image_tail")
_last_purge = 0.0


@dataclass(frozen=True)
class KeptFrame:
    """A frame in storage, the token that names it, and the file name the user chose."""

    token: str
    name: str
    filename: str


def keep(upload: Any, field: str, extension: str, user_pk: int) -> KeptFrame:
    """Store a valid upload for the next POST of the same user; the token names it."""
    name = default_storage.save(f"{KEPT_DIR}/{uuid.uuid4().hex}.{extension}", upload)
    filename = str(getattr(upload, "name", "") or f"{field}.{extension}").rsplit("/", 1)[-1]
    token = signing.dumps({"u": user_pk, "f": field, "n": name, "o": filename}, salt=SALT)
    return KeptFrame(token=token, name=name, filename=filename)


def unsign(token: str, field: str | None, user_pk: int | None) -> KeptFrame:
    """The kept frame a token names, if it is this user's, for this field, and still there."""
    refused = ValidationError(
        _("The kept frame is no longer available: choose the file again."), code="kept_frame"
    )
    try:
        value = signing.loads(token, salt=SALT, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature as exc:
        raise refused from exc
    if (
        not isinstance(value, dict)
        or user_pk is None
        or value.get("u") != user_pk
        or (field is not None and value.get("f") != field)
        or not str(value.get("n", "")).startswith(f"{KEPT_DIR}/")
        or not default_storage.exists(value["n"])
    ):
        raise refused
    return KeptFrame(token=token, name=value["n"], filename=str(value.get("o", "")))


def open_kept(kept: KeptFrame) -> File:
    """The kept bytes as an upload would be: a file with a name and a size."""
    handle = default_storage.open(kept.name, "rb")
    upload = File(handle, name=kept.filename or kept.name.rsplit("/", 1)[-1])
    return upload


def purge_kept_frames(*, force: bool = False) -> int:
    """Delete kept frames older than their tokens (at most every PURGE_EVERY_SECONDS)."""
    global _last_purge
    now = time.monotonic()
    if not force and now - _last_purge < PURGE_EVERY_SECONDS:
        return 0
    _last_purge = now
    if not default_storage.exists(KEPT_DIR):
        return 0
    cutoff = timezone.now() - timedelta(seconds=MAX_AGE_SECONDS)
    purged = 0
    for filename in default_storage.listdir(KEPT_DIR)[1]:
        name = f"{KEPT_DIR}/{filename}"
        if default_storage.get_modified_time(name) < cutoff:
            default_storage.delete(name)
            purged += 1
    return purged
