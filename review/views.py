"""Team review pages: history, judging, compare, lineage, recipes, exports and usage."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from studio.typing import HtmxHttpRequest
from videos.creation import Origin, create_generation
from videos.forms import ConfirmForm, ProjectChoiceForm
from videos.models import Generation, VideoModel
from videos.views import confirm_run_page

from . import export, usage
from .diff import compare as compare_generations
from .forms import (
    DEFAULT_PAGE_SIZE,
    CommentForm,
    CompareForm,
    HistoryFilterForm,
    RatingForm,
    RecipeForm,
    SavedSearchForm,
    SelectionForm,
    TagForm,
    TagSuggestForm,
    UsageForm,
)
from .models import (
    Comment,
    JudgingState,
    Rating,
    Recipe,
    SavedSearch,
    Star,
    Tag,
    Tagging,
    with_review,
)


def _visible(request: HttpRequest) -> object:
    return Generation.objects.visible_to(request.user)


# ---- history -----------------------------------------------------------------------------
@require_GET
def history(request: HtmxHttpRequest) -> HttpResponse:
    """The team's generations, searched and filtered from the URL, one keyset page at a time."""
    data = request.GET.copy()
    # So the select shows the size in use: with none selected the browser shows, and the
    # next filter change submits, its first option (10).
    data.setdefault("per", str(DEFAULT_PAGE_SIZE))
    form = HistoryFilterForm(data)
    rows: list[Generation] = []
    next_cursor = None
    if form.is_valid():
        results = with_review(form.results(_visible(request), request.user), request.user)
        rows = list(results[: form.page_size + 1])
        if len(rows) > form.page_size:
            rows = rows[: form.page_size]
            next_cursor = rows[-1].pk
    template_name = "review/history.html"
    if request.htmx and not request.htmx.history_restore_request:
        # "Load more" appends rows; a filter change replaces the whole result list.
        more = form.is_valid() and form.cleaned_data.get("before") is not None
        template_name += "#history-rows" if more else "#history-results"
    context = {
        "form": form,
        "rows": rows,
        "next_cursor": next_cursor,
        "saved_searches": SavedSearch.objects.filter(owner=request.user),
        "saved_search_form": SavedSearchForm(initial={"query": request.GET.urlencode()}),
    }
    response = render(request, template_name, context)
    patch_vary_headers(response, ["HX-Request"])  # the page and its fragment share a URL
    return response


@require_POST
def saved_search_create(request: HttpRequest) -> HttpResponse:
    form = SavedSearchForm(request.POST, instance=SavedSearch(owner=request.user))
    if (
        form.is_valid()
        and not SavedSearch.objects.filter(
            owner=request.user, name=form.cleaned_data["name"]
        ).exists()
    ):
        saved = form.save()
        messages.success(request, _("Saved the search “%(name)s”.") % {"name": saved.name})
        return redirect(f"{reverse('history')}?{saved.query}")
    messages.error(request, _("Give the search a name you have not used yet."))
    return redirect(f"{reverse('history')}?{form.data.get('query', '')}")


@require_POST
def saved_search_delete(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(SavedSearch, pk=pk, owner=request.user).delete()
    return redirect("history")


# ---- judging -----------------------------------------------------------------------------
def _panel(request: HttpRequest, generation: Generation, **invalid_forms: Form) -> HttpResponse:
    """The judging panel of one generation (with the errors of a form that did not validate)."""
    judging = JudgingState.load(generation, request.user)
    context = {"generation": generation, "judging": judging, **invalid_forms}
    return render(request, "review/judging.html#judging", context)


def _judging(request: HtmxHttpRequest, generation: Generation) -> HttpResponse:
    """Answer a judging action: the panel (or a history row's star) for htmx, else a redirect."""
    if not request.htmx:
        return redirect(generation.get_absolute_url())
    if request.htmx.target == f"star-{generation.pk}":
        generation.starred = Star.objects.filter(user=request.user, generation=generation).exists()
        return render(request, "review/history.html#star-button", {"row": generation})
    return _panel(request, generation)


@require_GET
def judging(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _panel(request, get_object_or_404(_visible(request), pk=pk))


@require_POST
def star(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    generation = get_object_or_404(_visible(request), pk=pk)
    Star.toggle(request.user, generation)
    return _judging(request, generation)


@require_POST
def rate(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    generation = get_object_or_404(_visible(request), pk=pk)
    form = RatingForm(request.POST)
    if form.is_valid():
        Rating.set(request.user, generation, form.cleaned_data["value"])
    return _judging(request, generation)


@require_POST
def tag_add(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    generation = get_object_or_404(_visible(request), pk=pk)
    form = TagForm(request.POST)
    if not form.is_valid():
        return _invalid(request, generation, "tag_form", form)
    Tagging.add(generation, form.cleaned_data["name"], request.user)
    return _judging(request, generation)


@require_POST
def tag_remove(request: HtmxHttpRequest, pk: int, tag_pk: int) -> HttpResponse:
    generation = get_object_or_404(_visible(request), pk=pk)
    tagging = get_object_or_404(
        Tagging.objects.select_related("generation"), generation=generation, tag_id=tag_pk
    )
    if not tagging.can_be_removed_by(request.user):
        raise PermissionDenied(
            _("Only who added a tag, the generation’s owner or an admin may remove it.")
        )
    tagging.remove()
    return _judging(request, generation)


@require_GET
def tag_suggestions(request: HttpRequest) -> HttpResponse:
    """The autocomplete <option>s of the tag inputs' <datalist>."""
    form = TagSuggestForm(request.GET)
    tags = Tag.objects.suggest(form.cleaned_data["name"]) if form.is_valid() else Tag.objects.none()
    return render(request, "review/judging.html#tag-options", {"tags": tags})


@require_POST
def comment_add(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    generation = get_object_or_404(_visible(request), pk=pk)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _invalid(request, generation, "comment_form", form)
    Comment.post(generation, request.user, form.cleaned_data["body"], form.cleaned_data["timecode"])
    return _judging(request, generation)


@require_POST
def comment_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    comment = get_object_or_404(
        Comment.objects.select_related("generation"), pk=pk, generation__in=_visible(request)
    )
    if not comment.can_be_deleted_by(request.user):
        raise PermissionDenied(_("Only the author of a comment or an admin may delete it."))
    comment.remove()
    return _judging(request, comment.generation)


def _invalid(
    request: HtmxHttpRequest, generation: Generation, name: str, form: Form
) -> HttpResponse:
    """Re-render the panel with the form's errors (200: htmx 2 does not swap 4xx answers)."""
    if not request.htmx:
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
        return redirect(generation.get_absolute_url())
    return _panel(request, generation, **{name: form})


# ---- compare and lineage ---------------------------------------------------------------------
@require_GET
def compare(request: HttpRequest) -> HttpResponse:
    """2 to 4 generations side by side: synchronised players and a parameter diff."""
    if "ids" not in request.GET and "project" in request.GET:
        return _compare_project(request)
    form = CompareForm(request.GET, visible=_visible(request))
    comparison = compare_generations(form.cleaned_data["ids"]) if form.is_valid() else None
    return render(request, "review/compare.html", {"form": form, "comparison": comparison})


def _compare_project(request: HttpRequest) -> HttpResponse:
    """A project's newest finished clips (up to 4), as the URL of their comparison."""
    chosen = ProjectChoiceForm(request.GET)
    project = chosen.cleaned_data["project"] if chosen.is_valid() else None
    if project is None:
        return render(request, "review/compare.html", {"form": chosen, "comparison": None})
    newest = (
        _visible(request)
        .filter(project=project, status="succeeded")
        .order_by("-pk")
        .values_list("pk", flat=True)[:4]
    )
    return redirect(f"{reverse('compare')}?{urlencode([('ids', pk) for pk in newest])}")


@require_GET
def lineage(request: HttpRequest, pk: int) -> HttpResponse:
    """A generation's ancestors, its remixes, and what changed from its parent."""
    generation = get_object_or_404(_visible(request).select_related("owner", "parent"), pk=pk)
    ancestors = []
    node = generation.parent
    while node is not None and len(ancestors) < 20:  # bounded: a remix chain, not a loop
        ancestors.append(node)
        node = node.parent
    children = _visible(request).filter(parent=generation).select_related("owner").order_by("-pk")
    comparison = compare_generations([generation.parent, generation]) if generation.parent else None
    context = {
        "generation": generation,
        "ancestors": list(reversed(ancestors)),
        "children": children,
        "comparison": comparison,
    }
    return render(request, "review/lineage.html", context)


# ---- recipes ----------------------------------------------------------------------------------
@require_GET
def recipes(request: HttpRequest) -> HttpResponse:
    context = {"recipes": Recipe.objects.with_stats()}
    return render(request, "review/recipes.html", context)


@require_POST
def recipe_create(request: HttpRequest, pk: int) -> HttpResponse:
    generation = get_object_or_404(_visible(request), pk=pk)
    form = RecipeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("A recipe needs a name."))
        return redirect(generation.get_absolute_url())
    recipe = Recipe.from_generation(generation, request.user, **form.cleaned_data)
    messages.success(request, _("Saved the recipe “%(name)s”.") % {"name": recipe.name})
    return redirect("recipes")


def _recipe_cost(recipe: Recipe) -> Any:
    """The catalogue's estimate of one run of a recipe (None for a model no longer listed)."""
    params = recipe.parameters
    entry = VideoModel.objects.filter(name=params.get("model_name")).first()
    if entry is None:
        return None
    return entry.estimate_units(params.get("mode") or "std", params.get("duration") or 5)


@require_http_methods(["GET", "POST"])
def recipe_run(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Start a new job with a recipe's parameters, through the same form as every create,
    once its cost is confirmed (a POST without the confirmation sends nothing)."""
    recipe = get_object_or_404(Recipe, pk=pk)
    confirm = ConfirmForm(request.POST if request.method == "POST" else None)
    if not confirm.is_valid():
        context = {
            "title": _("Run the recipe “%(name)s”") % {"name": recipe.name},
            "parameters": recipe.parameters,
            "units": _recipe_cost(recipe),
            "back_url": reverse("recipes"),
        }
        return confirm_run_page(request, confirm, context)
    data, files = recipe.form_input()
    # The source's frames go when it is deleted with its files: say so, not a 500.
    gone = [field for field, name in files.items() if not default_storage.exists(name)]
    form = recipe.form_class()(
        data, {f: _stored_upload(name) for f, name in files.items() if f not in gone}
    )
    if errors := _cannot_run(form, gone):
        messages.error(
            request,
            _("The recipe “%(name)s” can no longer run: %(why)s")
            % {"name": recipe.name, "why": "; ".join(errors)},
        )
        return redirect("recipes")
    origin = Origin(owner=request.user, extra={"recipe": recipe.pk})
    generation = create_generation(form, origin)
    recipe.record_run(generation)
    return redirect(generation.get_absolute_url())


def _cannot_run(form: Form, gone: list[str]) -> list[str]:
    """Why a recipe's job cannot start: a stored frame deleted since, or the form's errors."""
    if gone:
        return [
            _("its %(what)s is no longer stored") % {"what": (form.fields[f].label or f).lower()}
            for f in gone
        ]
    return [] if form.is_valid() else [e for errors in form.errors.values() for e in errors]


def _stored_upload(name: str) -> SimpleUploadedFile:
    """A stored input image handed to the form as if uploaded again (the form re-checks it)."""
    with default_storage.open(name, "rb") as fh:
        return SimpleUploadedFile(name.rsplit("/", 1)[-1], fh.read())


@require_POST
def recipe_delete(request: HttpRequest, pk: int) -> HttpResponse:
    recipe = get_object_or_404(Recipe, pk=pk)
    if not recipe.can_be_changed_by(request.user):
        raise PermissionDenied(_("Only the recipe’s author or an admin may delete it."))
    recipe.delete()
    return redirect("recipes")


# ---- exports ----------------------------------------------------------------------------------
EXPORT_TYPES = {
    "csv": ("text/csv; charset=utf-8", export.csv_stream),
    "json": ("application/json", export.json_stream),
}


@require_GET
def history_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The filtered history (every page), streamed as CSV or JSON."""
    if fmt not in EXPORT_TYPES:
        raise Http404("unknown export format")
    form = HistoryFilterForm(request.GET)
    if not form.is_valid():
        return _bad_request(request, form)
    content_type, stream = EXPORT_TYPES[fmt]
    rows = with_review(form.results(_visible(request), request.user), request.user)
    return _download(stream(rows), content_type, "studio-history", fmt)


@require_GET
def history_zip(request: HttpRequest) -> HttpResponse:
    """The selected generations' videos in one zip, streamed."""
    form = SelectionForm(request.GET, visible=_visible(request))
    if not form.is_valid():
        return _bad_request(request, form)
    return _download(
        export.zip_stream(form.cleaned_data["ids"]), "application/zip", "studio-videos", "zip"
    )


def _bad_request(request: HttpRequest, form: Form) -> HttpResponse:
    """A refused export as a page that says why and leads back to the history as it was."""
    errors = [
        f"{form.fields[name].label or name.replace('_', ' ').capitalize()}: {message}"
        if name not in ("ids", NON_FIELD_ERRORS)
        else message
        for name, messages_ in form.errors.items()
        for message in messages_
    ]
    query = request.GET.copy()
    query.pop("ids", None)
    context = {
        "title": _("Nothing exported"),
        "errors": errors,
        "back_url": f"{reverse('history')}?{query.urlencode()}" if query else reverse("history"),
    }
    return render(request, "400.html", context, status=400)


def _download(chunks: Iterator[Any], content_type: str, name: str, ext: str) -> HttpResponse:
    """A streamed attachment named after what it holds and when it was made."""
    response = StreamingHttpResponse(chunks, content_type=content_type)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.{ext}"'
    return response


# ---- usage (admins) -----------------------------------------------------------------------------
@require_GET
def usage_page(request: HttpRequest) -> HttpResponse:
    """Usage per user, key, provider and model over a period, and the audit log: admins only."""
    if not request.user.is_staff:
        raise PermissionDenied(_("The usage page is for admins."))
    data = request.GET.copy()
    data.setdefault("days", "30")  # so the period select shows the period actually used
    form = UsageForm(data)
    report = usage.report(*form.period()) if form.is_valid() else None
    return render(request, "review/usage.html", {"form": form, "report": report})
