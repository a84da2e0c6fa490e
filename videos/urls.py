"""Routes of the web UI: gallery, create forms, generation pages and media."""

import re

from django.urls import path, register_converter

from . import callbacks, projects, troubleshoot, views
from .kinds import PAGE_KINDS


class PageKindConverter:
    """The kinds with a page of their own (videos/kinds: those with a form_class)."""

    regex = "|".join(re.escape(kind) for kind in PAGE_KINDS)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(PageKindConverter, "pagekind")

urlpatterns = [
    path("", views.gallery, name="gallery"),
    path("generations/new/", views.generation_new, name="generation_new"),
    path("generations/new/<pagekind:kind>/", views.kind_new, name="kind_new"),
    path("generations/estimate/", views.estimate, name="generation_estimate"),
    path("generations/kept/<str:token>/", views.kept_frame, name="kept_frame"),
    path("generations/<int:pk>/", views.generation_detail, name="generation_detail"),
    path("generations/<int:pk>/remix/", views.generation_remix, name="generation_remix"),
    path("generations/<int:pk>/rerun/", views.generation_rerun, name="generation_rerun"),
    path("generations/<int:pk>/lip-sync/", views.generation_lip_sync, name="generation_lip_sync"),
    path("generations/<int:pk>/cancel/", views.generation_cancel, name="generation_cancel"),
    path("generations/<int:pk>/delete/", views.generation_delete, name="generation_delete"),
    path("generations/<int:pk>/restore/", views.generation_restore, name="generation_restore"),
    path("trash/", views.trash, name="trash"),
    path("generations/<int:pk>/move/", views.generation_move, name="generation_move"),
    path("projects/", projects.project_list, name="project_list"),
    path("projects/new/", projects.project_new, name="project_new"),
    path("projects/<int:pk>/", projects.project_detail, name="project_detail"),
    path("projects/<int:pk>/edit/", projects.project_edit, name="project_edit"),
    path("projects/<int:pk>/cover/", projects.project_cover, name="project_cover"),
    path(
        "generations/<int:pk>/media/<str:variant>/", views.generation_media, name="generation_media"
    ),
    path(
        "generations/<int:pk>/inputs/<str:field>/", views.generation_input, name="generation_input"
    ),
    path("media/s/<str:token>/", views.signed_media, name="signed_media"),
    path(
        "upstream/callback/<int:pk>/<str:token>/",
        callbacks.upstream_callback,
        name="upstream_callback",
    ),
    path("generations/<int:pk>/troubleshoot/", troubleshoot.panel, name="troubleshoot"),
    path(
        "generations/<int:pk>/troubleshoot/poll/", troubleshoot.poll_now, name="troubleshoot_poll"
    ),
    path("generations/<int:pk>/troubleshoot/retry/", troubleshoot.retry, name="troubleshoot_retry"),
    path(
        "generations/<int:pk>/troubleshoot/fail/",
        troubleshoot.mark_failed,
        name="troubleshoot_fail",
    ),
    path("providers/<int:pk>/test/", troubleshoot.provider_test, name="provider_test"),
]
