"""The web UI: gallery with live updates, create forms, generation pages and media."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from studio.typing import HtmxHttpRequest

from .batches import job_count_error, parse_prompt
from .creation import Origin, create_generation, create_generations, rerun
from .forms import (
    BatchForm,
    ConfirmForm,
    EstimateForm,
    GalleryPollForm,
    GenerationForm,
    initial_from,
)
from .kinds import KINDS, kind_page_context, kind_spec
from .media import serve_stored_file, unsign_media_name
from .models import Generation, Kind, VideoModel

GALLERY_SIZE = 48
MEDIA_VARIANTS = {"video", "poster", "image", "image_tail"}


def with_typical_times(generations: list[Generation]) -> list[Generation]:
    """Attach each model's typical run time in one query (no query per card)."""
    typical = dict(VideoModel.objects.values_list("name", "typical_seconds"))
    for generation in generations:
        generation.typical_seconds = typical.get(generation.model_name)
    return generations


@require_GET
def gallery(request: HtmxHttpRequest) -> HttpResponse:
    """The team's newest generations; htmx polls refresh only what changed, in one request."""
    if request.htmx and request.htmx.target == "gallery-poll":
        return _gallery_poll(request)
    generations = with_typical_times(
        list(Generation.objects.visible_to(request.user).recent()[:GALLERY_SIZE])
    )
    context = {
        "generations": generations,
        "watch": [g.pk for g in generations if g.is_pending],
        "newest": generations[0].pk if generations else 0,
    }
    return render(request, "videos/gallery.html", context)


def _gallery_poll(request: HtmxHttpRequest) -> HttpResponse:
    """Cards that changed since the last poll: watched pending ones and brand-new ones."""
    query = GalleryPollForm(request.GET)
    if not query.is_valid():
        # Our own poll URLs are always valid: this is a hand-made one. No default would
        # do for `newest` (0 would add the whole gallery again), so say what is wrong.
        return render(request, "videos/query_errors.html", {"form": query}, status=400)
    watched, newest = query.cleaned_data["watch"], query.cleaned_data["newest"] or 0
    visible = Generation.objects.visible_to(request.user).recent()
    updated = list(visible.filter(pk__in=watched)) if watched else []
    fresh = list(visible.filter(pk__gt=newest)[:GALLERY_SIZE])
    with_typical_times(updated + fresh)
    context = {
        "updated": updated,
        "fresh": fresh,
        "watch": [g.pk for g in fresh + updated if g.is_pending],
        "newest": max([newest] + [g.pk for g in fresh]),
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
    units = entry.estimate_units(mode, duration)
    variants, prompts, prompt_error = chosen.get("variants") or 1, 1, ""
    try:
        prompts = parse_prompt(chosen.get("prompt") or "").count
    except ValidationError as exc:
        prompt_error = " ".join(exc.messages)
    if too_many := job_count_error(prompts, variants):
        prompt_error = " ".join(too_many.messages)
    jobs = prompts * variants
    total = units * jobs
    return {
        "entry": entry,
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
    request: HtmxHttpRequest, form: GenerationForm, parent: Generation | None = None
) -> HttpResponse:
    kind = form["kind"].value() or Kind.TEXT2VIDEO
    context = {
        "form": form,
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


def _create_batch(request: HtmxHttpRequest, form: BatchForm, origin: Origin) -> HttpResponse:
    """Every job of one submission in one transaction (videos/creation.py), then the gallery."""
    rows = create_generations(form, origin, form.prompts)
    return _created(request, rows[0], len(rows), form.cleaned_data.get("prompt") or "")


@require_http_methods(["GET", "POST"])
def generation_new(request: HtmxHttpRequest) -> HttpResponse:
    """Create text-to-video or image-to-video jobs (variants, alternatives); GET prefills."""
    if request.method == "POST":
        form = BatchForm(request.POST, request.FILES)
        if form.is_valid():
            return _create_batch(request, form, Origin(owner=request.user))
        return _form_page(request, form)
    initial = {k: v for k, v in request.GET.items() if k in GenerationForm.base_fields}
    initial.setdefault("kind", Kind.TEXT2VIDEO)
    return _form_page(request, BatchForm(initial=initial))


@require_http_methods(["GET", "POST"])
def kind_new(request: HtmxHttpRequest, kind: str) -> HttpResponse:
    """Create a job of one of the newer kinds (kling-kinds.md §7) with that kind's own form."""
    form_class = kind_spec(kind).form_class
    if request.method == "POST":
        form = form_class(request.POST, request.FILES)
        if form.is_valid():
            return _created(request, create_generation(form, Origin(owner=request.user)))
    else:
        form = form_class(
            initial={k: v for k, v in request.GET.items() if k in form_class.base_fields}
        )
    return _kind_page(request, kind, form)


def _kind_page(
    request: HtmxHttpRequest, kind: str, form: Any, parent: Generation | None = None
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
    if request.method == "POST":
        form = form_class(request.POST, request.FILES, remix_of=parent)
        if form.is_valid():
            origin = Origin(owner=request.user, parent=parent)
            return _created(request, create_generation(form, origin))
    else:
        form = form_class(initial=form_class.initial_from(parent), remix_of=parent)
    return _kind_page(request, parent.kind, form, parent)


@require_http_methods(["GET", "POST"])
def generation_remix(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A form prefilled with a generation's parameters; the new jobs are linked to it."""
    parent = get_object_or_404(Generation.objects.visible_to(request.user), pk=pk)
    spec = KINDS.get(parent.kind)
    if spec is not None and spec.form_class is not None:
        return _kind_remix(request, parent, spec.form_class)
    if request.method == "POST":
        form = BatchForm(request.POST, request.FILES, inherit_frames_from=parent)
        if form.is_valid():
            return _create_batch(request, form, Origin(owner=request.user, parent=parent))
        return _form_page(request, form, parent)
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
            "units": entry.estimate_units(parent.mode, parent.duration) if entry else None,
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
def generation_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Every parameter, the timeline, the video, and the actions allowed to this user."""
    generation = get_object_or_404(Generation.objects.visible_to(request.user).recent(), pk=pk)
    context = {
        "generation": generation,
        "can_edit": Generation.objects.editable_by(request.user).filter(pk=pk).exists(),
        "events": generation.events.all(),
        "children": generation.children.live().order_by("-id")[:20],
    }
    template = "videos/generation_detail.html"
    if request.htmx and request.htmx.target == "generation-status":
        template += "#generation-status"
    return render(request, template, context)


@require_POST
def generation_cancel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    generation = get_object_or_404(Generation.objects.editable_by(request.user), pk=pk)
    if generation.cancel():
        messages.success(request, _("Cancelled."))
    else:
        messages.error(
            request,
            _("Only queued jobs can be cancelled; this one is %(status)s.")
            % {"status": generation.get_status_display()},
        )
    return redirect(generation)


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
