"""Serving stored media with HTTP Range support (Django does not answer Range requests).

Browsers seek in a <video> by asking for byte ranges; without 206 answers seeking
breaks. Files are streamed from storage in chunks, so memory stays flat whatever
the file size.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

from django.core import signing
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import reverse

CHUNK = 256 * 1024
RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")  # ASCII digits only: "١" is a digit to \d
SIGNED_MEDIA_SALT = "studio.media"
CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}


def content_type_for(name: str) -> str:
    for ext, ctype in CONTENT_TYPES.items():
        if name.lower().endswith(ext):
            return ctype
    return "application/octet-stream"


def _read_range(fh: IO[bytes], start: int, length: int) -> Iterator[bytes]:
    try:
        fh.seek(start)
        remaining = length
        while remaining > 0:
            chunk = fh.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        fh.close()


def _stream_body(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK)
    finally:
        body.close()


def _s3_object(fh: IO[bytes]) -> Any | None:
    """The boto3 Object behind an S3 file (django-storages' S3File), None for local files."""
    return getattr(fh, "obj", None)


def _stored_range(name: str, start: int, length: int) -> Iterator[bytes]:
    """Bytes start .. start + length - 1 of a stored file, in chunks.

    On S3 one ranged GET streams just those bytes: reading django-storages' S3File first
    downloads the whole object into memory, for every seek of a player in a long video.
    """
    fh = default_storage.open(name, "rb")
    obj = _s3_object(fh)
    if obj is None:
        return _read_range(fh, start, length)
    fh.close()
    return _stream_body(obj.get(Range=f"bytes={start}-{start + length - 1}")["Body"])


def _whole_file(name: str, ctype: str) -> HttpResponse:
    fh = default_storage.open(name, "rb")
    obj = _s3_object(fh)
    if obj is None:  # a local file: FileResponse lets the server use sendfile(2)
        return FileResponse(fh, content_type=ctype)
    fh.close()
    return StreamingHttpResponse(_stream_body(obj.get()["Body"]), content_type=ctype)


def serve_stored_file(request: HttpRequest, name: str, *, download_name: str = "") -> HttpResponse:
    """Answer a GET for a stored file: 200 with the whole file, or 206/416 for a Range."""
    if not name or not default_storage.exists(name):
        return HttpResponse("not found", status=404, content_type="text/plain")
    size = default_storage.size(name)
    ctype = content_type_for(name)
    header = request.headers.get("Range", "").strip()
    match = RANGE.match(header) if header else None
    if match and match.group(1) and match.group(2) and int(match.group(2)) < int(match.group(1)):
        # RFC 9110 §14.2: a range whose last byte precedes its first is invalid, and an
        # invalid Range header is ignored: the whole file is the answer, not a 416.
        match = None
    if header and match and (match.group(1) or match.group(2)):
        first, last = match.groups()
        if first:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
        else:  # a suffix range: the last N bytes
            start, end = max(0, size - int(last)), size - 1
        if start >= size or start > end:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        length = end - start + 1
        response = StreamingHttpResponse(
            _stored_range(name, start, length), status=206, content_type=ctype
        )
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(length)
    else:
        response = _whole_file(name, ctype)
        response["Content-Length"] = str(size)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, max-age=3600"
    if download_name:
        response["Content-Disposition"] = f'attachment; filename="{download_name}"'
    return response


def signed_media_path(name: str) -> str:
    """A path that serves a stored file without a session: for API clients (Kling's result URLs)."""
    token = signing.dumps(name, salt=SIGNED_MEDIA_SALT, compress=True)
    return reverse("signed_media", args=[token])


def unsign_media_name(token: str, max_age: int = 30 * 24 * 3600) -> str | None:
    try:
        return signing.loads(token, salt=SIGNED_MEDIA_SALT, max_age=max_age)
    except signing.BadSignature:
        return None
