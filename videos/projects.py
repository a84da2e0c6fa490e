"""Projects: the team's shared boards of generations, each with an optional unit budget."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from studio.typing import HtmxHttpRequest

from .forms import ProjectForm
from .media import serve_stored_file
from .models import Generation, Project
from .views import with_typical_times

BOARD_SIZE = 48


@require_GET
def project_list(request: HtmxHttpRequest) -> HttpResponse:
    """Every project of the team, with its size and what is left of its budget."""
    projects = list(Project.objects.visible_to(request.user).select_related("created_by"))
    return render(request, "videos/project_list.html", {"projects": projects})


@require_http_methods(["GET", "POST"])
def project_new(request: HtmxHttpRequest) -> HttpResponse:
    """Start a project; whoever creates it (and any admin) may edit it later."""
    form = ProjectForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        form.instance.created_by = request.user
        project = form.save()
        messages.success(request, _("Project %(name)s created.") % {"name": project.name})
        return redirect(project)
    return render(request, "videos/project_form.html", {"form": form, "project": None})


@require_http_methods(["GET", "POST"])
def project_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Rename a project, change its cover or budget (its creator or an admin)."""
    project = get_object_or_404(Project.objects.editable_by(request.user), pk=pk)
    form = ProjectForm(request.POST or None, request.FILES or None, instance=project)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Project saved."))
        return redirect(project)
    return render(request, "videos/project_form.html", {"form": form, "project": project})


@require_GET
def project_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A project's board: its newest generations as cards, its budget and where to look next."""
    project = get_object_or_404(Project.objects.visible_to(request.user), pk=pk)
    board = Generation.objects.visible_to(request.user).filter(project=project).recent()
    context = {
        "project": project,
        "generations": with_typical_times(list(board[:BOARD_SIZE])),
        "count": board.count(),
        "can_edit": Project.objects.editable_by(request.user).filter(pk=pk).exists(),
        "projects": list(Project.objects.all()),
    }
    return render(request, "videos/project_detail.html", context)


@require_GET
def project_cover(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A project's cover image, for signed-in members."""
    project = get_object_or_404(Project.objects.visible_to(request.user), pk=pk)
    return serve_stored_file(request, project.cover.name if project.cover else "")
