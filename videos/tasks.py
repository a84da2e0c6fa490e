"""Background jobs (django-q2): plain functions of primary keys.

The flow: a new generation is queued and `submit_generation` is enqueued after the
commit. It hands the job to the first provider with a free slot. From then on the
generation's own `next_poll_at` says when it needs attention, and `run_due` (a loop
started every minute by a django-q2 schedule) acts on due jobs within about a second,
which django-q2's 30-second schedule tick alone could not do.
"""

from __future__ import annotations

import logging
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_q.tasks import async_task

from .models import Generation, Provider, Status
from .providers import TaskState, UpstreamError, get_upstream
from .rendering import RenderError, RenderSpec, render_video

log = logging.getLogger(__name__)

RUN_DUE_SECONDS = 55  # the loop's length: just under the schedule's one-minute interval
WAIT_FOR_SLOT_SECONDS = 5


def enqueue_submit(pk: int) -> None:
    """Queue the submission once the generation row is committed (the worker must see it)."""
    transaction.on_commit(
        lambda: async_task("videos.tasks.submit_generation", pk, task_name=f"submit-{pk}")
    )


def submit_generation(pk: int) -> None:
    """Hand a queued generation to the first usable provider that has a free slot."""
    generation = Generation.objects.filter(pk=pk, status=Status.QUEUED).first()
    if generation is None or not generation.claim():
        return  # already submitted, cancelled, or another worker holds it
    if generation.created_at < timezone.now() - timedelta(seconds=settings.STUDIO_STUCK_AFTER_SECONDS):
        generation.mark_failed("never found a free provider slot; try again later")
        return
    providers = [generation.provider] if generation.provider else Provider.objects.serving(generation.model_name)
    if not providers:
        generation.mark_failed(f"no enabled provider serves the model {generation.model_name!r}")
        return
    for provider in providers:
        if provider.running_count() >= provider.max_concurrent:
            continue  # wait for a slot instead of provoking a concurrency error upstream
        if _submit_to(generation, provider):
            return
        if generation.is_terminal:
            return
    generation.release(next_poll_in=WAIT_FOR_SLOT_SECONDS)


def _submit_to(generation: Generation, provider: Provider) -> bool:
    """Try one provider; True once the job belongs to it."""
    upstream = get_upstream(provider)
    if upstream.in_process:
        # Mark first: the render job may start (and finish) before submit() returns.
        generation.mark_submitted(provider, f"local-{generation.pk}", next_poll_in=_render_lease())
        upstream.submit(generation)
        return True
    try:
        state = upstream.submit(generation)
    except UpstreamError as exc:
        generation.record("error", f"{provider.name}: {exc.message}", exc.raw)
        if exc.permanent:
            generation.mark_failed(exc.message)
        elif exc.provider_problem:
            provider.mark_unhealthy(exc.message)
        return False
    generation.record("upstream", f"{provider.name} accepted task {state.task_id}", state.raw)
    generation.mark_submitted(provider, state.task_id)
    apply_state(generation, state)
    return True


def poll_generation(pk: int) -> None:
    """Ask the upstream about one running generation and act on the answer."""
    generation = Generation.objects.filter(pk=pk, status__in=Generation.RUNNING).first()
    if generation is None or generation.provider is None or not generation.claim():
        return
    upstream = get_upstream(generation.provider)
    if upstream.in_process:
        # Due while pending means the render job died: give the lease back so the
        # restarted render can take it, then restart it.
        generation.record("info", "render job lost; restarting it")
        generation.release(next_poll_in=_render_lease())
        upstream.fetch_status(generation)
        return
    try:
        state = upstream.fetch_status(generation)
    except UpstreamError as exc:
        generation.record("error", exc.message, exc.raw)
        generation.release(next_poll_in=exc.retry_after or next_poll_delay(generation))
        return
    apply_state(generation, state)


def apply_state(generation: Generation, state: TaskState) -> None:
    """Move a generation along after an upstream answer; schedule the next poll if still running."""
    Generation.objects.filter(pk=generation.pk).update(
        upstream_status=state.status or "unknown", polls=F("polls") + 1
    )
    if state.status == Status.PROCESSING:
        generation.mark_processing(progress=state.progress or 0)
    elif state.status == Status.FAILED:
        generation.mark_failed(state.message or "the upstream reported a failure without a reason")
        return
    elif state.status == Status.SUCCEEDED and state.video_url:
        generation.record("upstream", f"finished: {state.video_url}", state.raw)
        store_upstream_result(generation, state)
        return
    elif state.status is None:
        generation.record("upstream", state.message or "unrecognised answer; polling again", state.raw)
    generation.release(next_poll_in=next_poll_delay(generation))


def store_upstream_result(generation: Generation, state: TaskState) -> None:
    """Copy a finished upstream video into our storage (upstream links die after 30 days)."""
    from .providers import kling

    try:
        kling.store_result(generation, state)
    except UpstreamError as exc:
        generation.record("error", f"download failed: {exc.message}")
        generation.release(next_poll_in=exc.retry_after or 30)


def next_poll_delay(generation: Generation) -> float:
    """Poll soon after submission, then less often, spread over the model's typical run time."""
    entry = generation.catalogue_entry()
    typical = entry.typical_seconds if entry else 120
    age = (timezone.now() - (generation.submitted_at or generation.created_at)).total_seconds()
    if age < 15:
        return 3
    if age < typical:
        return max(5.0, typical / 12)
    return max(10.0, min(60.0, age / 10))


def _render_lease() -> float:
    return max(60.0, settings.STUDIO_LEASE_SECONDS)


def render_locally(pk: int) -> None:
    """The local provider's worker: render the video and poster, then store them."""
    generation = Generation.objects.filter(pk=pk, status__in=Generation.PENDING).first()
    if generation is None:
        return
    # A lease as long as a render may take: if this worker dies, run_due restarts it.
    if not generation.claim(seconds=_render_lease()):
        return
    generation.mark_processing()
    try:
        with tempfile.TemporaryDirectory(prefix="studio-render-") as tmp:
            spec = _render_spec(generation, Path(tmp))
            video_path, poster_path = Path(tmp) / "video.mp4", Path(tmp) / "poster.jpg"
            meta = render_video(spec, str(video_path), str(poster_path))
            video_name, poster_name = store_files(generation, video_path, poster_path)
    except (RenderError, InputFetchError) as exc:
        generation.mark_failed(str(exc))
        return
    units = generation.estimated_units
    if not generation.mark_succeeded(video=video_name, poster=poster_name, meta=meta, units=units):
        # Lost a race (cancelled or failed meanwhile): do not leave orphan files.
        default_storage.delete(video_name)
        default_storage.delete(poster_name)


class InputFetchError(Exception):
    """A first or last frame given by URL could not be fetched or is not a usable image."""


def _render_spec(generation: Generation, tmp: Path) -> RenderSpec:
    first = _local_input(generation, "image", tmp)
    last = _local_input(generation, "image_tail", tmp)
    return RenderSpec(
        prompt=generation.prompt,
        negative_prompt=generation.negative_prompt,
        duration=generation.duration,
        aspect_ratio=generation.aspect_ratio,
        mode=generation.mode,
        camera_control=generation.camera_control,
        cfg_scale=generation.cfg_scale if generation.cfg_scale is not None else 0.5,
        model_name=generation.model_name,
        first_frame=first,
        last_frame=last,
    )


def _local_input(generation: Generation, field: str, tmp: Path) -> str | None:
    """A filesystem path for an input image, fetching it first if it was given by URL."""
    from .inputs import ensure_input_stored

    stored = ensure_input_stored(generation, field)
    if not stored:
        return None
    target = tmp / f"{field}{Path(stored).suffix or '.img'}"
    with default_storage.open(stored, "rb") as src, open(target, "wb") as dst:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            dst.write(chunk)
    return str(target)


def store_files(generation: Generation, video_path: Path, poster_path: Path) -> tuple[str, str]:
    """Save a rendered or downloaded video and its poster into the studio's storage."""
    base = f"videos/{generation.pk}"
    with open(video_path, "rb") as fh:
        video_name = default_storage.save(f"{base}/video.mp4", File(fh))
    with open(poster_path, "rb") as fh:
        poster_name = default_storage.save(f"{base}/poster.jpg", File(fh))
    return video_name, poster_name


def run_due(seconds: float = RUN_DUE_SECONDS) -> int:
    """Act on due generations for about `seconds`, checking every second; returns steps taken."""
    deadline = time.monotonic() + seconds
    steps = 0
    while True:
        steps += run_due_once()
        if time.monotonic() >= deadline:
            return steps
        time.sleep(1)


def run_due_once() -> int:
    """One pass: fail stuck jobs, submit queued ones, poll running ones."""
    fail_stuck()
    steps = 0
    for generation in Generation.objects.due().order_by("next_poll_at")[:200]:
        if generation.status == Status.QUEUED:
            submit_generation(generation.pk)
        else:
            poll_generation(generation.pk)
        steps += 1
    return steps


def fail_stuck() -> None:
    """Fail jobs that have been pending longer than the configured limit, with a clear message."""
    limit = settings.STUDIO_STUCK_AFTER_SECONDS
    cutoff = timezone.now() - timedelta(seconds=limit)
    for generation in Generation.objects.filter(status__in=Generation.RUNNING, submitted_at__lt=cutoff):
        generation.mark_failed(
            f"no result {limit // 60} minutes after submission; the job was stopped. Retry it."
        )
