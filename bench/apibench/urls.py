"""The studio's routes plus two baselines: bare Django JSON views reading one generation row."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import include, path
from django.views.decorators.http import require_GET

from videos.models import Generation


@login_not_required
@require_GET
def baseline(request: HttpRequest, pk: int) -> JsonResponse:
    """The plain way: fetch the row as a model instance and answer a few of its fields."""
    generation = get_object_or_404(Generation, pk=pk)
    return JsonResponse(
        {"id": generation.pk, "status": generation.status, "prompt": generation.prompt,
         "created_at": generation.created_at}
    )  # fmt: skip


@login_not_required
@require_GET
def lean_baseline(request: HttpRequest, pk: int) -> JsonResponse:
    """The least a row read can cost in Django: four columns through values()."""
    row = Generation.objects.filter(pk=pk).values("id", "status", "prompt", "created_at").first()
    return JsonResponse({"data": row})


urlpatterns = [
    path("bench/baseline/<int:pk>", baseline),
    path("bench/lean/<int:pk>", lean_baseline),
    path("", include("studio.urls")),
]
