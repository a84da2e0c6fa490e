"""Background jobs (django-q2): plain functions of primary keys.

The flow: a new generation is queued and `submit_generation` is enqueued after the
commit. It hands the job to the first provider with a free slot. From then on the
generation's own `next_poll_at` says when it needs attention, and `run_due` (a loop
started every minute by a django-q2 schedule) acts on due jobs within about a second,
which django-q2's 30-second schedule tick alone could not do.
"""

from __future__ import annotations

import logging
import random
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.tasks import async_task

from .inputs import InputFetchError, stage_inputs
from .kept_frames import purge_kept_frames
from .kinds import kind_spec
from .models import Generation, GenerationQuerySet, Provider, ProviderBalance, Status
from .providers import TaskState, UpstreamError, UpstreamRequest
from .providers.fetch import FetchError, open_url
from .rendering import RenderError, make_poster, probe_video

log = logging.getLogger(__name__)

RUN_DUE_SECONDS = 55  # the loop's length: just under the schedule's one-minute interval
BATCH_POLL_SECONDS = 10  # how often a batched provider is listed again (times the poll scale)
MAX_LIST_PAGES = 8  # 8 pages of 500: 4,000 tasks of a kind per cycle
MAX_SINGLE_POLLS = 5  # tasks missing from the list, queried one by one per cycle
# A minute: a recovered provider gets a few chances to take the jobs that wait for one
# before STUDIO_NO_PROVIDER_FAIL_SECONDS (five minutes by default) fails them.
PROBE_EVERY_SECONDS = 60


def enqueue_submit(pk: int) -> None:
    """Queue the submission once the generation row is committed (the worker must see it)."""
    transaction.on_commit(
        lambda: async_task("videos.tasks.submit_generation", pk, task_name=f"submit-{pk}")
    )


def enqueue_next_step(generation: Generation, label: str) -> None:
    """Make a pending generation due now and run its next step (submit or poll) in a worker."""
    generation.nudge()
    job = "submit_generation" if generation.status == Status.QUEUED else "poll_generation"
    async_task(f"videos.tasks.{job}", generation.pk, task_name=f"{label}-{generation.pk}")


def submit_generation(pk: int) -> None:
    """Hand a queued generation to the first usable provider with a free slot, failing over.

    Money-safe (kling-api.md §4.3): the attempt is recorded before the create is sent,
    so a create that ends ambiguously (or a worker that dies mid-request) leads the
    next attempt to look the task up by external_task_id instead of creating a second one.
    """
    generation = Generation.objects.filter(pk=pk, status=Status.QUEUED).first()
    if generation is None or not generation.claim():
        return  # already submitted, cancelled, or another worker holds it
    if generation.create_provider_id and not _resolve_earlier_create(generation):
        return
    if generation.created_at < timezone.now() - timedelta(
        seconds=settings.STUDIO_STUCK_AFTER_SECONDS
    ):
        generation.mark_failed("never found a free provider slot; try again later")
        return
    providers = _usable_providers(generation)
    if not providers:
        _wait_for_a_provider(generation)
        return
    # The inputs are fetched (URL frames) and staged once, before any slot is taken; the
    # workdir lives until the answer is acted on (a local render's file is stored from it).
    with tempfile.TemporaryDirectory(prefix="studio-submit-") as workdir:
        spec = kind_spec(generation.kind)
        try:
            files = stage_inputs(generation, spec.input_fields, workdir)
            if spec.stage_extra is not None:
                files.update(spec.stage_extra(generation, workdir))
        except InputFetchError as exc:
            generation.mark_failed(str(exc))
            return
        _submit_in_order(generation, providers, files, workdir)


def _submit_in_order(
    generation: Generation, providers: list[Provider], files: dict[str, str], workdir: str
) -> None:
    """Try each provider in turn until one takes the job; wait or fail when none does."""
    waiting, refusals = False, []
    for provider in providers:
        # Wait for a slot instead of provoking a concurrency error (1303) upstream.
        if not generation.reserve_create(provider):
            waiting = True
            continue
        outcome = _submit_to(
            generation, provider, prepare_request(generation, provider, files, workdir)
        )
        if outcome == "done":
            return
        if outcome == "wait":
            waiting = True
        else:
            refusals.append(outcome)
    if waiting or not refusals:
        generation.release(next_poll_in=backoff_delay(generation))
    else:
        generation.mark_failed("no provider could take this job: " + "; ".join(refusals))


def prepare_request(
    generation: Generation, provider: Provider, files: dict[str, str], workdir: str
) -> UpstreamRequest:
    """The create as this provider gets it: its kind's strict Kling body, mapped to its model.

    Every create carries external_task_id = our id (kling-api.md §4.3) and, when our
    public URL is known, a per-generation callback URL: never a client's (§6.9).
    """
    model_name = provider.upstream_model_name(generation.model_name)
    body = kind_spec(generation.kind).build_body(generation, files, model_name)
    if watermark := generation.params.get("watermark_info"):
        body["watermark_info"] = watermark  # kling-kinds.md §7 "Common" (not effects)
    if callback := callback_url_for(generation):
        body["callback_url"] = callback
    body["external_task_id"] = str(generation.pk)
    return UpstreamRequest(
        kind=generation.kind,
        body=body,
        external_id=str(generation.pk),
        files=files,
        workdir=workdir,
        estimated_units=generation.estimated_units,
        aspect_ratio=generation.aspect_ratio,
    )


def callback_url_for(generation: Generation) -> str:
    """A per-generation callback URL with an unguessable token, when our public URL is known."""
    if not settings.STUDIO_PUBLIC_URL:
        return ""
    token = generation.ensure_callback_token()
    return settings.STUDIO_PUBLIC_URL + reverse("upstream_callback", args=[generation.pk, token])


def _usable_providers(generation: Generation) -> list[Provider]:
    """The providers to try, in order: the one the user chose (while healthy), or any serving."""
    chosen = generation.provider
    if kind_spec(generation.kind).pinned:
        # An account-scoped id (the parent's video or session) is valid on its provider only.
        return [chosen] if chosen is not None and chosen.enabled and chosen.healthy else []
    if chosen is not None:
        return [chosen] if chosen.healthy else []
    return Provider.objects.serving(
        generation.model_name, generation.kind, generation.wanted_features()
    )


def _pinned_reason(generation: Generation) -> tuple[str, bool]:
    """Why the one provider a pinned job may use cannot take it, and whether that may pass."""
    chosen = generation.provider
    what = "a video id" if generation.kind == "video-extend" else "a lip-sync session"
    if chosen is None:
        return (
            f"this job uses {what} that existed only on the provider that made its source, "
            "and that provider was removed",
            False,
        )
    only = (
        f"this job uses {what} that exists only on {chosen.name}, so no other provider can take it"
    )
    if not chosen.enabled:
        return f"{chosen.name} is disabled; {only}", True
    return f"{chosen.name} is unhealthy: {chosen.health_message}; {only}", True


def _wait_for_a_provider(generation: Generation) -> None:
    """No healthy provider can take the job: wait a few minutes for one to recover, then fail.

    Failing at once would lose every queued job to an upstream blip of a few seconds;
    waiting for STUDIO_STUCK_AFTER_SECONDS (an hour) hid a dead upstream behind "Queued".
    Meanwhile the due loop re-probes the sick providers, and the card says what is awaited.
    """
    chosen = generation.provider
    if kind_spec(generation.kind).pinned:
        reason, recoverable = _pinned_reason(generation)
    elif chosen is not None:
        reason, recoverable = f"{chosen.name} is unhealthy: {chosen.health_message}", True
    else:
        wanted = generation.wanted_features()
        reason = Provider.objects.unavailable_reason(generation.model_name, generation.kind, wanted)
        # No recovery makes a provider able to do what its adapter cannot: fail at once.
        recoverable = Provider.objects.recovering(
            generation.model_name
        ) and not Provider.objects.none_can_do(generation.model_name, generation.kind, wanted)
    left = settings.STUDIO_NO_PROVIDER_FAIL_SECONDS - generation.waited_seconds()
    if not recoverable or left <= 0:
        generation.mark_failed(reason)
        return
    generation.note_waiting(f"a provider to recover: {reason}", failed_try=False)
    generation.release(next_poll_in=min(backoff_delay(generation), left))


def note_health(provider: Provider, exc: UpstreamError | None = None) -> None:
    """Count an upstream call toward the provider's health: no answer counts, an answer resets."""
    if exc is not None and exc.code == 1102:
        # Resource packs used up (kling-kinds.md §7.8): the admins' banner says so at once.
        ProviderBalance.note_used_up(provider)
    if exc is not None and exc.unreachable:
        if provider.note_unreachable(exc.message):
            log.warning("provider %s marked unhealthy: %s", provider.name, provider.health_message)
    else:
        provider.note_reachable()


def _submit_to(generation: Generation, provider: Provider, request: UpstreamRequest) -> str:
    """Send the create to one provider: "done", "wait" (back off) or the reason it refused."""
    upstream = provider.upstream()
    # Hold the job for as long as this submit may take (a local render, a slow upstream),
    # or another worker would take it over mid-request.
    if not generation.extend_lease(max(settings.STUDIO_LEASE_SECONDS, upstream.submit_seconds)):
        return "done"  # the lease ran out meanwhile: the worker holding it now resolves the job
    try:
        state = upstream.submit(request)
    except UpstreamError as exc:
        generation.record("error", f"{provider.name}: {exc.message}", exc.raw)
        note_health(provider, exc)
        if exc.ambiguous and not upstream.takes_external_id(_upstream_model(generation, provider)):
            # Nothing to look the task up by (kling-kinds.md §8): sending it again could pay
            # twice, so the job ends here and the admin checks the gateway's own log.
            fail_outcome_unknown(generation, provider, exc.message)
            return "done"
        if exc.ambiguous:
            # The create may have reached the upstream: keep the attempt recorded so the
            # next try looks it up first (never a blind re-create, §6.10).
            generation.note_waiting(f"{provider.name}: {exc.message}")
            generation.release(
                next_poll_in=max(settings.STUDIO_LOOKUP_GRACE_SECONDS, exc.retry_after or 0)
            )
            return "done"
        generation.clear_create_attempt()  # certainly not created: free to go elsewhere
        if exc.permanent:
            generation.mark_failed(exc.message)
            return "done"
        if exc.provider_problem:
            provider.mark_unhealthy(exc.message)
            log.warning("provider %s marked unhealthy: %s", provider.name, exc.message)
        if exc.retry_after is not None and not exc.provider_problem:
            generation.note_waiting(f"{provider.name}: {exc.message}")
            return "wait"  # 1302/1303/5xx/connection: a wait, not a failure (§4.2)
        return f"{provider.name}: {exc.message}"
    note_health(provider)
    generation.record("upstream", f"{provider.name} accepted task {state.task_id}", state.raw)
    for note in state.notes:
        generation.record("info", note)
    # hold: this worker still acts on the answer; apply_state gives the lease back.
    generation.mark_submitted(
        provider, state.task_id, next_poll_in=next_poll_delay(generation), hold=True
    )
    apply_state(generation, state)
    return "done"


def _upstream_model(generation: Generation, provider: Provider) -> str:
    return provider.upstream_model_name(generation.model_name)


def fail_outcome_unknown(generation: Generation, provider: Provider, error: str) -> None:
    """End a job whose create may or may not have reached an upstream without external ids."""
    attempted = generation.create_attempted_at or timezone.now()
    generation.mark_failed(
        f"outcome unknown, not retried: {provider.name} may or may not have accepted this job "
        f"({error}). It takes no external task id, so the studio cannot look the task up and "
        f"did not send it again, so as not to pay twice. Check {provider.name}'s own log for "
        f"a task created around {attempted:%Y-%m-%d %H:%M:%S} UTC."
    )


def _resolve_earlier_create(generation: Generation) -> bool:
    """A create was attempted before: adopt its task if it exists; True to create (again)."""
    provider = generation.create_provider
    if provider is None:
        generation.clear_create_attempt()  # the provider is gone: nothing can be looked up
        return True
    upstream = provider.upstream()
    if not upstream.takes_external_id(_upstream_model(generation, provider)):
        # The worker died mid-create (or an ambiguous create left its mark): unresolvable.
        fail_outcome_unknown(generation, provider, "the create was interrupted")
        return False
    attempted = generation.create_attempted_at
    age = (timezone.now() - attempted).total_seconds()
    # Longer than the upstream timeout: a create the upstream was still processing when
    # we gave up is listed by then.
    grace = upstream.lookup_grace
    if age < grace:
        generation.release(next_poll_in=grace - age)
        return False
    try:
        state = upstream.find_by_external_id(
            generation.kind, str(generation.pk), since=attempted.timestamp()
        )
    except UpstreamError as exc:
        why = f"{provider.name}: looking up the earlier create: {exc.message}"
        generation.record("error", why, exc.raw)
        note_health(provider, exc)
        if age > settings.STUDIO_STUCK_AFTER_SECONDS:
            generation.mark_failed(
                f"{provider.name} never confirmed whether it accepted this job; it was not sent "
                "again so as not to pay twice. Check the upstream account, then retry."
            )
        else:
            generation.note_waiting(why)
            generation.release(next_poll_in=exc.retry_after or backoff_delay(generation))
        return False
    note_health(provider)
    if state is None:
        generation.record("info", f"{provider.name} has no task {generation.pk}: creating it")
        generation.clear_create_attempt()
        return True
    generation.record(
        "upstream", f"{provider.name} already had task {state.task_id}: adopted", state.raw
    )
    generation.mark_submitted(
        provider, state.task_id, next_poll_in=next_poll_delay(generation), hold=True
    )
    apply_state(generation, state)
    return False


def backoff_delay(generation: Generation) -> float:
    """Exponential backoff from 1 s by attempts, capped, with jitter so workers spread out."""
    base = min(300.0, 2.0 ** min(generation.attempts, 9))
    return base * random.uniform(0.8, 1.2) * poll_scale()


def poll_generation(pk: int) -> None:
    """Ask the upstream about one running generation and act on the answer."""
    generation = Generation.objects.filter(pk=pk, status__in=Generation.RUNNING).first()
    if generation is None or generation.provider is None or not generation.claim():
        return
    provider = generation.provider
    try:
        state = provider.upstream().fetch(generation.kind, generation.upstream_task_id)
    except UpstreamError as exc:
        generation.record("error", f"{provider.name}: {exc.message}", exc.raw)
        note_health(provider, exc)
        if exc.provider_problem:
            provider.mark_unhealthy(exc.message)
        generation.note_waiting(f"{provider.name}: {exc.message}")
        generation.release(next_poll_in=exc.retry_after or next_poll_delay(generation))
        return
    note_health(provider)
    apply_state(generation, state)


def poll_provider(provider_pk: int) -> None:
    """Poll all of a provider's running tasks with the list endpoint (a few pages, §6.7).

    Every running task found in the list is brought up to date, due or not, so a
    finished task is seen within one cycle. Unchanged tasks get one bulk UPDATE.
    """
    provider = Provider.objects.filter(pk=provider_pk).first()
    if provider is None or not provider.claim_poll(settings.STUDIO_LEASE_SECONDS):
        return
    try:
        _poll_provider(provider)
    finally:
        provider.release_poll()


def _poll_provider(provider: Provider) -> None:
    upstream = provider.upstream()
    rows = list(
        Generation.objects.filter(provider=provider, status__in=Generation.RUNNING)
        .exclude(upstream_task_id="")
        .values(
            "pk", "kind", "upstream_task_id", "status", "progress", "submitted_at", "next_poll_at"
        )
    )
    found: dict[str, TaskState] = {}
    for kind in sorted({row["kind"] for row in rows}):
        of_kind = [row for row in rows if row["kind"] == kind]
        oldest = min(row["submitted_at"] or timezone.now() for row in of_kind)
        try:
            found.update(
                upstream.scan(
                    kind,
                    [row["upstream_task_id"] for row in of_kind],
                    oldest_ms=int((oldest.timestamp() - 600) * 1000),
                    max_pages=MAX_LIST_PAGES,
                )
            )
            note_health(provider)
        except UpstreamError as exc:
            log.warning("listing %s tasks on %s failed: %s", kind, provider.name, exc.message)
            note_health(provider, exc)
            if exc.provider_problem:
                provider.mark_unhealthy(exc.message)
    now = timezone.now()
    unchanged, missing, changed = [], [], {}
    for row in rows:
        state = found.get(row["upstream_task_id"])
        if state is None:
            missing.append(row)
        elif state.status == row["status"] and state.progress in (None, row["progress"]):
            unchanged.append(row["pk"])
        else:
            changed[row["pk"]] = state
    for pk, generation in Generation.objects.in_bulk(list(changed)).items():
        if generation.claim():
            apply_state(generation, changed[pk], download_inline=False)
    next_at = now + timedelta(seconds=BATCH_POLL_SECONDS * poll_scale())
    for start in range(0, len(unchanged), 500):
        # The upstream answered about them: whatever held them up (a failed poll) is over.
        Generation.objects.filter(pk__in=unchanged[start : start + 500]).polled_unchanged(next_at)
    # Not in the list (too old for the pages read, or a gateway without a list):
    # query a few due ones one by one; the rest wait for the next cycle.
    due = [row for row in missing if row["next_poll_at"] is None or row["next_poll_at"] <= now]
    for row in due[:MAX_SINGLE_POLLS]:
        poll_generation(row["pk"])


def apply_state(generation: Generation, state: TaskState, *, download_inline: bool = True) -> None:
    """Move a generation along after an upstream answer; schedule the next poll if still running."""
    generation.stop_waiting()  # an answer came: nothing holds the job up any more
    if state.tokens is not None and state.status in (Status.SUCCEEDED, Status.FAILED):
        # Seedance gateways bill in tokens, not units (kling-kinds.md §8c): keep what they said.
        generation.record(
            "info", f"the upstream reports usage.completion_tokens = {state.tokens} (no units)"
        )
    generation.note_answer(
        status_word=state.status or "unknown",
        units=state.units,
        video_url=state.video_url,
        video_id=state.video_id,
    )
    if state.status == Status.PROCESSING:
        if generation.mark_processing(progress=state.progress or 0):
            generation.record("upstream", "processing", state.raw)
        elif state.progress is not None:
            generation.note_progress(state.progress)
    elif state.status == Status.FAILED:
        generation.record("upstream", state.message or "failed", state.raw)
        generation.mark_failed(state.message or "the upstream reported a failure without a reason")
        return
    elif state.status == Status.SUCCEEDED and state.video_path:
        # A finished file already here (the local renderer): stored at once, nothing to fetch.
        generation.record("upstream", f"finished: {state.task_id}", state.raw)
        store_result(generation, source=Path(state.video_path), poster=state.poster_path)
        return
    elif state.status == Status.SUCCEEDED and state.video_url:
        generation.record("upstream", f"finished: {state.video_url}", state.raw)
        if download_inline:
            # A download may outlast the poll's lease: hold the job for as long as it may take.
            if not generation.extend_lease(_download_lease()):
                return  # our lease ran out and another worker holds the job: it downloads
            store_result(generation)
        else:
            generation.release(next_poll_in=_download_lease())
            async_task(
                "videos.tasks.download_result", generation.pk, task_name=f"download-{generation.pk}"
            )
        return
    elif state.status == Status.SUCCEEDED:
        generation.record(
            "upstream", "reported success without a video URL; polling again", state.raw
        )
    elif state.status is None:
        generation.record(
            "upstream", state.message or "unrecognised answer; polling again", state.raw
        )
    # openai-poll-after-ms (kling-kinds.md §8a): the upstream says when to ask again.
    delay = state.poll_after * poll_scale() if state.poll_after else next_poll_delay(generation)
    generation.release(next_poll_in=delay)


def download_result(pk: int) -> None:
    """Copy a finished upstream video into storage (enqueued by batched polls)."""
    generation = Generation.objects.filter(pk=pk, status__in=Generation.RUNNING).first()
    if (
        generation is None
        or not generation.upstream_video_url
        or not generation.claim(_download_lease())
    ):
        return
    store_result(generation)


def store_result(generation: Generation, source: Path | None = None, poster: str = "") -> None:
    """Copy a finished video into our storage (upstream links die after 30 days).

    source: a local file (the local renderer's); otherwise upstream_video_url is downloaded.
    A failed download is retried with backoff (the next poll sees the success again
    and downloads again); after the last attempt the generation fails with the reason.
    """
    try:
        copy_result(generation, source, poster)
    except UpstreamError as exc:
        tries = generation.note_failed_download()
        if tries >= settings.STUDIO_DOWNLOAD_RETRIES:
            generation.mark_failed(
                f"the finished video could not be copied into the studio after {tries} attempts: "
                f"{exc.message}"
            )
            return
        generation.record("error", f"{exc.message} (attempt {tries}; retrying)")
        generation.release(next_poll_in=(exc.retry_after or 30) * 2 ** (tries - 1))


# What upstreams may label an MP4 as (some gateways send a generic binary type).
VIDEO_TYPES = ("video/mp4", "application/octet-stream", "binary/octet-stream", "video/quicktime")


def copy_result(generation: Generation, source: Path | None = None, poster: str = "") -> None:
    """Store a finished task's video and poster, then succeed (with the units reported).

    Success is only recorded once both files are stored. Raises UpstreamError (retryable)
    when the download fails or the file is not a playable video.
    """
    with tempfile.TemporaryDirectory(prefix="studio-download-") as tmp:
        video_path, poster_path = Path(tmp) / "video.mp4", Path(tmp) / "poster.jpg"
        try:
            if source is None:
                _download(generation.upstream_video_url, video_path, generation.provider)
            else:
                video_path = source
            meta = probe_video(str(video_path))
            if poster:
                poster_path = Path(poster)
            else:
                make_poster(str(video_path), str(poster_path))
        except FetchError as exc:
            raise UpstreamError(f"download failed: {exc}", retry_after=30) from exc
        except RenderError as exc:
            raise UpstreamError(
                f"the downloaded file is not a playable video: {exc}", retry_after=30
            ) from exc
        video_name, poster_name = store_files(generation, video_path, poster_path)
    if not generation.mark_succeeded(
        video=video_name, poster=poster_name, meta=meta, units=generation.units
    ):
        # Lost a race (failed or cancelled meanwhile, or another worker stored it): no orphans.
        default_storage.delete(video_name)
        default_storage.delete(poster_name)


def _download(url: str, target: Path, provider: Provider | None = None) -> None:
    """Stream a result to a file (never whole in memory): a size cap, a type check, a deadline.

    A URL on the provider itself (an OpenAI-style content endpoint) is fetched by its adapter,
    with its key; any other URL through the guarded public download."""
    deadline = time.monotonic() + settings.STUDIO_DOWNLOAD_TIMEOUT
    if provider is not None and provider.upstream().download(
        url, str(target), max_bytes=settings.STUDIO_MAX_DOWNLOAD_BYTES, deadline=deadline
    ):
        return
    with (
        open_url(
            url,
            max_bytes=settings.STUDIO_MAX_DOWNLOAD_BYTES,
            allowed_types=VIDEO_TYPES,
            timeout=settings.STUDIO_UPSTREAM_TIMEOUT,
        ) as chunks,
        open(target, "wb") as out,
    ):
        for chunk in chunks:
            out.write(chunk)
            if time.monotonic() > deadline:
                raise FetchError("the download took longer than allowed")


def probe_provider(pk: int) -> tuple[bool, str]:
    """Make a cheap real call to a provider and record its health; returns (ok, message)."""
    provider = Provider.objects.get(pk=pk)
    try:
        message = provider.upstream().probe()
    except UpstreamError as exc:
        if exc.provider_problem:
            provider.mark_unhealthy(exc.message)
        else:
            # Not a credential problem (no answer, a 5xx): report it; no answer at all also
            # counts toward health, so testing a dead upstream in the admin flags it too.
            provider.note_probe_failed(exc.message)
            note_health(provider, exc)
        return False, exc.message
    provider.mark_healthy(message)
    return True, message


def probe_and_audit(provider: Provider, user_id: int | None) -> tuple[bool, str]:
    """Probe a provider (a cheap real call) and record the test in the admin's audit log.

    LogEntry needs a user: without one (a shell with no superuser yet) nothing is logged.
    """
    ok, message = probe_provider(provider.pk)
    if user_id is None:
        return ok, message
    LogEntry.objects.log_actions(
        user_id=user_id,
        queryset=[provider],
        action_flag=CHANGE,
        change_message=f"Tested: {'OK' if ok else 'failed'}: {message}"[:500],
        single_object=True,
    )
    return ok, message


def probe_unhealthy_providers() -> None:
    """Re-probe unhealthy providers now and then: one that answers again is re-enabled."""
    cutoff = timezone.now() - timedelta(seconds=PROBE_EVERY_SECONDS)
    for pk in (
        Provider.objects.filter(enabled=True, healthy=False)
        .filter(Q(health_checked_at__lt=cutoff) | Q(health_checked_at__isnull=True))
        .values_list("pk", flat=True)
    ):
        probe_provider(pk)


def _download_lease() -> float:
    return settings.STUDIO_DOWNLOAD_TIMEOUT + 60


def next_poll_delay(generation: Generation) -> float:
    """Poll soon after submission, then less often, spread over the model's typical run time."""
    entry = generation.catalogue_entry()
    typical = entry.typical_seconds if entry else 120
    scale = poll_scale()
    age = (timezone.now() - (generation.submitted_at or generation.created_at)).total_seconds()
    if age < 15 * scale:
        return 3 * scale
    if age < typical * scale:
        return max(5.0, typical / 12) * scale
    return max(10.0, min(60.0, age / 10)) * scale


def poll_scale() -> float:
    """STUDIO_POLL_SCALE shrinks every poll and backoff delay (benchmarks with short clips)."""
    return settings.STUDIO_POLL_SCALE


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


# Due work of other apps, named by dotted path as _transition names its callback job
# (videos does not import api): queue the client callback retries that are due.
DUE_ELSEWHERE = ("api.tasks.enqueue_due_retries",)
FAILED_STEP_PAUSE_SECONDS = 60


def run_due_once() -> int:
    """One pass: fail stuck jobs, re-probe sick providers, submit queued jobs, poll running ones,
    queue due callback retries.

    Each step, and each job's step within it, is guarded: an exception (a bug, a row that
    breaks a step) is logged, recorded on the job's timeline, and the pass goes on. One
    broken job, provider or client receiver must never stop the loop that follows every
    other paid job.
    """
    steps = 0
    steps_in_order = (
        fail_stuck,
        probe_unhealthy_providers,
        _submit_due,
        _poll_due,
        purge_trash,
        refresh_balances,
        purge_kept_frames,
        *DUE_ELSEWHERE,
    )
    for step in steps_in_order:
        try:
            steps += (import_string(step) if isinstance(step, str) else step)() or 0
        except Exception:
            log.exception("run_due: the step %s failed; the pass goes on", step)
    return steps


def _submit_due() -> int:
    due = Generation.objects.due().filter(status=Status.QUEUED).order_by("next_poll_at")
    pks = list(due.values_list("pk", flat=True)[:200])
    for pk in pks:
        _run_guarded(submit_generation, pk)
    return len(pks)


def _poll_due() -> int:
    running_due = Generation.objects.due().filter(status__in=Generation.RUNNING)
    steps = 0
    for provider in Provider.objects.filter(pk__in=running_due.values("provider_id")):
        try:
            steps += _poll_due_of(provider, running_due.filter(provider=provider))
        except Exception:
            log.exception("run_due: polling provider %s failed; the pass goes on", provider.name)
    return steps


def _poll_due_of(provider: Provider, due: GenerationQuerySet) -> int:
    if (
        provider.upstream().lists_tasks
        and provider.running_count() >= settings.STUDIO_BATCH_MIN_RUNNING
    ):
        poll_provider(provider.pk)  # a few list pages instead of one query per task
        return 1
    pks = list(due.order_by("next_poll_at").values_list("pk", flat=True)[:200])
    for pk in pks:
        _run_guarded(poll_generation, pk)
    return len(pks)


def _run_guarded(job: Callable[[int], object], pk: int) -> None:
    """Run one job's step; on an exception, log and record it and pause that job a minute."""
    try:
        job(pk)
    except Exception as exc:
        log.exception("run_due: %s(%s) failed", job.__name__, pk)
        try:
            generation = Generation.objects.filter(pk=pk).first()
            if generation is None:
                return
            # Paused by taking its lease: a step that fails every time is not retried every
            # second (if the step took the lease before failing, that lease pauses it).
            generation.claim(seconds=FAILED_STEP_PAUSE_SECONDS)
            generation.record(
                "error",
                f"internal error in {job.__name__}; retried later: {type(exc).__name__}: {exc}",
            )
        except Exception:
            log.exception("run_due: recording the failure of %s(%s) failed", job.__name__, pk)


PURGE_BATCH = 100


def purge_trash() -> int:
    """Delete for good, with their files, generations trashed longer than STUDIO_TRASH_DAYS.

    A few rows per pass: the loop runs every second, and a large trash empties over a
    few passes rather than holding one pass for minutes.
    """
    expired = list(Generation.objects.trash_expired().order_by("deleted_at")[:PURGE_BATCH])
    for generation in expired:
        generation.delete_with_files()
    return len(expired)


def refresh_balances(now: datetime | None = None) -> int:
    """Ask each enabled Kling provider for its resource packs, each at most once a minute (§7.8).

    now is injectable so tests step the clock instead of sleeping. Gateways are not asked:
    /account/costs is the official API's (a gateway's packs are its operator's business).
    """
    now = now or timezone.now()
    asked = 0
    for provider in Provider.objects.balance_due(now):
        if not ProviderBalance.claim_refresh(provider, now):
            continue
        asked += 1
        try:
            packs = provider.upstream().balance()
        except UpstreamError as exc:
            ProviderBalance.store_failure(provider, exc.message)
            continue
        ProviderBalance.store(provider, packs or [], now)
    return asked


def fail_stuck() -> None:
    """Fail jobs that have been pending longer than the configured limit, with a clear message."""
    limit = settings.STUDIO_STUCK_AFTER_SECONDS
    cutoff = timezone.now() - timedelta(seconds=limit)
    for generation in Generation.objects.filter(
        status__in=Generation.RUNNING, submitted_at__lt=cutoff
    ):
        generation.mark_failed(
            f"no result {limit // 60} minutes after submission; the job was stopped. Retry it."
        )
