"""The studio's routes plus the naive baseline: a view that reads the whole file into memory."""

from django.contrib.auth.decorators import login_not_required
from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import include, path
from django.views.decorators.http import require_GET

from videos.models import Generation


@login_not_required
@require_GET
def naive(request: HttpRequest, pk: int) -> HttpResponse:
    """What a first attempt looks like: the whole file in one bytes object."""
    generation = get_object_or_404(Generation, pk=pk)
    with default_storage.open(generation.video.name, "rb") as fh:
        return HttpResponse(fh.read(), content_type="video/mp4")


urlpatterns = [
    path("bench/naive/<int:pk>", naive),
    path("", include("studio.urls")),
]
