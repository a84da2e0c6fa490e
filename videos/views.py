"""The web UI: gallery with live updates, create forms, generation pages and media."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from studio.typing import HtmxHttpRequest

from .batches import job_count_error, parse_prompt
from .creation import Origin, create_generation, create_generations, rerun
from .forms import (
    MAX_WATCHED,
    BatchForm,
    ConfirmForm,
    EstimateForm,
    GalleryFilterForm,
    GalleryPollForm,
    GenerationForm,
    ProjectChoiceForm,
    initial_from,
)
from .kept_frames import unsign as unsign_kept
from .kinds import KINDS, kind_page_context, kind_spec
from .kinds.video_extend import is_extendable
from .limits import LimitExceeded
from .lip_sync import FaceError, can_lip_sync, identify_faces
from .media import serve_stored_file, unsign_media_name
from .models import Generation, Kind, Project, TypicalTimes, VideoModel

GALLERY_SIZE = 48
BUSY_POLL_MS = 2000
CALM_POLL_MS = 5000
HIDDEN_POLL_MS = 10000
POLL_OVERLAP = timedelta(seconds=2)
MEDIA_VARIANTS = {"video", "poster", "image", "image_tail"}


def with_typical_times(generations: list[Generation]) -> list[Generation]:
    """Attach the typical run time on each card's provider (two queries, none per card).

    A queued job has no provider yet: the one that would take it now stands in.
    """
    times = TypicalTimes()
    for generation in generations:
        generation.typical_seconds = times.seconds(
            generation.model_name, generation.duration, generation.provider_id
        )
    return generations


@require_GET
def gallery(request: HtmxHttpRequest) -> HttpResponse:
    """The team's newest generations, filtered from the URL, kept live by one cheap poll."""
    filters = GalleryFilterForm(request.GET)
    if request.htmx and request.htmx.target == "gallery-poll":
        return _gallery_poll(request, filters)
    generations: list[Generation] = []
    more = None
    if filters.is_valid():
        shown = filters.filter(Generation.objects.visible_to(request.user), request.user)
        before = filters.cleaned_data["before"]
        if before is not None:
            shown = shown.filter(pk__lt=before)
        generations = list(shown.recent()[: GALLERY_SIZE + 1])
        if len(generations) > GALLERY_SIZE:
            generations = generations[:GALLERY_SIZE]
            more = generations[-1].pk
    with_typical_times(generations)
    context = {
        "generations": generations,
        "filters": filters,
        "more": more,
        "more_query": filters.query() if filters.is_valid() else "",
        "projects": list(Project.objects.all()),
    }
    if request.htmx and request.htmx.target == "gallery-more":
        return render(request, "videos/gallery.html#gallery-more", context)
    if filters.is_valid() and filters.cleaned_data["before"] is None:
        # A later page is an archive: only the first one grows with new and changed cards.
        newest = generations[0].pk if generations else 0
        oldest = generations[-1].pk if generations else 0
        context["poll"] = _poll(request, filters, generations, newest, oldest)
    return render(request, "videos/gallery.html", context)


def _poll(
    request: HtmxHttpRequest,
    filters: GalleryFilterForm,
    cards: list[Generation],
    newest: int,
    oldest: int,
) -> dict[str, Any]:
    """The next poll: its URL (filters and cursors) and how often it runs, visible or not."""
    watch = [g.pk for g in cards if g.is_pending]
    # Rows changed in the last moments may belong to a transaction not yet committed when
    # this poll read: the next one looks a little further back, and may resend a card.
    since = timezone.now() - POLL_OVERLAP
    query = {
        "watch": ",".join(map(str, watch)),
        "newest": newest,
        "oldest": oldest,
        "since": int(since.timestamp() * 1_000_000),
    }
    url = f"{reverse('gallery')}?{urlencode(query)}"
    if filters.query():
        url += f"&{filters.query()}"
    mine_pending = any(g.is_pending and g.owner_id == request.user.pk for g in cards)
    return {
        "url": url,
        # Pending cards show their progress: every 2 s. Otherwise a calm look for what is new.
        "every": BUSY_POLL_MS if watch else CALM_POLL_MS,
        # In a background tab only my own pending jobs matter (to say they are done).
        "hidden_every": HIDDEN_POLL_MS if mine_pending else 0,
    }


def _gallery_poll(request: HtmxHttpRequest, filters: GalleryFilterForm) -> HttpResponse:
    """Cards that changed since the last poll: watched, changed and brand-new ones; 204 if none."""
    query = GalleryPollForm(request.GET)
    if not query.is_valid() or not filters.is_valid():
        # Our own poll URLs are always valid: this is a hand-made one. No default would
        # do for `newest` (0 would add the whole gallery again), so say what is wrong.
        errors = query if not query.is_valid() else filters
        return render(request, "videos/query_errors.html", {"form": errors}, status=400)
    data = query.cleaned_data
    watched, newest, oldest = data["watch"], data["newest"] or 0, data["oldest"] or 0
    visible = Generation.objects.visible_to(request.user).recent()
    shown = filters.filter(visible, request.user)
    updated = list(visible.filter(pk__in=watched)) if watched else []
    fresh = list(shown.filter(pk__gt=newest)[:GALLERY_SIZE])
    changed: list[Generation] = []
    if data["since"] is not None:
        since = datetime.fromtimestamp(data["since"] / 1_000_000, tz=UTC)
        changed = list(
            shown.filter(updated_at__gt=since, pk__gte=oldest, pk__lte=newest).exclude(
                pk__in=watched
            )[:MAX_WATCHED]
        )
    if not (updated or fresh or changed):
        return HttpResponse(status=204)  # nothing new: htmx keeps the page (and this poll) as is
    with_typical_times(updated + fresh + changed)
    newest = max([newest] + [g.pk for g in fresh])
    context = {
        "updated": updated + changed,
        "fresh": fresh,
        "projects": list(Project.objects.all()),
        "poll": _poll(request, filters, fresh + updated + changed, newest, oldest),
    }
    return render(request, "videos/gallery.html#gallery-poll", context)


def _estimate(query: EstimateForm) -> dict[str, Any]:
    """The cost of the chosen model, mode and duration, times the jobs of the submission.

    A refused value counts as its default; a prompt whose braces are wrong counts as one
    prompt, and its error is shown beside the estimate as well as beside the prompt.
    """
    query.is_valid()
    chosen = query.cleaned_data
    entry = VideoModel.objects.filter(name=chosen.get("model_name") or "kling-v1").first()
    if entry is None:
        return {"entry": None}
    mode, duration = chosen.get("mode") or "std", chosen.get("duration") or 5
    units = entry.estimate_units(mode, duration, sound=bool(chosen.get("sound")))
    variants, prompts, prompt_error = chosen.get("variants") or 1, 1, ""
    try:
        prompts = parse_prompt(chosen.get("prompt") or "").count
    except ValidationError as exc:
        prompt_error = " ".join(exc.messages)
    if too_many := job_count_error(prompts, variants):
        prompt_error = " ".join(too_many.messages)
    jobs = prompts * variants
    total = units * jobs
    times = TypicalTimes()
    provider = times.provider(entry.name, chosen.get("provider"))
    return {
        "entry": entry,
        "provider": provider,
        "typical_seconds": times.seconds(entry.name, duration, chosen.get("provider")),
        "units": units,
        "duration": duration,
        "jobs": jobs,
        "total": total,
        "prompt_error": prompt_error,
        "needs_confirm": total > settings.STUDIO_CONFIRM_UNITS and not prompt_error,
        "confirmed": bool(chosen.get("confirm_cost")),
        "confirm_units": settings.STUDIO_CONFIRM_UNITS,
    }


@require_http_methods(["GET", "POST"])
def estimate(request: HtmxHttpRequest) -> HttpResponse:
    """The cost and typical time of a submission, shown in the form before sending it.

    POST as well as GET: the batch estimate reads the prompt, and a long Chinese prompt
    percent-encoded in a query string outgrows what servers accept in a request line.
    """
    query = EstimateForm(request.POST if request.method == "POST" else request.GET)
    if not query.is_valid():
        # The form's selects only offer valid values: this is a hand-made request.
        return render(request, "videos/query_errors.html", {"form": query}, status=400)
    return render(request, "videos/generation_form.html#estimate", {"estimate": _estimate(query)})


def _form_page(
    request: HtmxHttpRequest,
    form: GenerationForm,
    parent: Generation | None = None,
    project_form: ProjectChoiceForm | None = None,
) -> HttpResponse:
    kind = form["kind"].value() or Kind.TEXT2VIDEO
    if form.is_bound:
        form.keep_valid_frames()  # the user need not pick a valid frame again
    context = {
        "form": form,
        "project_form": project_form or _project_choice(request, parent),
        "kind": kind,
        "parent": parent,
        "models": VideoModel.objects.enabled(),
        # A prefilled value the page's selects cannot show counts as the default they show.
        "estimate": _estimate(EstimateForm(form.data or form.initial)),
    }
    template = "videos/generation_form.html"
    if request.htmx and request.htmx.target == "generation-form":
        template += "#generation-form"
    return render(request, template, context)


def _project_choice(
    request: HtmxHttpRequest, parent: Generation | None = None
) -> ProjectChoiceForm:
    """The project picker of a create form: ?project= (from a board), or the remixed one's."""
    chosen = request.GET.get("project") or (parent.project_id if parent else None)
    return ProjectChoiceForm(initial={"project": chosen})


def _create(
    form: GenerationForm, project_form: ProjectChoiceForm, origin: Origin
) -> Generation | None:
    """Create on the chosen project; None when its budget refuses (said beside the picker)."""
    origin.project = project_form.cleaned_data["project"]
    try:
        return create_generation(form, origin)
    except LimitExceeded as exc:
        project_form.add_error("project", exc.message)
        return None


def _created(
    request: HtmxHttpRequest, generation: Generation, jobs: int = 1, prompt: str = ""
) -> HttpResponse:
    what = (prompt or generation.prompt)[:60] or generation.get_kind_display()
    if jobs > 1:
        messages.success(
            request,
            ngettext("Queued %(jobs)d job: %(what)s.", "Queued %(jobs)d jobs: %(what)s.", jobs)
            % {"jobs": jobs, "what": what},
        )
    else:
        messages.success(request, _("Queued: %(what)s.") % {"what": what})
    if request.htmx:
        return HttpResponseClientRedirect("/")
    return redirect("gallery")


def _create_batch(
    request: HtmxHttpRequest, form: BatchForm, project_form: ProjectChoiceForm, origin: Origin
) -> HttpResponse | None:
    """Every job of one submission in one transaction (videos/creation.py) on the chosen
    project, then the gallery; None when the project's budget refuses (said beside the picker)."""
    origin.project = project_form.cleaned_data["project"]
    try:
        rows = create_generations(form, origin, form.prompts)
    except LimitExceeded as exc:
        project_form.add_error("project", exc.message)
        return None
    form.discard_kept()
    return _created(request, rows[0], len(rows), form.cleaned_data.get("prompt") or "")


@require_http_methods(["GET", "POST"])
def generation_new(request: HtmxHttpRequest) -> HttpResponse:
    """Create text-to-video or image-to-video jobs (variants, alternatives); GET prefills."""
    if request.method == "POST":
        form = BatchForm(request.POST, request.FILES, keep_for=request.user.pk)
        project_form = ProjectChoiceForm(request.POST)
        if form.is_valid() and project_form.is_valid():
            origin = Origin(owner=request.user)
            if answer := _create_batch(request, form, project_form, origin):
                return answer
        return _form_page(request, form, project_form=project_form)
    initial = {k: v for k, v in request.GET.items() if k in GenerationForm.base_fields}
    initial.setdefault("kind", Kind.TEXT2VIDEO)
    return _form_page(request, BatchForm(initial=initial))


@require_http_methods(["GET", "POST"])
def kind_new(request: HtmxHttpRequest, kind: str) -> HttpResponse:
    """Create a job of one of the newer kinds (kling-kinds.md §7) with that kind's own form."""
    form_class = kind_spec(kind).form_class
    if request.method == "POST":
        form = form_class(request.POST, request.FILES, owner=request.user)
        project_form = ProjectChoiceForm(request.POST)
        if form.is_valid() and project_form.is_valid():
            if created := _create(form, project_form, Origin(owner=request.user)):
                return _created(request, created)
    else:
        form = form_class(
            initial={k: v for k, v in request.GET.items() if k in form_class.base_fields},
            owner=request.user,
        )
        project_form = _project_choice(request)
    return _kind_page(request, kind, form, project_form=project_form)


def _kind_page(
    request: HtmxHttpRequest,
    kind: str,
    form: Any,
    parent: Generation | None = None,
    project_form: ProjectChoiceForm | None = None,
) -> HttpResponse:
    """A kind's page: new, or a remix of parent (posting back to the remix)."""
    template = "videos/kind_form.html"
    if request.htmx and request.htmx.target == "kind-form":
        template += "#kind-form"
    action = (
        reverse("generation_remix", args=[parent.pk])
        if parent
        else reverse("kind_new", args=[kind])
    )
    context = {
        "form": form,
        "project_form": project_form or _project_choice(request, parent),
        "kind": kind,
        "spec": kind_spec(kind),
        "parent": parent,
        "action": action,
        **kind_page_context(kind),
    }
    return render(request, template, context)


def _kind_remix(request: HtmxHttpRequest, parent: Generation, form_class: Any) -> HttpResponse:
    """The kind's own page prefilled from parent (KindForm.initial_from), its stored inputs
    kept unless replaced; the new job is linked to parent."""
    project_form = None
    if request.method == "POST":
        form = form_class(request.POST, request.FILES, remix_of=parent, owner=request.user)
        project_form = ProjectChoiceForm(request.POST)
        if form.is_valid() and project_form.is_valid():
            origin = Origin(owner=request.user, parent=parent)
            if created := _create(form, project_form, origin):
                return _created(request, created)
    else:
        form = form_class(
            initial=form_class.initial_from(parent), remix_of=parent, owner=request.user
        )
    return _kind_page(request, parent.kind, form, parent, project_form)


@require_http_methods(["GET", "POST"])
def generation_remix(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A form prefilled with a generation's parameters; the new jobs are linked to it."""
    parent = get_object_or_404(Generation.objects.visible_to(request.user), pk=pk)
    spec = KINDS.get(parent.kind)
    if spec is not None and spec.form_class is not None:
        return _kind_remix(request, parent, spec.form_class)
    if request.method == "POST":
        form = BatchForm(
            request.POST, request.FILES, inherit_frames_from=parent, keep_for=request.user.pk
        )
        project_form = ProjectChoiceForm(request.POST)
        if form.is_valid() and project_form.is_valid():
            origin = Origin(owner=request.user, parent=parent)
            if answer := _create_batch(request, form, project_form, origin):
                return answer
        return _form_page(request, form, parent, project_form)
    return _form_page(request, BatchForm(initial=initial_from(parent)), parent)


def confirm_run_page(
    request: HtmxHttpRequest, form: ConfirmForm, context: dict[str, Any]
) -> HttpResponse:
    """The step before a job is paid for: what runs, what it costs, and a button to confirm."""
    return render(request, "videos/confirm_run.html", {"form": form, **context})


@require_http_methods(["GET", "POST"])
def generation_rerun(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Run the same parameters again as a new generation linked to the original, once the
    cost is confirmed (a POST without the confirmation shows the cost again, sends nothing)."""
    parent = get_object_or_404(Generation.objects.visible_to(request.user), pk=pk)
    form = ConfirmForm(request.POST if request.method == "POST" else None)
    if not form.is_valid():
        entry = parent.catalogue_entry()
        context = {
            "title": _("Re-run #%(pk)s") % {"pk": parent.pk},
            "parameters": parent.parameters(),
            "units": (
                entry.estimate_units(parent.mode, parent.duration, sound=parent.sound)
                if entry
                else None
            ),
            "back_url": parent.get_absolute_url(),
        }
        return confirm_run_page(request, form, context)
    try:
        child = rerun(parent, request.user)
    except ValidationError as exc:
        messages.error(request, _("Cannot re-run: %(why)s") % {"why": " ".join(exc.messages)})
        return redirect(parent)
    messages.success(request, _("Re-run queued."))
    return redirect(child)


@require_GET
def kept_frame(request: HtmxHttpRequest, token: str) -> HttpResponse:
    """The preview of a frame kept from the user's last POST (only theirs: the token says)."""
    try:
        kept = unsign_kept(token, None, request.user.pk)
    except ValidationError as exc:
        raise Http404("no such kept frame") from exc
    return serve_stored_file(request, kept.name)


@require_GET
def generation_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Every parameter, the timeline, the video, and the actions allowed to this user."""
    generation = get_object_or_404(Generation.objects.visible_to(request.user).recent(), pk=pk)
    with_typical_times([generation])
    context = {
        "generation": generation,
        "can_edit": Generation.objects.editable_by(request.user).filter(pk=pk).exists(),
        "events": generation.events.all(),
        "children": generation.children.live().order_by("-id")[:20],
        # What can continue from this clip (kling-kinds.md §7.5, §7.6).
        "can_extend": is_extendable(generation),
        "can_lip_sync": can_lip_sync(generation),
    }
    template = "videos/generation_detail.html"
    if request.htmx and request.htmx.target == "generation-status":
        template += "#generation-status"
    return render(request, template, context)


@require_POST
def generation_lip_sync(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Identify the faces of a finished clip (synchronous, kling-kinds.md §7.6), then pick one."""
    source = get_object_or_404(Generation.objects.visible_to(request.user), pk=pk)
    try:
        session = identify_faces(source, request.user)
    except FaceError as exc:
        messages.error(request, exc.message)
        return redirect(source)
    return redirect(f"{reverse('kind_new', args=['advanced-lip-sync'])}?session_id={session.pk}")


@require_POST
def generation_cancel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Cancel a queued job: from its page (back to it) or from its gallery card (the card)."""
    generation = get_object_or_404(Generation.objects.editable_by(request.user), pk=pk)
    if generation.cancel():
        return _answer(request, generation, messages.SUCCESS, _("Cancelled."))
    refusal = _("Only queued jobs can be cancelled; this one is %(status)s.") % {
        "status": generation.get_status_display()
    }
    return _answer(request, generation, messages.ERROR, refusal)


@require_POST
def generation_move(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Put a generation on a project's board, or take it off (owner or admin)."""
    generation = get_object_or_404(Generation.objects.editable_by(request.user).recent(), pk=pk)
    form = ProjectChoiceForm(request.POST)
    if not form.is_valid():
        return _answer(request, generation, messages.ERROR, " ".join(form.errors["project"]))
    project = form.cleaned_data["project"]
    generation.move_to(project)
    if project is None:
        return _answer(request, generation, messages.SUCCESS, _("Taken off its project."))
    return _answer(
        request, generation, messages.SUCCESS, _("Moved to %(name)s.") % {"name": project.name}
    )


def _answer(
    request: HtmxHttpRequest, generation: Generation, level: int, text: str
) -> HttpResponse:
    """A card's own form gets the card back, saying what happened; a plain form goes back."""
    if request.htmx and request.htmx.target == f"card-{generation.pk}":
        with_typical_times([generation])
        context = {
            "generation": generation,
            "projects": list(Project.objects.all()),
            "notice": text,
            "notice_is_error": level == messages.ERROR,
        }
        return render(request, "videos/gallery_card.html", context)
    messages.add_message(request, level, text)
    if _safe_next(request):
        return redirect(request.POST["next"])
    return redirect(generation)


def _safe_next(request: HtmxHttpRequest) -> bool:
    """Only a path on this site: a form's `next` must not send anyone elsewhere."""
    target = request.POST.get("next", "")
    return url_has_allowed_host_and_scheme(target, allowed_hosts=None) and target.startswith("/")


@require_POST
def generation_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Move a generation to the trash; the notice offers Undo, the Trash page Restore."""
    generation = get_object_or_404(Generation.objects.editable_by(request.user).live(), pk=pk)
    if not generation.trash():
        messages.error(request, _("A running job cannot be deleted; wait for it to finish."))
        return redirect(generation)
    days = settings.STUDIO_TRASH_DAYS
    messages.success(
        request,
        _("Moved to the trash; it is deleted for good after %(days)s days.")
        % {"days": f"{days:g}"},
        extra_tags=f"undo-{generation.pk}",
    )
    return redirect("gallery")


@require_POST
def generation_restore(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Take a generation out of the trash (its owner or an admin)."""
    generation = get_object_or_404(Generation.objects.editable_by(request.user).trashed(), pk=pk)
    generation.restore()
    messages.success(request, _("Restored from the trash."))
    return redirect(generation)


@require_GET
def trash(request: HtmxHttpRequest) -> HttpResponse:
    """What the user deleted (an admin: everyone's), until it is purged."""
    rows = Generation.objects.editable_by(request.user).trashed().select_related("owner")
    context = {"rows": rows[:200], "days": f"{settings.STUDIO_TRASH_DAYS:g}"}
    return render(request, "videos/trash.html", context)


@require_GET
def generation_media(request: HtmxHttpRequest, pk: int, variant: str) -> HttpResponse:
    """A generation's stored video, poster or input frame, with Range support."""
    if variant not in MEDIA_VARIANTS:
        raise Http404("unknown media")
    generation = get_object_or_404(Generation.objects.visible_to(request.user), pk=pk)
    stored = getattr(generation, variant)
    download = request.GET.get("download") == "1"
    name = f"generation-{generation.pk}.mp4" if download and variant == "video" else ""
    return serve_stored_file(request, stored.name if stored else "", download_name=name)


@require_GET
def generation_input(request: HtmxHttpRequest, pk: int, field: str) -> HttpResponse:
    """A stored input of the newer kinds ("image.0", "video.0"), e.g. one a remix keeps."""
    generation = get_object_or_404(Generation.objects.visible_to(request.user), pk=pk)
    role, _dot, position = field.partition(".")
    if not (position.isascii() and position.isdigit() and len(position) < 4):
        raise Http404("unknown input")
    row = get_object_or_404(generation.inputs.exclude(file=""), role=role, position=int(position))
    return serve_stored_file(request, row.file.name)


@login_not_required
@require_GET
def signed_media(request: HtmxHttpRequest, token: str) -> HttpResponse:
    """Stored media by signed token: API clients download results without a session."""
    name = unsign_media_name(token)
    if name is None or not default_storage.exists(name):
        raise Http404("unknown or expired link")
    return serve_stored_file(request, name)
