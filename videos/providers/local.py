"""The built-in local renderer as an upstream: the same interface as Kling's, offline.

It reads the same strict Kling body every other upstream gets (with the input files the
jobs prepared beside it) and renders during submit: a task that exists only while its
submit runs. So an interrupted render is simply "certainly not created" (the jobs create
it again), and there is nothing to list, poll or download: the answer carries the file.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from ..rendering import RenderError, render_request
from ..rendering.lip_sync import identify_faces as find_faces
from .base import (
    FEATURES,
    Face,
    FaceSession,
    ProviderConfig,
    ResourcePack,
    TaskState,
    UpstreamError,
    UpstreamRequest,
)

# A render takes seconds (bench/render_speed.py: well under half real time for 15 s clips);
# three minutes leaves room for a loaded machine before another worker may take the job over.
RENDER_SECONDS = 180.0


class LocalUpstream:
    """Renders each create in the worker that submits it (videos/rendering)."""

    lists_tasks = False
    lookup_grace = 0.0  # nothing can be in flight elsewhere: a lost render is simply redone
    submit_seconds = RENDER_SECONDS
    # The renderer draws every kind and feature (videos/rendering).
    kinds: frozenset[str] | None = None
    features = FEATURES

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    def submit(self, request: UpstreamRequest) -> TaskState:
        """Render the request into its workdir; the answer is a finished task with its file."""
        try:
            video, poster = render_request(
                request.kind, request.body, request.files, request.workdir
            )
        except RenderError as exc:
            raise UpstreamError(
                f"the local renderer cannot do this: {exc}", permanent=True
            ) from exc
        return TaskState(
            task_id=f"local-{request.external_id}",
            status="succeeded",
            video_path=video,
            poster_path=poster,
            # The built-in renderer charges what the catalogue estimates: budgets stay honest.
            units=request.estimated_units,
            video_id=f"local-{request.external_id}",
        )

    def fetch(self, kind: str, task_id: str) -> TaskState:
        """A render lives only inside its submit: asked later, it was interrupted."""
        return TaskState(
            task_id=task_id,
            status="failed",
            message="the local render was interrupted before its video was stored; re-run it",
        )

    def scan(
        self, kind: str, wanted: Iterable[str], *, oldest_ms: int, max_pages: int
    ) -> dict[str, TaskState]:
        return {}

    def find_by_external_id(
        self, kind: str, external_id: str, *, since: float | None
    ) -> TaskState | None:
        """Certainly absent: a render that did not finish its submit left nothing behind."""
        return None

    def probe(self) -> str:
        return "the built-in renderer is always available"

    def identify_faces(
        self, *, video_id: str = "", video_url: str = "", video_path: str
    ) -> FaceSession:
        """The renderer's one face over the whole clip (videos/rendering/lip_sync.py)."""
        try:
            found = find_faces(video_path)
        except RenderError as exc:
            raise UpstreamError(
                f"the local renderer cannot read this video: {exc}", permanent=True
            ) from exc
        faces = [Face(f.face_id, f.start_time, f.end_time, image=f.face_image) for f in found]
        return FaceSession(session_id=f"local-{uuid.uuid4().hex}", faces=faces)

    def takes_external_id(self, model: str) -> bool:
        return True  # nothing is in flight elsewhere: find_by_external_id answers at once

    def download(self, url: str, target: str, *, max_bytes: int, deadline: float) -> bool:
        return False  # results are local files, never URLs

    def balance(self) -> list[ResourcePack] | None:
        """The built-in renderer spends no account: not metered (kling-kinds.md §7.8)."""
        return None
