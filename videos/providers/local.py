"""The built-in local renderer as an upstream: asynchronous like a real one, but offline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django_q.tasks import async_task

from .base import TaskState

if TYPE_CHECKING:
    from ..models import Generation, Provider


class LocalUpstream:
    """Submitting enqueues a render job; the render job reports its own result."""

    in_process = True

    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    def submit(self, generation: Generation) -> TaskState:
        async_task(
            "videos.tasks.render_locally", generation.pk, task_name=f"render-{generation.pk}"
        )
        return TaskState(task_id=f"local-{generation.pk}", status="submitted")

    def fetch_status(self, generation: Generation) -> TaskState:
        """Due while still pending means the render job died (its lease ran out): start it again."""
        async_task(
            "videos.tasks.render_locally", generation.pk, task_name=f"render-{generation.pk}"
        )
        return TaskState(
            task_id=generation.upstream_task_id, status=None, message="render restarted"
        )
