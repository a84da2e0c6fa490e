"""The web UI: gallery with live updates, create forms, generation pages and media."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from studio.typing import HtmxHttpRequest

from .creation import Origin, create_generation, rerun
from .forms import EstimateForm, GalleryPollForm, GenerationForm, initial_from
from .kinds import kind_page_context, kind_spec
from .media import serve_stored_file, unsign_media_name
from .models import Generation, Kind, Status, VideoModel

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
    """The cost of the chosen model, mode and duration; a refused value counts as its default."""
    query.is_valid()
    chosen = query.cleaned_data
    entry = VideoModel.objects.filter(name=chosen.get("model_name") or "kling-v1").first()
    if entry is None:
        return {"entry": None}
    mode, duration = chosen.get("mode") or "std", chosen.get("duration") or 5
    return {"entry": entry, "units": entry.estimate_units(mode, duration), "duration": duration}


@require_GET
def estimate(request: HtmxHttpRequest) -> HttpResponse:
    """The cost and typical time of a job, shown in the form before submitting."""
    query = EstimateForm(request.GET)
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


def _created(request: HtmxHttpRequest, generation: Generation) -> HttpResponse:
    what = generation.prompt[:60] or generation.get_kind_display()
    messages.success(request, _("Queued: %(what)s.") % {"what": what})
    if request.htmx:
        return HttpResponseClientRedirect("/")
    return redirect("gallery")


@require_http_methods(["GET", "POST"])
def generation_new(request: HtmxHttpRequest) -> HttpResponse:
    """Create a text-to-video or image-to-video job; GET parameters prefill the form."""
    if request.method == "POST":
        form = GenerationForm(request.POST, request.FILES)
        if form.is_valid():
            return _created(request, create_generation(form, Origin(owner=request.user)))
        return _form_page(request, form)
    initial = {k: v for k, v in request.GET.items() if k in GenerationForm.base_fields}
    initial.setdefault("kind", Kind.TEXT2VIDEO)
    return _form_page(request, GenerationForm(initial=initial))


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
    template = "videos/kind_form.html"
    if request.htmx and request.htmx.target == "kind-form":
        template += "#kind-form"
    context = {"form": form, "kind": kind, "spec": kind_spec(kind), **kind_page_context(kind)}
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
def generation_remix(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A form prefilled with a generation's parameters; the new job is linked to it."""
    parent = get_object_or_404(Generation.objects.visible_to(request.user), pk=pk)
    if request.method == "POST":
        form = GenerationForm(request.POST, request.FILES, inherit_frames_from=parent)
        if form.is_valid():
            origin = Origin(owner=request.user, parent=parent)
            return _created(request, create_generation(form, origin))
        return _form_page(request, form, parent)
    return _form_page(request, GenerationForm(initial=initial_from(parent)), parent)


@require_POST
def generation_rerun(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Run the same parameters again as a new generation linked to the original."""
    parent = get_object_or_404(Generation.objects.visible_to(request.user), pk=pk)
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
        "children": generation.children.order_by("-id")[:20],
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
    generation = get_object_or_404(Generation.objects.editable_by(request.user), pk=pk)
    if generation.is_pending and generation.status != Status.QUEUED:
        messages.error(request, _("A running job cannot be deleted; wait for it to finish."))
        return redirect(generation)
    generation.delete_with_files()
    messages.success(request, _("Deleted."))
    return redirect("gallery")


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


@login_not_required
@require_GET
def signed_media(request: HtmxHttpRequest, token: str) -> HttpResponse:
    """Stored media by signed token: API clients download results without a session."""
    name = unsign_media_name(token)
    if name is None or not default_storage.exists(name):
        raise Http404("unknown or expired link")
    return serve_stored_file(request, name)
