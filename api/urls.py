"""Routes of the api app: the studio's own API (kling-api.md §3), its docs and the keys pages."""

import re

from django.urls import path, register_converter

from videos.kinds import KINDS

from . import generic, kling, openai, views


class KindConverter:
    """Every kind's path segment (videos/kinds): the Kling-native routes serve them all.

    Kind words never look like OpenAI's prefixed video ids, so /v1/videos/<kind> is matched
    before /v1/videos/<video_id> (kling-kinds.md §9).
    """

    regex = "|".join(re.escape(kind) for kind in KINDS)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(KindConverter, "kind")

# Kling-native routes, mounted twice: under /kling (the gateways' layout) and at the
# root, so an official Kling SDK works by changing its base URL only.
kling_routes = [
    # Synchronous, not a kind (kling-kinds.md §7.6): ahead of OpenAI's /v1/videos/<video_id>.
    path("v1/videos/identify-face", kling.identify_face),
    path("v1/videos/<kind:kind>", kling.tasks),
    path("v1/videos/<kind:kind>/<str:task_id>", kling.task),
    path("account/costs", kling.account_costs),
]

urlpatterns = [
    path("kling/v1/videos/identify-face", kling.identify_face, name="kling_identify_face"),
    path("kling/v1/videos/<kind:kind>", kling.tasks, name="kling_tasks"),
    path("kling/v1/videos/<kind:kind>/<str:task_id>", kling.task, name="kling_task"),
    path("kling/account/costs", kling.account_costs, name="kling_account_costs"),
    *kling_routes,
    path("v1/video/generations", generic.create, name="generic_create"),
    path("v1/video/generations/<str:task_id>", generic.task, name="generic_task"),
    path("v1/videos", openai.videos, name="openai_videos"),
    path("v1/videos/<str:video_id>", openai.video, name="openai_video"),
    path("v1/videos/<str:video_id>/content", openai.content, name="openai_content"),
    path("api/openapi.json", views.openapi, name="openapi"),
    path("api/", views.api_docs, name="api_docs"),
    path("keys/", views.my_keys, name="my_keys"),
    path("keys/new/", views.key_create, name="key_create"),
    path("keys/<int:pk>/revoke/", views.key_revoke, name="key_revoke"),
    path("keys/<int:pk>/deliveries/", views.key_deliveries, name="key_deliveries"),
]
