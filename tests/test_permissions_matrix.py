"""Who may call what: every route of the URL resolver, five actors, the outcome for each.

The routes come from django.urls.get_resolver(), so a new URL without an entry in
RULES fails test_every_route_declares_its_access_rule: each new route must say who may
use it. Actors: anonymous, a member (bob: signed in, not the owner), the owner (alice:
signed in, and her API key on API routes), an admin (staff), and another user's API key
(bob's key, no session). Objects belong to alice. Pages are checked for their content
(a marker string), not only their status, and every request for what it did to the
database: a refused one changes no row, an allowed one makes exactly its declared change
(the row added, changed or gone) and nothing else.
"""

# The rules table keeps one rule per line: easier to scan and extend than wrapped.
# ruff: noqa: E501

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from api.models import ApiKey, ApiTask, CallbackDelivery
from review.models import Comment, Rating, Recipe, RecipeRun, SavedSearch, Star, Tag, Tagging
from tests.api_helpers import issue
from tests.images import image_bytes
from videos.kept_frames import keep as keep_frame
from videos.media import signed_media_path
from videos.models import Generation, GenerationEvent, GenerationInput, Project, Provider

ACTORS = ("anonymous", "member", "owner", "admin", "other_key")
VIDEO_BYTES = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40
POSTER_BYTES = b"\xff\xd8\xff\xe0 poster bytes"
IMAGE_BYTES = b"\x89PNG\r\n\x1a\n first frame bytes"


# ---- the routes, straight from the resolver ------------------------------------------------------
def route_patterns(patterns: list[Any] | None = None, prefix: str = "") -> list[str]:
    """Every route as its full pattern string, e.g. "generations/<int:pk>/"."""
    found: list[str] = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            found += route_patterns(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            found.append(prefix + str(entry.pattern))
    return found


# ---- what each actor gets ------------------------------------------------------------------------
@dataclass(frozen=True)
class Expect:
    """An outcome: status, plus text the body or the Location must (or must not) hold."""

    status: int
    marker: str = ""  # in the body (formatted with the world's ids)
    location: str = ""  # the redirect target starts with this
    absent: str = ""  # never in the body
    kling: int | None = None  # the Kling error code of a JSON error body
    openai: str | None = None  # the OpenAI error code of a JSON error body


LOGIN = Expect(302, location="/login/?next=")
ADMIN_LOGIN = Expect(302, location="/admin/login/?next=")
FORBIDDEN = Expect(403)
NOT_FOUND = Expect(404)
NO_KEY = Expect(401, kling=1001)
NO_KEY_OPENAI = Expect(401, openai="missing_api_key")
TASK_NOT_FOUND = Expect(404, kling=1203)
VIDEO_NOT_FOUND = Expect(404, openai="not_found")


def page(marker: str, **kw: Any) -> Expect:
    return Expect(200, marker=marker, **kw)


def redirect(location: str) -> Expect:
    return Expect(302, location=location)


def signed_in(expect: Expect) -> dict[str, Expect]:
    """A page for any signed-in member of the team; a login redirect otherwise."""
    return {
        "anonymous": LOGIN,
        "member": expect,
        "owner": expect,
        "admin": expect,
        "other_key": LOGIN,
    }


def owner_or_admin(expect: Expect, member: Expect = NOT_FOUND) -> dict[str, Expect]:
    return {**signed_in(expect), "member": member}


def admins_only(expect: Expect) -> dict[str, Expect]:
    return {**signed_in(expect), "member": FORBIDDEN, "owner": FORBIDDEN}


def everyone(expect: Expect) -> dict[str, Expect]:
    return dict.fromkeys(ACTORS, expect)


def key_only(owner: Expect, other: Expect, missing: Expect = NO_KEY) -> dict[str, Expect]:
    """API routes: a session is not a key; another user's key never sees alice's tasks."""
    return {
        "anonymous": missing,
        "member": missing,
        "owner": owner,
        "admin": missing,
        "other_key": other,
    }


# ---- what an allowed request does to the database ------------------------------------------------
ACTOR = "<the acting user>"  # an Effect value: the pk of the user the request acts for
SET = "<any value but None>"  # an Effect value: the field was filled in (a time, say)
EVENTS = "videos.generationevent"  # a generation's timeline, written beside most changes


@dataclass(frozen=True)
class Effect:
    """The one change an allowed request makes; every table not named stays exactly as it was.

    table + row: that row of the world changes (to `values`) or is `gone`; table alone: one
    row is added (with `values`). No table: the request changes nothing. `also` names tables
    it may write besides (timelines, cascades of a delete, the admin's audit log).
    """

    table: str = ""
    row: str = ""  # the world's key of the row, e.g. "queued"
    gone: bool = False
    values: dict[str, Any] = field(default_factory=dict)  # formatted with the world's ids
    also: tuple[str, ...] = ()


NOTHING = Effect()


def added(table: str, *also: str, **values: Any) -> Effect:
    return Effect(table, values=values, also=also)


def changed(table: str, row: str, *also: str, **values: Any) -> Effect:
    return Effect(table, row=row, values=values, also=also)


def gone(table: str, row: str, *also: str) -> Effect:
    return Effect(table, row=row, gone=True, also=also)


@dataclass(frozen=True)
class Rule:
    method: str
    url: str  # formatted with the world's ids
    expect: dict[str, Expect]
    data: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    effect: Effect = NOTHING  # what it does for the actors it allows (refused ones: nothing)


T2V_BODY = {"kind": "text2video", "model_name": "kling-v1", "prompt": "a fox"}
EFFECT_INPUT = json.dumps({"image": base64.b64encode(image_bytes()).decode()})
MULTI_IMAGES = [{"image": base64.b64encode(image_bytes()).decode()}]
OMNI_IMAGES = [{"image_url": base64.b64encode(image_bytes()).decode()}]
MULTI_BODY = {"prompt": "a fox", "image_list": MULTI_IMAGES}
OMNI_BODY = {"prompt": "<<<image_1>>> runs", "image_list": OMNI_IMAGES, "mode": "std"}
GENERIC_BODY = {"model": "kling-v1", "prompt": "a fox"}

RULES: dict[str, list[Rule]] = {
    # -- sign in and out
    "login/": [Rule("GET", "/login/", everyone(page("<title>Log in · Studio</title>")))],
    "favicon.ico": [Rule("GET", "/favicon.ico", everyone(page("PNG")))],  # PNG frames in an .ico
    # The language switch: anyone may choose (the login page has it too); a signed-in user's
    # choice is also remembered for them (tests/test_i18n.py).
    "i18n/setlang/": [
        Rule("POST", "/i18n/setlang/", everyone(redirect("/")), data={"language": "zh-hans", "next": "/"}),
        Rule("GET", "/i18n/setlang/", everyone(Expect(405))),
    ],
    "logout/": [
        Rule("POST", "/logout/", everyone(redirect("/login/"))),
        Rule("GET", "/logout/", {**everyone(Expect(405)), "anonymous": LOGIN, "other_key": LOGIN}),
    ],
    # -- the web UI (videos)
    "": [Rule("GET", "/", signed_in(page("<title>Gallery · Studio</title>")))],
    "generations/new/": [
        Rule("GET", "/generations/new/", signed_in(page("<title>Text to video · Studio</title>"))),
        Rule("POST", "/generations/new/", signed_in(redirect("/")), data=T2V_BODY, effect=added("videos.generation", EVENTS, owner_id=ACTOR, prompt="a fox", status="queued")),
    ],
    "generations/new/<pagekind:kind>/": [
        Rule("GET", "/generations/new/effects/", signed_in(page("<title>Effect · Studio</title>"))),
        Rule("GET", "/generations/new/video-extend/?video_id={gen}", signed_in(page("<title>Extend · Studio</title>"))),
        Rule("GET", "/generations/new/advanced-lip-sync/", signed_in(page("<title>Lip-sync · Studio</title>"))),
        Rule("POST", "/generations/new/effects/", signed_in(redirect("/")), data={"effect_scene": "bullet_time", "input": EFFECT_INPUT}, effect=added("videos.generation", EVENTS, "videos.generationinput", owner_id=ACTOR, kind="effects", status="queued")),
        Rule("GET", "/generations/new/multi-image2video/", signed_in(page("<title>Multi-image to video · Studio</title>"))),
        Rule("POST", "/generations/new/multi-image2video/", signed_in(redirect("/")), data={**MULTI_BODY, "image_list": json.dumps(MULTI_IMAGES)}, effect=added("videos.generation", EVENTS, "videos.generationinput", owner_id=ACTOR, kind="multi-image2video", status="queued")),
        Rule("GET", "/generations/new/omni-video/", signed_in(page("<title>Omni video · Studio</title>"))),
        Rule("POST", "/generations/new/omni-video/", signed_in(redirect("/")), data={**OMNI_BODY, "image_list": json.dumps(OMNI_IMAGES)}, effect=added("videos.generation", EVENTS, "videos.generationinput", owner_id=ACTOR, kind="omni-video", status="queued")),
    ],
    "generations/estimate/": [
        Rule("GET", "/generations/estimate/?model_name=kling-v1&duration=10", signed_in(page("Estimated cost"))),
        Rule("POST", "/generations/estimate/", signed_in(page("4 jobs, 4.00 units")), data={"model_name": "kling-v1", "prompt": "{red|blue} fox", "variants": "2"}),
    ],
    "generations/kept/<str:token>/": [
        # A frame kept from a failed POST: its token names its user, no one else sees it.
        Rule("GET", "/generations/kept/{kept_token}/", {**signed_in(NOT_FOUND), "owner": page("first frame bytes")}),
        Rule("GET", "/generations/kept/forged-token/", signed_in(NOT_FOUND)),
    ],
    "generations/<int:pk>/": [
        Rule("GET", "/generations/{gen}/", signed_in(page("<title>#{gen} · Studio</title>")))
    ],
    "generations/<int:pk>/remix/": [
        Rule("GET", "/generations/{gen}/remix/", signed_in(page("Remix of <a href=\"/generations/{gen}/\">"))),
        # A kind with a page of its own remixes on that page, its stored photo kept.
        Rule("GET", "/generations/{fx}/remix/", signed_in(page("Remix of <a href=\"/generations/{fx}/\">"))),
        Rule("POST", "/generations/{fx}/remix/", signed_in(redirect("/")), data={"effect_scene": "bullet_time"}, effect=added("videos.generation", EVENTS, "videos.generationinput", owner_id=ACTOR, parent_id="{fx}", kind="effects", status="queued")),
    ],
    "generations/<int:pk>/rerun/": [
        # The cost first; a POST without the confirmation shows it again and sends nothing.
        Rule("GET", "/generations/{gen}/rerun/", signed_in(page("Run it for 1.00 units"))),
        Rule("POST", "/generations/{gen}/rerun/", signed_in(page("Confirm the cost to run it"))),
        Rule("POST", "/generations/{gen}/rerun/", signed_in(redirect("/generations/")), data={"confirm": "on"}, effect=added("videos.generation", EVENTS, owner_id=ACTOR, parent_id="{gen}", prompt="a red fox running through snow")),
        Rule("POST", "/generations/{fx}/rerun/", signed_in(redirect("/generations/")), data={"confirm": "on"}, effect=added("videos.generation", EVENTS, "videos.generationinput", owner_id=ACTOR, parent_id="{fx}", kind="effects")),
    ],
    "generations/<int:pk>/lip-sync/": [
        # identify-face runs on the clip's own provider: the world's clip has no upstream id.
        Rule("POST", "/generations/{gen}/lip-sync/", signed_in(redirect("/generations/{gen}/")))
    ],
    "generations/<int:pk>/cancel/": [
        Rule("POST", "/generations/{queued}/cancel/", owner_or_admin(redirect("/generations/{queued}/")), effect=changed("videos.generation", "queued", EVENTS, status="cancelled"))
    ],
    "generations/<int:pk>/delete/": [
        # To the trash: the row stays (restorable) until purged.
        Rule("POST", "/generations/{gen}/delete/", owner_or_admin(redirect("/")), effect=changed("videos.generation", "gen", EVENTS, deleted_at=SET))
    ],
    "generations/<int:pk>/restore/": [
        Rule("POST", "/generations/{trashed}/restore/", owner_or_admin(redirect("/generations/{trashed}/")), effect=changed("videos.generation", "trashed", EVENTS, deleted_at=None)),
        Rule("POST", "/generations/{gen}/restore/", owner_or_admin(NOT_FOUND)),  # not in the trash
    ],
    "trash/": [
        Rule("GET", "/trash/", {
            **signed_in(page("<title>Trash · Studio</title>", absent="a trashed owl")),
            "owner": page("a trashed owl"),
            "admin": page("a trashed owl"),
        })  # fmt: skip
    ],
    "generations/<int:pk>/move/": [
        Rule("POST", "/generations/{gen}/move/", owner_or_admin(redirect("/generations/{gen}/")), data={"project": "{project}"}, effect=changed("videos.generation", "gen", EVENTS, project_id="{project}"))
    ],
    # -- projects: the team's boards; their creator (or an admin) edits one
    "projects/": [Rule("GET", "/projects/", signed_in(page("alice-board")))],
    "projects/new/": [
        Rule("GET", "/projects/new/", signed_in(page("<title>New project · Studio</title>"))),
        Rule("POST", "/projects/new/", signed_in(redirect("/projects/")), data={"name": "new board"}, effect=added("videos.project", created_by_id=ACTOR, name="new board")),
    ],
    "projects/<int:pk>/": [Rule("GET", "/projects/{project}/", signed_in(page("<title>alice-board · Studio</title>")))],
    "projects/<int:pk>/edit/": [
        Rule("GET", "/projects/{project}/edit/", owner_or_admin(page("<title>Edit alice-board · Studio</title>"))),
        Rule("POST", "/projects/{project}/edit/", owner_or_admin(redirect("/projects/{project}/")), data={"name": "renamed board", "budget_units": "50"}, effect=changed("videos.project", "project", name="renamed board", budget_units="50.00")),
    ],
    "projects/<int:pk>/cover/": [Rule("GET", "/projects/{project}/cover/", signed_in(page("PNG")))],
    "generations/<int:pk>/media/<str:variant>/": [
        Rule("GET", "/generations/{gen}/media/video/", signed_in(page("ftypmp42"))),
        Rule("GET", "/generations/{i2v}/media/image/", signed_in(page("first frame bytes"))),
        Rule("GET", "/generations/{gen}/media/secrets/", signed_in(NOT_FOUND)),
    ],
    "generations/<int:pk>/inputs/<str:field>/": [
        Rule("GET", "/generations/{fx}/inputs/image.0/", signed_in(page("first frame bytes"))),
        Rule("GET", "/generations/{fx}/inputs/image.1/", signed_in(NOT_FOUND)),
        Rule("GET", "/generations/{fx}/inputs/image.x/", signed_in(NOT_FOUND)),
    ],
    "media/s/<str:token>/": [
        # The signed token is the credential: API clients download without a session.
        Rule("GET", "{signed_video}", everyone(page("ftypmp42"))),
        Rule("GET", "/media/s/forged-token/", everyone(NOT_FOUND)),
    ],
    "upstream/callback/<int:pk>/<str:token>/": [
        Rule("POST", "/upstream/callback/{gen}/{callback_token}/", everyone(page('"ok": true')), json={"task_id": "x"}, effect=added(EVENTS, generation_id="{gen}", kind="callback")),
        Rule("POST", "/upstream/callback/{gen}/wrong-token/", everyone(Expect(404, marker="unknown callback")), json={}),
    ],
    "generations/<int:pk>/troubleshoot/": [
        Rule("GET", "/generations/{gen}/troubleshoot/", admins_only(page('id="troubleshoot"')))
    ],
    "generations/<int:pk>/troubleshoot/poll/": [
        Rule("POST", "/generations/{gen}/troubleshoot/poll/", admins_only(redirect("/generations/{gen}/")))
    ],
    "generations/<int:pk>/troubleshoot/retry/": [
        Rule("POST", "/generations/{gen}/troubleshoot/retry/", admins_only(redirect("/generations/")), effect=added("videos.generation", EVENTS, owner_id="{alice}", parent_id="{gen}"))
    ],
    "generations/<int:pk>/troubleshoot/fail/": [
        Rule("POST", "/generations/{queued}/troubleshoot/fail/", admins_only(redirect("/generations/{queued}/")), data={"reason": "stuck"}, effect=changed("videos.generation", "queued", EVENTS, status="failed", status_message="marked failed by an admin: stuck"))
    ],
    "providers/<int:pk>/test/": [
        Rule("POST", "/providers/{provider}/test/", admins_only(redirect("/admin/videos/provider/{provider}/change/")), effect=changed("videos.provider", "provider", "admin.logentry", healthy=True, health_checked_at=SET))
    ],
    # -- the studio API: Kling-native, under /kling and at the root
    "kling/v1/videos/identify-face": [
        Rule("POST", "/kling/v1/videos/identify-face", key_only(Expect(400, marker="No video 1 of yours exists", kling=1201), Expect(400, kling=1201)), json={"video_id": "1"})
    ],
    "v1/videos/identify-face": [
        Rule("POST", "/v1/videos/identify-face", key_only(Expect(400, marker="No video 1 of yours exists", kling=1201), Expect(400, kling=1201)), json={"video_id": "1"})
    ],
    "kling/v1/videos/<kind:kind>": [
        Rule("GET", "/kling/v1/videos/text2video", key_only(page('"task_id": "{gen}"'), page('"data": []', absent='"{gen}"'))),
        Rule("POST", "/kling/v1/videos/text2video", key_only(page('"code": 0'), page('"code": 0')), json=T2V_BODY, effect=added("videos.generation", EVENTS, "api.apitask", owner_id=ACTOR, prompt="a fox", status="queued")),
        Rule("POST", "/kling/v1/videos/multi-image2video", key_only(page('"code": 0'), page('"code": 0')), json=MULTI_BODY, effect=added("videos.generation", EVENTS, "api.apitask", "videos.generationinput", owner_id=ACTOR, kind="multi-image2video", status="queued")),
        Rule("POST", "/kling/v1/videos/omni-video", key_only(page('"code": 0'), page('"code": 0')), json=OMNI_BODY, effect=added("videos.generation", EVENTS, "api.apitask", "videos.generationinput", owner_id=ACTOR, kind="omni-video", status="queued")),
    ],
    "kling/v1/videos/<kind:kind>/<str:task_id>": [
        Rule("GET", "/kling/v1/videos/text2video/{gen}", key_only(page('"task_id": "{gen}"'), TASK_NOT_FOUND))
    ],
    "kling/account/costs": [
        Rule("GET", "/kling/account/costs?start_time=0&end_time=1", key_only(page('"resource_pack_subscribe_infos": []'), page('"resource_pack_subscribe_infos": []', absent="alice-script")))
    ],
    "account/costs": [
        Rule("GET", "/account/costs?start_time=0&end_time=1", key_only(page('"resource_pack_subscribe_infos": []'), page('"resource_pack_subscribe_infos": []', absent="alice-script")))
    ],
    "v1/videos/<kind:kind>": [
        Rule("GET", "/v1/videos/text2video", key_only(page('"task_id": "{gen}"'), page('"data": []', absent='"{gen}"'))),
        Rule("GET", "/v1/videos/multi-image2video", key_only(page('"data": []'), page('"data": []'))),
        Rule("GET", "/v1/videos/omni-video", key_only(page('"data": []'), page('"data": []'))),
    ],
    "v1/videos/<kind:kind>/<str:task_id>": [
        Rule("GET", "/v1/videos/text2video/{gen}", key_only(page('"task_id": "{gen}"'), TASK_NOT_FOUND))
    ],
    # -- the generic route
    "v1/video/generations": [
        Rule("POST", "/v1/video/generations", key_only(page('"task_id"'), page('"task_id"')), json=GENERIC_BODY, effect=added("videos.generation", EVENTS, "api.apitask", owner_id=ACTOR, prompt="a fox", status="queued"))
    ],
    "v1/video/generations/<str:task_id>": [
        Rule("GET", "/v1/video/generations/{gen}", key_only(page('"status": "succeeded"'), TASK_NOT_FOUND))
    ],
    # -- the OpenAI-compatible routes
    "v1/videos": [
        Rule("GET", "/v1/videos", key_only(page('"id": "{gen}"'), page('"data": []', absent='"{gen}"'), NO_KEY_OPENAI))
    ],
    "v1/videos/<str:video_id>": [
        Rule("GET", "/v1/videos/{gen}", key_only(page('"status": "completed"'), VIDEO_NOT_FOUND, NO_KEY_OPENAI)),
        Rule("DELETE", "/v1/videos/{gen}", key_only(page('"deleted": true'), VIDEO_NOT_FOUND, NO_KEY_OPENAI), effect=changed("videos.generation", "gen", EVENTS, deleted_at=SET)),
    ],
    "v1/videos/<str:video_id>/content": [
        Rule("GET", "/v1/videos/{gen}/content", key_only(page("ftypmp42"), VIDEO_NOT_FOUND, NO_KEY_OPENAI))
    ],
    # -- API docs and keys
    "api/openapi.json": [Rule("GET", "/api/openapi.json", everyone(page('"openapi"')))],
    "api/": [Rule("GET", "/api/", signed_in(page("<title>API · Studio</title>")))],
    "keys/": [
        Rule("GET", "/keys/", {
            **signed_in(page("<title>My keys · Studio</title>", absent="alice-script")),
            "owner": page("alice-script", absent="bob-script"),
        })  # fmt: skip
    ],
    "keys/new/": [
        Rule("POST", "/keys/new/", signed_in(page("<title>My keys · Studio</title>")), data={"name": "new key"}, effect=added("api.apikey", "admin.logentry", owner_id=ACTOR, name="new key", revoked_at=None))
    ],
    "keys/<int:pk>/revoke/": [
        # Only the owner revokes from this page; admins use the admin.
        Rule("POST", "/keys/{alice_key}/revoke/", {**owner_or_admin(redirect("/keys/")), "admin": NOT_FOUND}, effect=changed("api.apikey", "alice_key", "admin.logentry", revoked_at=SET))
    ],
    "keys/<int:pk>/deliveries/": [
        Rule("GET", "/keys/{alice_key}/deliveries/", {
            **owner_or_admin(page("<title>Callbacks of alice-script · Studio</title>")),
            "admin": NOT_FOUND,
        })  # fmt: skip
    ],
    # -- team review
    "history/": [Rule("GET", "/history/", signed_in(page("<title>History · Studio</title>")))],
    "history/export.<str:fmt>": [
        Rule("GET", "/history/export.csv", signed_in(page("a red fox running through snow"))),
        Rule("GET", "/history/export.exe", signed_in(NOT_FOUND)),
    ],
    "history/videos.zip": [Rule("GET", "/history/videos.zip?ids={gen}", signed_in(page("PK")))],
    "history/saved/": [
        Rule("POST", "/history/saved/", signed_in(redirect("/history/?")), data={"name": "foxes", "query": "q=fox"}, effect=added("review.savedsearch", owner_id=ACTOR, name="foxes"))
    ],
    "history/saved/<int:pk>/delete/": [
        # Saved searches are personal: nobody else, admins included, sees or deletes them.
        Rule("POST", "/history/saved/{saved}/delete/", {**owner_or_admin(redirect("/history/")), "admin": NOT_FOUND}, effect=gone("review.savedsearch", "saved"))
    ],
    "compare/": [
        Rule("GET", "/compare/?ids={gen}&ids={queued}", signed_in(page("<title>Compare · Studio</title>")))
    ],
    "review/<int:pk>/": [Rule("GET", "/review/{gen}/", signed_in(page('id="judging"')))],
    "review/<int:pk>/star/": [
        Rule("POST", "/review/{gen}/star/", signed_in(redirect("/generations/{gen}/")), effect=added("review.star", user_id=ACTOR, generation_id="{gen}"))
    ],
    "review/<int:pk>/rate/": [
        Rule("POST", "/review/{gen}/rate/", signed_in(redirect("/generations/{gen}/")), data={"value": "4"}, effect=added("review.rating", user_id=ACTOR, generation_id="{gen}", value=4))
    ],
    "review/<int:pk>/tags/": [
        Rule("POST", "/review/{gen}/tags/", signed_in(redirect("/generations/{gen}/")), data={"name": "keeper"}, effect=added("review.tagging", "review.tag", added_by_id=ACTOR, generation_id="{gen}"))
    ],
    "review/<int:pk>/tags/<int:tag_pk>/remove/": [
        # Who added the tag, the generation's owner or an admin.
        Rule("POST", "/review/{gen}/tags/{tag}/remove/", owner_or_admin(redirect("/generations/{gen}/"), FORBIDDEN), effect=gone("review.tagging", "tagging"))
    ],
    "review/<int:pk>/comments/": [
        Rule("POST", "/review/{gen}/comments/", signed_in(redirect("/generations/{gen}/")), data={"body": "nice"}, effect=added("review.comment", author_id=ACTOR, body="nice"))
    ],
    "review/comments/<int:pk>/delete/": [
        Rule("POST", "/review/comments/{comment}/delete/", owner_or_admin(redirect("/generations/{gen}/"), FORBIDDEN), effect=gone("review.comment", "comment"))
    ],
    "review/<int:pk>/lineage/": [
        Rule("GET", "/review/{gen}/lineage/", signed_in(page("<title>Lineage of #{gen} · Studio</title>")))
    ],
    "review/<int:pk>/recipe/": [
        Rule("POST", "/review/{gen}/recipe/", signed_in(redirect("/recipes/")), data={"name": "fox recipe"}, effect=added("review.recipe", owner_id=ACTOR, name="fox recipe", source_id="{gen}"))
    ],
    "review/tags/": [Rule("GET", "/review/tags/?name=fav", signed_in(page('<option value="favourite">')))],
    "recipes/": [Rule("GET", "/recipes/", signed_in(page("<title>Recipes · Studio</title>")))],
    "recipes/<int:pk>/run/": [
        Rule("GET", "/recipes/{recipe}/run/", signed_in(page("Run it for 1.00 units"))),
        Rule("POST", "/recipes/{recipe}/run/", signed_in(page("Confirm the cost to run it"))),
        Rule("POST", "/recipes/{recipe}/run/", signed_in(redirect("/generations/")), data={"confirm": "on"}, effect=added("videos.generation", EVENTS, "review.reciperun", owner_id=ACTOR, prompt="a red fox running through snow")),
    ],
    "recipes/<int:pk>/delete/": [
        Rule("POST", "/recipes/{recipe}/delete/", owner_or_admin(redirect("/recipes/"), FORBIDDEN), effect=gone("review.recipe", "recipe"))
    ],
    "usage/": [Rule("GET", "/usage/", admins_only(page("<title>Usage · Studio</title>")))],
}  # fmt: skip


# ---- the admin: Django's own permission system, checked on every one of its routes -------------
ADMIN_PREFIX = "admin/"


def admin_url(pattern: str) -> str:
    """A concrete URL for an admin route pattern (objects that do not exist: id 999999)."""
    url = "/" + pattern
    url = url.replace("^(?P<app_label>auth|django_q|videos|api|review)/$", "videos/")
    url = url.replace("(?P<url>.*)$", "no-such-page/")
    url = re.sub(r"<path:content_type_id>", "1", url)
    return re.sub(r"<(?:path:)?\w+>", "999999", url)


# What staff get on the admin's routes that are not pages of a model.
ADMIN_SPECIAL = {
    "admin/login/": redirect("/admin/"),
    "admin/jsi18n/": page("django.jsi18n_initialized"),
    "admin/autocomplete/": FORBIDDEN,  # no app, model or field named: refused
    "admin/r/<path:content_type_id>/<path:object_id>/": NOT_FOUND,
    "admin/auth/user/<id>/password/": NOT_FOUND,
    "admin/(?P<url>.*)$": NOT_FOUND,
    "admin/password_change/": page("Password change"),
    "admin/password_change/done/": page("Password change successful"),
    # django_q's task records are written by the cluster, never added by hand.
    "admin/django_q/success/add/": FORBIDDEN,
    "admin/django_q/failure/add/": FORBIDDEN,
    "admin/django_q/ormq/add/": FORBIDDEN,
    # Lip-sync sessions come from identify-face and go when they expire: read-only.
    "admin/videos/lipsyncsession/add/": FORBIDDEN,
    "admin/videos/lipsyncsession/<path:object_id>/delete/": FORBIDDEN,
}


def admin_rule(pattern: str) -> Rule:
    """Django's admin: staff only; everybody else is sent to a login page.

    The admin's model pages pass through the studio's LoginRequiredMiddleware (the studio
    login), while its site-level views are marked login_not_required and send the signed-out
    to the admin's own login.
    """
    url = admin_url(pattern)
    login = LOGIN if re.match(r"^admin/(?!password_change|r/)\w+/\w+/", pattern) else ADMIN_LOGIN
    others = {"anonymous": login, "other_key": login, "member": ADMIN_LOGIN, "owner": ADMIN_LOGIN}
    if pattern == "admin/logout/":
        # Only staff are logged out here; a member is sent back to the admin (its login).
        expect = {"anonymous": login, "other_key": login, "member": redirect("/admin/")}
        return Rule(
            "POST", url, {**everyone(redirect("/login/")), **expect, "owner": redirect("/admin/")}
        )
    if pattern == "admin/login/":
        return Rule(
            "GET",
            url,
            {**everyone(page("Log in | Django site admin")), "admin": redirect("/admin/")},
        )
    if pattern in ADMIN_SPECIAL:
        staff = ADMIN_SPECIAL[pattern]
    elif "999999" in url:
        staff = redirect("/admin/")  # a missing object: the admin says so on its index
    else:
        staff = page("Django site admin")
    return Rule("GET", url, {**others, "admin": staff})


def rules_for(pattern: str) -> list[Rule]:
    if pattern.startswith(ADMIN_PREFIX):
        return [admin_rule(pattern)]
    return RULES[pattern]


# ---- the world every request runs against ------------------------------------------------------
def build_world(alice: User, bob: User) -> dict[str, Any]:
    """alice's finished and queued generations, keys, tag, comment, recipe and saved search."""
    gen = Generation.objects.create(
        owner=alice,
        prompt="a red fox running through snow",
        status="succeeded",
        callback_token="tok-123",
    )
    gen.video.save("video.mp4", ContentFile(VIDEO_BYTES), save=False)
    gen.poster.save("poster.jpg", ContentFile(POSTER_BYTES), save=False)
    gen.save()
    i2v = Generation.objects.create(owner=alice, kind="image2video", status="failed")
    i2v.image.save("image.png", ContentFile(IMAGE_BYTES), save=True)
    queued = Generation.objects.create(owner=alice, prompt="a slow snail", status="queued")
    fx = Generation.objects.create(
        owner=alice,
        kind="effects",
        model_name="kling-effects",
        status="failed",
        params={"effect_scene": "bullet_time", "dual": False},
    )
    photo = GenerationInput(generation=fx, role="image", position=0)
    photo.file.save("image.png", ContentFile(IMAGE_BYTES), save=True)
    trashed = Generation.objects.create(
        owner=alice, prompt="a trashed owl", status="failed", deleted_at=timezone.now()
    )
    alice_key, alice_secret = issue(alice, "alice-script")
    _bob_key, bob_secret = issue(bob, "bob-script")
    tagging = Tagging.add(gen, "favourite", alice)
    comment = Comment.post(gen, alice, "the light is lovely", 1.5)
    recipe = Recipe.from_generation(gen, alice, name="fox recipe")
    saved = SavedSearch.objects.create(owner=alice, name="mine", query="q=fox")
    project = Project.objects.create(name="alice-board", created_by=alice)
    project.cover.save("cover.png", ContentFile(image_bytes(fmt="PNG")), save=True)
    return {
        "alice": alice.pk,
        "gen": gen.pk,
        "queued": queued.pk,
        "trashed": trashed.pk,
        "i2v": i2v.pk,
        "fx": fx.pk,
        "alice_key": alice_key.pk,
        "alice_secret": alice_secret,
        "bob_secret": bob_secret,
        "tag": tagging.tag_id,
        "tagging": tagging.pk,
        "comment": comment.pk,
        "recipe": recipe.pk,
        "saved": saved.pk,
        "project": project.pk,
        "provider": Provider.objects.get(name="local").pk,
        "signed_video": signed_media_path(gen.video.name),
        "callback_token": gen.callback_token,
        "kept_token": keep_frame(
            ContentFile(IMAGE_BYTES, name="kite.png"), "image", "png", alice.pk
        ).token,
    }


def send(client: Client, rule: Rule, world: dict[str, Any], key: str | None) -> Any:
    url = rule.url.format(**world)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    if rule.json is not None:
        body = json.dumps(rule.json)
        return client.generic(rule.method, url, body, content_type="application/json", **headers)
    if rule.method == "POST":
        # A form value that is exactly "{name}" is the world's id of that name (a project's pk).
        data = {
            k: world[v[1:-1]] if isinstance(v, str) and v[1:-1] in world and v[0] == "{" else v
            for k, v in rule.data.items()
        }
        return client.post(url, data, **headers)
    return client.generic(rule.method, url, **headers)


def body_text(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def check(response: Any, expect: Expect, world: dict[str, Any], where: str) -> None:
    assert response.status_code == expect.status, (
        f"{where}: {response.status_code} {body_text(response)[:300]}"
    )
    text = body_text(response)
    if expect.location:
        assert response["Location"].startswith(expect.location.format(**world)), (
            f"{where}: {response['Location']}"
        )
    if expect.marker:
        assert expect.marker.format(**world) in text, (
            f"{where}: no {expect.marker!r} in {text[:500]}"
        )
    if expect.absent:
        assert expect.absent.format(**world) not in text, f"{where}: {expect.absent!r} leaked"
    if expect.kling is not None:
        body = json.loads(text)
        assert body["code"] == expect.kling and set(body) == {"code", "message", "request_id"}, (
            where
        )
    if expect.openai is not None:
        assert json.loads(text)["error"]["code"] == expect.openai, where


# Every table a request of the matrix could write (sessions and request counts aside).
WORLD_MODELS: list[type[Model]] = [
    Project,
    Generation,
    GenerationEvent,
    GenerationInput,
    Provider,
    ApiKey,
    ApiTask,
    CallbackDelivery,
    Tag,
    Tagging,
    Comment,
    Star,
    Rating,
    Recipe,
    RecipeRun,
    SavedSearch,
    LogEntry,
]
# An API key's last use is recorded by every request it authenticates, even one refused later.
VOLATILE = {"api.apikey": ("last_used_at", "last_used_ip")}

Snapshot = dict[str, dict[Any, dict[str, Any]]]


def snapshot() -> Snapshot:
    """Every row of the world's tables, by table label and primary key."""
    tables: Snapshot = {}
    for model in WORLD_MODELS:
        label, pk = model._meta.label_lower, model._meta.pk.attname
        rows = {row[pk]: row for row in model.objects.values()}
        for row in rows.values():
            for name in VOLATILE.get(label, ()):
                row.pop(name)
        tables[label] = rows
    return tables


def refused(expect: Expect) -> bool:
    return expect.status >= 400 or expect.location in (LOGIN.location, ADMIN_LOGIN.location)


def check_effect(
    effect: Effect, before: Snapshot, after: Snapshot, world: dict[str, Any], actor: Any, where: str
) -> None:
    """The database after a request holds exactly `effect` (NOTHING for a refused one)."""
    touched = {label for label in before if before[label] != after[label]}
    allowed = {effect.table, *effect.also} - {""}
    assert touched <= allowed, f"{where}: it also changed {sorted(touched - allowed)}"
    if not effect.table:
        return
    old, new = before[effect.table], after[effect.table]
    if effect.row:
        pk = world[effect.row]
        assert pk in old, f"{where}: the world has no {effect.row}"
        others = {k: v for k, v in old.items() if k != pk}
        assert {k: v for k, v in new.items() if k != pk} == others, f"{where}: other rows changed"
        if effect.gone:
            assert pk not in new, f"{where}: {effect.table} {effect.row} is still there"
            return
        assert pk in new, f"{where}: {effect.table} {effect.row} was deleted"
        row = new[pk]
    else:
        fresh = set(new) - set(old)
        assert len(fresh) == 1, f"{where}: {len(fresh)} rows added to {effect.table}"
        assert {k: new[k] for k in old} == old, f"{where}: existing {effect.table} rows changed"
        row = new[fresh.pop()]
    for name, value in effect.values.items():
        if value == ACTOR:
            value = actor.pk
        elif isinstance(value, str) and value != SET:
            value = value.format(**world)
        actual = row[name]
        if value == SET:
            assert actual is not None, f"{where}: {effect.table}.{name} is not set"
        else:
            assert actual == value or str(actual) == str(value), (
                f"{where}: {effect.table}.{name} is {actual!r}, not {value!r}"
            )


@dataclass
class Actor:
    """A client, who it signs in as (if anyone), and which of the world's secrets it sends."""

    who: User | None
    secret_name: str | None
    acts_for: User | None = None  # whose rows its allowed requests write (a key's owner)

    def client(self) -> Client:
        # A fresh sign-in per request: a logout by one request must not leak into the next.
        client = Client()
        if self.who is not None:
            client.force_login(self.who)
        return client


@pytest.fixture
def actors(user: User, other_user: User, staff_user: User) -> dict[str, Actor]:
    return {
        "anonymous": Actor(None, None),
        "member": Actor(other_user, None, other_user),
        "owner": Actor(user, "alice_secret", user),
        "admin": Actor(staff_user, None, staff_user),
        "other_key": Actor(None, "bob_secret", other_user),
    }


class Rollback(Exception):
    pass


# ---- the tests -----------------------------------------------------------------------------------
def test_every_route_declares_its_access_rule() -> None:
    missing = [p for p in route_patterns() if not p.startswith(ADMIN_PREFIX) and p not in RULES]
    assert not missing, f"routes without an access rule in RULES: {missing}"
    stale = set(RULES) - set(route_patterns())
    assert not stale, f"rules for routes that no longer exist: {stale}"


def test_every_actor_has_an_expectation_in_every_rule() -> None:
    for pattern in route_patterns():
        for rule in rules_for(pattern):
            assert set(rule.expect) == set(ACTORS), pattern


@pytest.mark.parametrize("pattern", route_patterns())
def test_it_enforces_the_access_rule(
    pattern: str, actors: dict[str, Actor], user: User, other_user: User
) -> None:
    for rule in rules_for(pattern):
        for actor in ACTORS:
            who = actors[actor]
            # Each actor meets a fresh world: a delete by one must not hide the page from the next.
            try:
                with transaction.atomic():
                    world = (
                        build_world(user, other_user)
                        if not pattern.startswith(ADMIN_PREFIX)
                        else {}
                    )
                    key = world.get(who.secret_name) if who.secret_name else None
                    client = who.client()
                    before = snapshot()
                    response = send(client, rule, world, key)
                    expect, where = rule.expect[actor], f"{actor} {rule.method} {rule.url}"
                    check(response, expect, world, where)
                    effect = NOTHING if refused(expect) else rule.effect
                    check_effect(effect, before, snapshot(), world, who.acts_for, where)
                    raise Rollback
            except Rollback:
                pass


def test_the_admin_shows_real_objects_to_staff_only(
    actors: dict[str, Actor], user: User, other_user: User
) -> None:
    world = build_world(user, other_user)
    key = ApiKey.objects.get(pk=world["alice_key"])
    for url, marker in (
        (f"/admin/videos/generation/{world['gen']}/change/", "a red fox running through snow"),
        (f"/admin/videos/provider/{world['provider']}/change/", "local"),
        (f"/admin/api/apikey/{key.pk}/change/", "alice-script"),
    ):
        check(actors["admin"].client().get(url), page(marker), world, f"admin {url}")
        for actor in ("anonymous", "member", "owner", "other_key"):
            who = actors[actor]
            response = send(
                who.client(), Rule("GET", url, {}), world, world.get(who.secret_name or "")
            )
            expect = ADMIN_LOGIN if who.who is not None else LOGIN
            check(response, expect, world, f"{actor} {url}")
            assert marker not in body_text(response)
