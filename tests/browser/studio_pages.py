"""Every page of the studio with the rows it needs, for the phone and accessibility tests.

`build_world()` fills the database as a team would have it after a day's work (finished
videos with posters, a remix, a pending and a failed job, ratings, tags, comments, a
recipe, an API key with a delivery). `PAGES` names each page, who opens it and what of it
must be visible; `open_page()` signs in as that person and loads it.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.template.loader import render_to_string

_CLIP: dict[str, Any] = {}


def rendered_clip() -> tuple[Path, Path, Any]:
    """One small real MP4 and poster, rendered once per test process and copied per row."""
    if not _CLIP:
        from videos.rendering import RenderSpec, render_video

        folder = Path(tempfile.mkdtemp(prefix="studio-browser-clip-"))
        meta = render_video(
            RenderSpec(prompt="a paper lantern", duration=3, aspect_ratio="16:9"),
            str(folder / "video.mp4"),
            str(folder / "poster.jpg"),
        )
        _CLIP.update(video=folder / "video.mp4", poster=folder / "poster.jpg", meta=meta)
    return _CLIP["video"], _CLIP["poster"], _CLIP["meta"]


def finished(owner: Any, prompt: str, **fields: Any) -> Any:
    """A succeeded generation whose video and poster really play and show."""
    from videos.models import Generation
    from videos.tasks import store_files

    generation = Generation.objects.create(
        owner=owner, prompt=prompt, status="processing", units=Decimal("3.50"), **fields
    )
    video, poster, meta = rendered_clip()
    with tempfile.TemporaryDirectory() as tmp:
        copies = Path(tmp) / "video.mp4", Path(tmp) / "poster.jpg"
        shutil.copy(video, copies[0])
        shutil.copy(poster, copies[1])
        video_name, poster_name = store_files(generation, *copies)
    assert generation.mark_succeeded(video=video_name, poster=poster_name, meta=meta)
    return generation


@dataclass
class World:
    member: Any
    admin: Any
    first: Any
    second: Any
    remix: Any
    pending: Any
    failed: Any
    key: Any
    trashed: Any = None
    recipe: Any = None
    project: Any = None
    # Filled only for the pages that need them (Page.setup), so that the other tests'
    # counts of the team's work stay as they are.
    clip: Any = None  # a finished kling-v1-6 clip of the local provider: extendable, lip-syncable
    session: Any = None  # the faces identified in that clip
    effect: Any = None  # a finished effects job with its photo
    storyboard: Any = None  # a finished text-to-video in three shots, with sound and voices
    omni: Any = None  # a finished omni video of a stored image and one given by a long URL


def build_world() -> World:
    """The rows every page below needs, owned by a member ("mei") and an admin ("root")."""
    from django.contrib.auth.models import User

    from api.models import ApiKey
    from review.models import Comment, Rating, Recipe, Star, Tagging
    from videos.models import Generation, Project

    member = User.objects.create_user("mei-with-a-long-user-name", password="pw-mei-12345")
    admin = User.objects.create_user(
        "root", password="pw-root-12345", is_staff=True, is_superuser=True
    )
    key, _ = ApiKey.issue(member, "the nightly batch renderer on the build server")
    long_prompt = "a paper lantern drifting over a calm lake at dusk, " * 4
    first = finished(member, long_prompt, model_name="kling-v2-1-master", mode="pro")
    second = finished(member, "a paper lantern in a windy street", api_key=key)
    remix = finished(member, "a paper lantern in the rain", parent=first)
    pending = Generation.objects.create(owner=member, prompt="a kite over a beach")
    failed = Generation.objects.create(owner=admin, prompt="a storm at sea", status="failed")
    failed.status_message = "upstream refused the prompt: " + "x" * 120  # one long word
    failed.save(update_fields=["status_message"])
    for generation in (first, second, remix):
        Tagging.add(generation, "lanterns-at-dusk", member)
        Rating.set(member, generation, 4)
        Comment.post(generation, admin, "the light flickers nicely", 1.0)
    Star.toggle(member, first)
    recipe = Recipe.from_generation(first, member, "dusk lanterns", "works best in pro mode")
    trashed = finished(member, "a paper lantern nobody liked")
    trashed.trash()
    _low_kling_balance()
    # A board holding two of the clips, its budget nearly spent (the warning shows).
    project = Project.objects.create(
        name="Lantern festival teaser",
        description="Clips for the festival's opening night, " * 3,
        created_by=member,
        budget_units=Decimal("8"),
    )
    for generation in (first, second):
        generation.move_to(project)
    # mark_succeeded leaves units unknown; these two cost 3.50 each: 1.00 of 8 left, low.
    Generation.objects.filter(pk__in=[first.pk, second.pk]).update(units=Decimal("3.50"))
    return World(
        member, admin, first, second, remix, pending, failed, key, trashed, recipe, project
    )


def _low_kling_balance() -> None:
    """A Kling account running low: the admins' banner and the usage page's pack table show.

    It serves no model and sits behind the local renderer: no job ever goes to it.
    """
    from datetime import timedelta

    from django.utils import timezone

    from videos.models import Provider, ProviderBalance

    kling = Provider.objects.create(
        name="kling-singapore-main-account", kind=Provider.Kind.KLING,
        base_url="http://127.0.0.1:9", priority=5000, allowed_models=["no-such-model"],
    )  # fmt: skip
    now = timezone.now()
    pack = {"pack_type": "decreasing_total", "purchase_time": "2026-01-01T00:00:00+00:00",
            "effective_time": "2026-01-01T00:00:00+00:00"}  # fmt: skip
    ProviderBalance.objects.create(
        provider=kling, checked_at=now, refreshed_at=now,
        packs=[
            {**pack, "name": "Video Generation - 1000 units, annual plan", "pack_id": "p-1",
             "total": "1000", "remaining": "12.5", "status": "online",
             "invalid_time": (now + timedelta(days=3)).isoformat()},
            {**pack, "name": "Trial", "pack_id": "p-0", "total": "66", "remaining": "0",
             "status": "runOut", "invalid_time": ""},
        ],
    )  # fmt: skip


def with_continuable_clip(world: World) -> None:
    """A clip the detail page offers to extend and lip-sync (kling-kinds.md §7.5, §7.6)."""
    from videos.models import Provider

    world.clip = finished(
        world.member,
        "a lantern-lit face singing by the lake",
        model_name="kling-v1-6",
        provider=Provider.objects.get(name="local"),
        upstream_video_id="local-1",
    )


def with_faces(world: World) -> None:
    """The faces of that clip identified (as "Lip-sync" does), three of them to pick from."""
    from videos.lip_sync import identify_faces

    with_continuable_clip(world)
    session = identify_faces(world.clip, world.member)
    face = session.faces[0]
    session.faces = [
        face,
        {**face, "face_id": "1", "start_time": 500, "end_time": 2500},
        {**face, "face_id": "2", "start_time": 1200, "end_time": 3000},
    ]
    session.save(update_fields=["faces"])
    world.session = session


def with_effect(world: World) -> None:
    """A finished effect of one photo (its remix is the effects page, prefilled)."""
    from django.core.files.base import ContentFile

    from videos.models import GenerationInput

    world.effect = finished(
        world.member,
        "",
        kind="effects",
        model_name="kling-effects",
        params={"effect_scene": "bullet_time", "dual": False},
    )
    _video, poster, _meta = rendered_clip()
    photo = GenerationInput(generation=world.effect, role="image", position=0)
    photo.file.save("photo.jpg", ContentFile(poster.read_bytes()), save=True)


def with_storyboard(world: World) -> None:
    """A multi-shot clip with sound and voices: the detail page lists its shots and params."""
    shots = [
        {"index": n + 1, "prompt": f"shot {n + 1}: the lantern drifts further out, " * 3,
         "duration": "1"}
        for n in range(3)
    ]  # fmt: skip
    world.storyboard = finished(
        world.member,
        "a lantern festival in three shots",
        model_name="kling-v2-6",
        sound=True,
        params={
            "multi_shot": True,
            "shot_type": "customize",
            "multi_prompt": shots,
            "voice_list": [{"voice_id": "voice-id-of-a-narrator-with-a-very-long-name-0001"}],
        },
    )


def with_omni(world: World) -> None:
    """An omni video whose inputs are a stored photo and a photo given by a long URL."""
    from django.core.files.base import ContentFile

    from videos.models import GenerationInput

    world.omni = finished(
        world.member,
        "<<<image_1>>> and <<<image_2>>> meet at the lantern festival",
        kind="omni-video",
        model_name="kling-video-o1",
    )
    _video, poster, _meta = rendered_clip()
    stored = GenerationInput(
        generation=world.omni, role="image", position=0, meta={"type": "first_frame"}
    )
    stored.file.save("first.jpg", ContentFile(poster.read_bytes()), save=True)
    GenerationInput.objects.create(
        generation=world.omni,
        role="image",
        position=1,
        url="https://images.example.com/festival/2026/lanterns/" + "night-" * 20 + "photo.jpg",
    )


@dataclass(frozen=True)
class Page:
    """One page: its path (from the world), who opens it, its answer and what must show."""

    name: str
    path: str
    who: str = "member"  # "member", "admin" or "anonymous"
    status: int = 200
    main: str = "main h1"  # what must be visible once loaded
    setup: Callable[[World], None] | None = None  # rows only this page needs

    def url(self, live_server: Any, world: World) -> str:
        return live_server.url + self.path.format(w=world)


PAGES = [
    Page("gallery", "/"),
    Page("form-text", "/generations/new/"),
    Page("form-image", "/generations/new/?kind=image2video"),
    Page("detail", "/generations/{w.first.pk}/", main="#player"),
    Page("remix", "/generations/{w.first.pk}/remix/", main="#generation-form"),
    Page("form-effects", "/generations/new/effects/", main="#kind-form"),
    Page("form-multi-image", "/generations/new/multi-image2video/", main="#kind-form"),
    Page("form-omni", "/generations/new/omni-video/", main="#kind-form"),
    Page("form-extend-empty", "/generations/new/video-extend/", main="#kind-form"),
    Page(
        "form-extend",
        "/generations/new/video-extend/?video_id={w.clip.pk}",
        main="#kind-form",
        setup=with_continuable_clip,
    ),
    Page("form-lip-sync-empty", "/generations/new/advanced-lip-sync/", main="#kind-form"),
    Page(
        "form-lip-sync-faces",
        "/generations/new/advanced-lip-sync/?session_id={w.session.pk}",
        main="ul.faces",
        setup=with_faces,
    ),
    Page(
        "detail-continuable",
        "/generations/{w.clip.pk}/",
        main="#player",
        setup=with_continuable_clip,
    ),
    Page("detail-effect", "/generations/{w.effect.pk}/", main="#player", setup=with_effect),
    Page("detail-shots", "/generations/{w.storyboard.pk}/", main="#player", setup=with_storyboard),
    Page("detail-omni", "/generations/{w.omni.pk}/", main="#player", setup=with_omni),
    Page("remix-omni", "/generations/{w.omni.pk}/remix/", main="#kind-form", setup=with_omni),
    Page("remix-effect", "/generations/{w.effect.pk}/remix/", main="#kind-form", setup=with_effect),
    Page("gallery-filtered", "/?scope=mine&status=succeeded", main="article.gen"),
    Page("projects", "/projects/", main=".project-card"),
    Page("project", "/projects/{w.project.pk}/", main="#project-board article.gen"),
    Page("project-new", "/projects/new/", main="#project-form"),
    Page("project-edit", "/projects/{w.project.pk}/edit/", main="#project-form"),
    Page("history", "/history/", main="tr.history-row"),
    Page("history-filtered", "/history/?q=lantern&status=succeeded", main="tr.history-row"),
    Page(
        "compare",
        "/compare/?ids={w.first.pk}&ids={w.second.pk}&ids={w.remix.pk}",
        main="video.compare-video",
    ),
    Page("compare-empty", "/compare/", main="main h1"),
    Page("compare-project", "/compare/?project={w.project.pk}", main="video.compare-video"),
    Page("lineage", "/review/{w.remix.pk}/lineage/", main=".lineage-chain"),
    Page("recipes", "/recipes/", main=".recipes-table"),
    Page("recipe-run", "/recipes/{w.recipe.pk}/run/", main="#confirm-cost"),
    Page("rerun", "/generations/{w.first.pk}/rerun/", main="#confirm-cost"),
    Page("trash", "/trash/", main=".trash-row"),
    Page("usage", "/usage/", who="admin", main=".usage-totals"),
    Page("keys", "/keys/", main="#key-create"),
    Page("deliveries", "/keys/{w.key.pk}/deliveries/"),
    Page("api-docs", "/api/", main="pre.example"),
    Page("login", "/login/", who="anonymous", main="input[name=username]"),
    Page("troubleshoot", "/generations/{w.pending.pk}/", who="admin", main="#generation-status"),
    Page("detail-failed", "/generations/{w.failed.pk}/", who="admin", main="main h1"),
    Page("error-400", "/history/videos.zip", status=400, main=".error-page"),
    Page("error-403", "/usage/", status=403, main=".error-page"),
    Page("error-404", "/generations/999999/", status=404, main=".error-page"),
    Page("error-500", "/this-page-failed/", status=500, main=".error-page"),
]


def sign_in(context: Any, live_server: Any, user: Any) -> None:
    """Give the browser context the user's session cookie."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


def serve_500_page(page: Any, live_server: Any) -> None:
    """Answer one path with the real 500.html and the studio's own headers.

    Nothing in the studio fails on purpose, so the browser is given the page Django's
    server_error handler would send (rendered the same way: no context, no request).
    """
    from django.test import Client

    headers = Client().get("/login/").headers  # the CSP and other headers of a real answer
    body = render_to_string("500.html")
    keep = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy")

    def fulfil(route: Any) -> None:
        route.fulfill(
            status=500,
            body=body,
            content_type="text/html; charset=utf-8",
            headers={name: headers[name] for name in keep if name in headers},
        )

    page.route(f"{live_server.url}/this-page-failed/", fulfil)


def open_page(context: Any, live_server: Any, world: World, spec: Page) -> Any:
    """A new page of the context, signed in as the spec says, showing the spec's page."""
    if spec.setup is not None:
        spec.setup(world)
    if spec.who != "anonymous":
        sign_in(context, live_server, world.admin if spec.who == "admin" else world.member)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    if spec.status == 500:
        serve_500_page(page, live_server)
    response = page.goto(spec.url(live_server, world))
    assert response is not None and response.status == spec.status, (spec.name, response)
    page.wait_for_selector(spec.main, state="attached")
    return page


def keep_a_frame(page: Any, folder: Path) -> None:
    """On the open image-to-video form: pick a frame, send with a prompt that fails; the
    form comes back with the frame kept (videos/kept_frames.py) and the prompt's error."""
    from tests.images import image_bytes

    picked = folder / "a-kite-photographed-over-the-dunes-at-noon.png"
    picked.write_bytes(image_bytes(640, 360, fmt="PNG", color=(30, 140, 90)))
    page.set_input_files("#id_image", str(picked))
    page.fill("#id_prompt", "<<<voice_1>>> a kite rises over the dunes")
    page.locator("#generation-form button[type=submit]").click()
    page.wait_for_selector("#field-prompt .error")
    page.wait_for_selector("#field-image [data-kept]")
    wait_until(
        page,
        lambda: page.eval_on_selector("#field-image img", "img => img.naturalWidth") == 640,
        "the kept frame's preview",
    )


def create_a_key(page: Any) -> None:
    """On the open My keys page: create a key; its secrets show once, in the page."""
    page.fill("#id_name", "the-render-farm-nightly-batch-with-a-rather-long-name")
    page.locator("#key-create button[type=submit]").click()
    page.wait_for_selector("#key-create .secret-once #new-secret")


def wait_until(page: Any, predicate: Any, what: str, seconds: float = 20) -> None:
    """Poll from Python (wait_for_function evaluates strings, which our CSP forbids)."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(100)


def csp_violations(page: Any) -> list[str]:
    return page.evaluate("window.__cspViolations || []")


def horizontal_overflow(page: Any) -> dict[str, Any] | None:
    """None when the page fits its width; else the widths and the widest offenders."""
    return page.evaluate(
        """() => {
          const root = document.documentElement;
          if (root.scrollWidth <= root.clientWidth) return null;
          const wide = [];
          for (const el of document.body.querySelectorAll("*")) {
            const r = el.getBoundingClientRect();
            if (r.right > root.clientWidth + 0.5 && r.width > 0) {
              const name = `${el.tagName.toLowerCase()}.${el.className}`.slice(0, 60);
              wide.push(`${name} ${Math.round(r.right)}`);
            }
          }
          return {
            scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, wide: wide.slice(0, 12),
          };
        }"""
    )


def in_viewport(page: Any, selector: str, text: str = "") -> dict[str, float]:
    """The box of the first `selector` (plain CSS) holding `text`, and whether it lies
    inside the visible viewport below the header."""
    # Found and measured in one script run: a pending job's status box is swapped by its
    # poll every two seconds, and a handle taken before a swap measures a detached node (0).
    return page.evaluate(
        """([selector, text]) => {
          const el = [...document.querySelectorAll(selector)]
            .find((node) => node.textContent.includes(text));
          const r = el.getBoundingClientRect();
          const header = document.querySelector("header.topbar").getBoundingClientRect();
          return {top: r.top, bottom: r.bottom, height: r.height, headerBottom: header.bottom,
                  viewport: window.innerHeight,
                  visible: r.height > 0 && r.top >= header.bottom - 0.5
                    && r.bottom <= window.innerHeight + 0.5};
        }""",
        [selector, text],
    )
