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
from django.utils.translation import gettext as _

from .inputs import copy_to_local
from .models import Generation, LipSyncSession, Provider, Status
from .providers import FaceSession, UpstreamError
from .providers.fetch import FetchError, open_url
from .rendering import RenderError, probe_video

MAX_SOURCE_SECONDS = 60  # identify-face takes videos of at most 60 s
MAX_SOURCE_AGE = timedelta(days=30)
FACE_IMAGE_BYTES = 2 * 1024 * 1024
MAX_URL_VIDEO_BYTES = 100 * 1024 * 1024
VIDEO_TYPES = ("video/mp4", "video/quicktime", "application/octet-stream")
LIP_SYNC_MODEL = "kling-lip-sync"  # the catalogue entry that routes lip-sync
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
        return _("The video %(ref)s is not finished (%(status)s).") % {
            "ref": ref,
            "status": source.status,
        }
    if problem := source.account_video_problem():
        return problem
    if (source.video_duration or 0) > MAX_SOURCE_SECONDS:
        return _("The video %(ref)s is %(seconds)s s long; lip-sync takes up to 60 s.") % {
            "ref": ref,
            "seconds": f"{source.video_duration:g}",
        }
    if source.finished_at and source.finished_at < timezone.now() - MAX_SOURCE_AGE:
        return _("The video %(ref)s is older than 30 days; the upstream no longer keeps it.") % {
            "ref": ref
        }
    if not source.upstream_video_id:
        return _("The video %(ref)s has no upstream video id (it was not made by a provider).") % {
            "ref": ref
        }
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
            _("The provider that made video %(ref)s was removed; its video id existed only there.")
            % {"ref": source.pk},
            unavailable=True,
        )
    if not provider.enabled or not provider.healthy:
        state = (
            _("disabled")
            if not provider.enabled
            else _("unhealthy: %(why)s") % {"why": provider.health_message}
        )
        raise FaceError(
            _(
                "%(provider)s is %(state)s; video %(ref)s exists only on %(provider)s, so "
                "no other provider can identify its faces. Try again when it is back."
            )
            % {"provider": provider.name, "state": state, "ref": source.pk},
            unavailable=True,
        )
    with tempfile.TemporaryDirectory(prefix="studio-faces-") as tmp:
        local_copy = copy_to_local(source.video.name, Path(tmp) / "video.mp4")
        answer = _ask(
            provider,
            source,
            video_id=source.upstream_video_id,
            video_path=local_copy,
        )
    session = _new_session(owner, api_key, provider, answer, source=source)
    return _keep(session, answer)


def identify_faces_at(url: str, owner: Any, api_key: Any = None) -> LipSyncSession:
    """Faces of a video given by URL (mp4/mov, ≤ 100 MB, 2..60 s, sides 512..2160 px).

    Any provider serving lip-sync may take it (in priority order, real upstreams first);
    the session, and so the lip-sync, is then pinned to the one that did. We keep a copy of
    the video: its length checks the lip-sync's times, and the local renderer draws on it.
    """
    providers = Provider.objects.serving(LIP_SYNC_MODEL)
    if not providers:
        raise FaceError(
            Provider.objects.unavailable_reason(LIP_SYNC_MODEL), field="video_url", unavailable=True
        )
    provider = providers[0]
    with tempfile.TemporaryDirectory(prefix="studio-faces-") as tmp:
        local_copy = Path(tmp) / "video.mp4"
        duration = _fetch_video(url, local_copy)
        answer = _ask(provider, None, video_url=url, video_path=str(local_copy))
        session = _new_session(owner, api_key, provider, answer, video_url=url)
        session.video_duration = duration
        with open(local_copy, "rb") as fh:
            session.video.name = default_storage.save(f"lip-sync/{session.pk}/video.mp4", File(fh))
    try:
        return _keep(session, answer)
    except BaseException:
        default_storage.delete(session.video.name)
        raise


def _fetch_video(url: str, target: Path) -> float:
    """Download a video to identify faces in, checked as identify-face checks it; its length."""
    try:
        with (
            open_url(url, max_bytes=MAX_URL_VIDEO_BYTES, allowed_types=VIDEO_TYPES) as chunks,
            open(target, "wb") as out,
        ):
            for chunk in chunks:
                out.write(chunk)
        meta = probe_video(str(target))
    except FetchError as exc:
        raise FaceError(
            _("The video could not be fetched: %(why)s") % {"why": exc}, field="video_url"
        ) from exc
    except RenderError as exc:
        raise FaceError(
            _("The video at video_url is not playable: %(why)s") % {"why": exc},
            field="video_url",
        ) from exc
    if not 2 <= meta.duration <= MAX_SOURCE_SECONDS:
        raise FaceError(
            _("The video is %(seconds)s s long; identify-face takes 2 to 60 s.")
            % {"seconds": f"{meta.duration:.1f}"},
            field="video_url",
        )
    if not (512 <= min(meta.width, meta.height) and max(meta.width, meta.height) <= 2160):
        raise FaceError(
            _("The video is %(width)s×%(height)s; its sides must be 512 to 2160 px.")
            % {"width": meta.width, "height": meta.height},
            field="video_url",
        )
    return meta.duration


def _ask(
    provider: Provider, source: Generation | None, *, video_path: str, **video: str
) -> FaceSession:
    field = "video_id" if source is not None else "video_url"
    try:
        answer = provider.upstream().identify_faces(video_path=video_path, **video)
    except UpstreamError as exc:
        if source is not None:
            source.record("error", f"identify-face on {provider.name}: {exc.message}", exc.raw)
        raise FaceError(
            _("%(provider)s could not identify faces: %(why)s")
            % {"provider": provider.name, "why": exc.message},
            field=field,
            unavailable=not exc.permanent,
        ) from exc
    if not answer.faces:
        raise FaceError(_("No face was found in the video."), field=field)
    return answer


def _new_session(
    owner: Any, api_key: Any, provider: Provider, answer: FaceSession, **where: Any
) -> LipSyncSession:
    return LipSyncSession(
        owner=owner,
        api_key=api_key,
        provider=provider,
        upstream_session_id=answer.session_id[:128],
        units=answer.units,
        expires_at=timezone.now() + LipSyncSession.lifetime(),
        **where,
    )


def _keep(session: LipSyncSession, answer: FaceSession) -> LipSyncSession:
    """Store the faces' pictures, then the session row; no picture is left without its row."""
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
    if session.source is not None:
        session.source.record(
            "info",
            f"identify-face on {session.provider.name}: {len(faces)} face(s), session {session.pk}",
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
