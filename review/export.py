"""Streamed exports: the filtered history as CSV or JSON, selected videos as one zip.

Everything is produced as a generator for a StreamingHttpResponse, reading rows in
chunks and files in blocks, so memory stays flat whatever the number of rows or
videos.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Iterator
from typing import Any

from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.utils.text import slugify

from videos.models import Generation

CHUNK_ROWS = 500
FILE_BLOCK = 1024 * 1024

COLUMNS = [
    "id", "created_at", "finished_at", "author", "source", "api_key", "provider", "kind",
    "sound", "shots", "effect_scene", "params", "model_name", "mode", "duration",
    "aspect_ratio", "cfg_scale", "camera_control", "prompt",
    "negative_prompt", "status", "status_message", "units", "video_duration", "tags",
    "rating_average", "rating_count", "comment_count", "parent_id", "project",
]  # fmt: skip


def row(generation: Generation) -> dict[str, Any]:
    """One exported generation; expects the with_review() annotations."""
    return {
        "id": str(generation.pk),  # a string: 64-bit ids lose digits in JavaScript numbers
        "created_at": generation.created_at.isoformat(),
        "finished_at": generation.finished_at.isoformat() if generation.finished_at else None,
        "author": generation.owner.get_username(),
        "source": generation.source,
        "api_key": generation.api_key.name if generation.api_key else None,
        "provider": generation.provider.name if generation.provider else None,
        "kind": generation.kind,
        "sound": "on" if generation.sound else "off",
        "shots": generation.shots(),
        "effect_scene": (generation.params or {}).get("effect_scene", ""),
        "params": generation.params or {},
        "model_name": generation.model_name,
        "mode": generation.mode,
        "duration": generation.duration,
        "aspect_ratio": generation.aspect_ratio,
        "cfg_scale": generation.cfg_scale,
        "camera_control": generation.camera_control,
        "prompt": generation.prompt,
        "negative_prompt": generation.negative_prompt,
        "status": generation.status,
        "status_message": generation.status_message,
        "units": str(generation.units) if generation.units is not None else None,
        "video_duration": generation.video_duration,
        "tags": [t.tag.name for t in generation.taggings.all()],
        "rating_average": (
            round(generation.rating_average, 2) if generation.rating_average is not None else None
        ),
        "rating_count": generation.rating_count,
        "comment_count": generation.comment_count,
        "parent_id": str(generation.parent_id) if generation.parent_id else None,
        "project": generation.project.name if generation.project else None,
    }


def _rows(queryset: QuerySet[Generation]) -> Iterator[dict[str, Any]]:
    # iterator(chunk_size) keeps prefetch_related working one chunk at a time.
    for generation in queryset.iterator(chunk_size=CHUNK_ROWS):
        yield row(generation)


def csv_stream(queryset: QuerySet[Generation]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    for item in _rows(queryset):
        item["tags"] = " ".join(item["tags"])
        if item["camera_control"] is not None:
            item["camera_control"] = json.dumps(item["camera_control"], sort_keys=True)
        item["params"] = json.dumps(item["params"], sort_keys=True) if item["params"] else ""
        writer.writerow(item)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def json_stream(queryset: QuerySet[Generation]) -> Iterator[str]:
    yield "["
    separator = "\n"
    for item in _rows(queryset):
        yield separator + json.dumps(item, ensure_ascii=False)
        separator = ",\n"
    yield "\n]\n"


class _Pipe(io.RawIOBase):
    """A write-only, non-seekable sink: zipfile writes into it, the generator drains it."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out = b"".join(self.chunks)
        self.chunks.clear()
        return out


def zip_name(generation: Generation) -> str:
    words = slugify(generation.prompt)[:40].strip("-") or "video"
    return f"{generation.pk}-{words}.mp4"


def zip_stream(generations: Iterable[Generation]) -> Iterator[bytes]:
    """The videos, stored uncompressed (MP4 is already compressed), plus a manifest.json.

    On a non-seekable stream zipfile writes each entry's sizes in a data descriptor
    after the data, so nothing has to be held back or rewritten.
    """
    pipe = _Pipe()
    manifest = []
    with zipfile.ZipFile(
        pipe, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True
    ) as archive:
        for generation in generations:
            if not generation.video or not default_storage.exists(generation.video.name):
                continue
            name = zip_name(generation)
            info = zipfile.ZipInfo(name, date_time=generation.created_at.timetuple()[:6])
            info.compress_type = zipfile.ZIP_STORED
            with (
                default_storage.open(generation.video.name, "rb") as source,
                archive.open(info, mode="w", force_zip64=True) as target,
            ):
                while block := source.read(FILE_BLOCK):
                    target.write(block)
                    yield pipe.drain()
            manifest.append({"file": name, **generation.parameters(), "id": str(generation.pk)})
            yield pipe.drain()
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
    yield pipe.drain()
