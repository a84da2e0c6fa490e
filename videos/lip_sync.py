"""identify-face (kling-kinds.md §7.6): synchronous, so not a job; the web page and the API
call it inline and get our own session, whose faces (and their pictures) we keep.

The call goes to the provider that made the clip: the clip's upstream video id exists only
on that account (and so will the session). No network call runs inside a transaction: the
upstream answers first, then one insert records the session.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.utils import timezone

from .models import Generation, LipSyncSession, Status
from .providers import FaceSession, UpstreamError
from .providers.fetch import FetchError, open_url

MAX_SOURCE_SECONDS = 60  # identify-face takes videos of at most 60 s
MAX_SOURCE_AGE = timedelta(days=30)
FACE_IMAGE_BYTES = 2 * 1024 * 1024
FACE_IMAGE_TYPES = ("image/jpeg", "image/jpg", "image/png", "application/octet-stream")


class FaceError(Exception):
    """identify-face cannot run or failed: the message names what, for the field `field`."""

    def __init__(self, message: str, *, field: str = "video_id", unavailable: bool = False):
        super().__init__(message)
        self.message, self.field, self.unavailable = message, field, unavailable


def source_problem(source: Generation) -> str | None:
    """Why faces cannot be identified in this clip (§7.6), or None."""
    ref = source.pk
    if source.status != Status.SUCCEEDED or not source.video:
        return f"The video {ref} is not finished ({source.status})."
    if (source.video_duration or 0) > MAX_SOURCE_SECONDS:
        return f"The video {ref} is {source.video_duration:g} s long; lip-sync takes up to 60 s."
    if source.finished_at and source.finished_at < timezone.now() - MAX_SOURCE_AGE:
        return f"The video {ref} is older than 30 days; the upstream no longer keeps it."
    if not source.upstream_video_id:
        return f"The video {ref} has no upstream video id (it was not made by a provider)."
    return None


def can_lip_sync(source: Generation) -> bool:
    """Whether the detail page offers "Lip-sync" for this clip."""
    return source_problem(source) is None and source.provider_id is not None


def identify_faces(source: Generation, owner: Any, api_key: Any = None) -> LipSyncSession:
    """Ask the clip's own provider for its faces and keep them under a new session of ours."""
    if problem := source_problem(source):
        raise FaceError(problem)
    provider = source.provider
    # Pinned (kling-kinds.md §7 "Common"): the upstream video id is valid on this account only.
    if provider is None:
        raise FaceError(
            f"The provider that made video {source.pk} was removed; its video id existed only "
            "there.",
            unavailable=True,
        )
    if not provider.enabled or not provider.healthy:
        state = "disabled" if not provider.enabled else f"unhealthy: {provider.health_message}"
        raise FaceError(
            f"{provider.name} is {state}; video {source.pk} exists only on {provider.name}, so "
            "no other provider can identify its faces. Try again when it is back.",
            unavailable=True,
        )
    with tempfile.TemporaryDirectory(prefix="studio-faces-") as tmp:
        local_copy = Path(tmp) / "video.mp4"
        with default_storage.open(source.video.name, "rb") as src, open(local_copy, "wb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                dst.write(chunk)
        try:
            answer = provider.upstream().identify_faces(source.upstream_video_id, str(local_copy))
        except UpstreamError as exc:
            source.record("error", f"identify-face on {provider.name}: {exc.message}", exc.raw)
            raise FaceError(
                f"{provider.name} could not identify faces: {exc.message}",
                unavailable=not exc.permanent,
            ) from exc
    if not answer.faces:
        raise FaceError(f"No face was found in video {source.pk}.")
    return _keep(source, owner, api_key, provider, answer)


def _keep(
    source: Generation, owner: Any, api_key: Any, provider: Any, answer: FaceSession
) -> LipSyncSession:
    session = LipSyncSession(
        owner=owner,
        api_key=api_key,
        source=source,
        provider=provider,
        upstream_session_id=answer.session_id[:128],
        units=answer.units,
        expires_at=timezone.now() + LipSyncSession.lifetime(),
    )
    faces, saved = [], []
    try:
        for face in answer.faces:
            name = _store_face_image(session.pk, face.face_id, face.image, face.image_url)
            if name:
                saved.append(name)
            faces.append(
                {
                    "face_id": face.face_id,
                    "start_time": face.start_time,
                    "end_time": face.end_time,
                    "image": name,
                }
            )
        session.faces = faces
        session.save(force_insert=True)
    except BaseException:
        for name in saved:
            default_storage.delete(name)
        raise
    source.record(
        "info", f"identify-face on {provider.name}: {len(faces)} face(s), session {session.pk}"
    )
    return session


def _store_face_image(session_pk: int, face_id: str, image: bytes, url: str) -> str:
    """The face's picture in our storage (upstream links expire); "" when it cannot be had."""
    safe = "".join(c for c in face_id if c.isalnum() or c in "-_")[:40] or "face"
    target = f"lip-sync/{session_pk}/face-{safe}.jpg"
    if image:
        return default_storage.save(target, ContentFile(image))
    if not url:
        return ""
    try:
        with tempfile.TemporaryFile() as tmp:
            with open_url(
                url, max_bytes=FACE_IMAGE_BYTES, allowed_types=FACE_IMAGE_TYPES
            ) as chunks:
                for chunk in chunks:
                    tmp.write(chunk)
            tmp.seek(0)
            return default_storage.save(target, File(tmp))
    except FetchError:
        return ""  # a face without its picture is still a face: its times are what count
