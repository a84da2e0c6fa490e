"""The web UI: login everywhere, the gallery and its one-request polling, forms, detail, actions."""

from __future__ import annotations

import base64
import re

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.images import image_bytes, upload
from videos.models import Generation, Status, local_render_seconds

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
CONFIRM = {"confirm": "on"}  # a paid re-run is sent only once its cost is confirmed


@pytest.mark.parametrize(
    "path", ["/", "/generations/new/", "/generations/1/", "/generations/1/media/video/"]
)
def test_every_page_needs_a_login(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_login_page_logs_a_member_in(user) -> None:
    client = Client()
    response = client.post("/login/", {"username": "alice", "password": "pw-alice-123"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert "alice" in client.get("/").content.decode()


def test_the_gallery_shows_the_whole_team_newest_first(
    alice_client, make_generation, other_user
) -> None:
    older = make_generation(prompt="an old lighthouse")
    newer = make_generation(prompt="a new harbour", owner=other_user)
    html = alice_client.get("/").content.decode()
    assert html.index(f'id="card-{newer.pk}"') < html.index(f'id="card-{older.pk}"')
    assert "a new harbour" in html and "bob" in html


def test_the_gallery_polls_while_something_is_pending(alice_client, make_generation) -> None:
    pending = make_generation()
    make_generation(status=Status.SUCCEEDED)
    html = alice_client.get("/").content.decode()
    poll = re.search(r'<div id="gallery-poll"[^>]*>', html).group(0)
    assert "data-poll" in poll and f"watch={pending.pk}" in poll
    assert "1 running" in html


def test_the_gallery_polls_calmly_when_nothing_is_pending(alice_client, make_generation) -> None:
    # Teammates' new jobs must still arrive (tests/test_live_gallery.py): a calm poll, not none.
    make_generation(status=Status.SUCCEEDED)
    poll = re.search(r'<div id="gallery-poll"[^>]*>', alice_client.get("/").content.decode()).group(
        0
    )
    assert 'data-poll="5000"' in poll and "watch=&" in poll and "data-poll-hidden" not in poll


def test_a_poll_returns_changed_and_new_cards_in_one_response(
    alice_client, make_generation, local_provider
) -> None:
    watched = make_generation(prompt="watched job")
    newest = watched.pk
    fresh = make_generation(prompt="brand new job")
    watched.mark_submitted(local_provider, "x")
    watched.mark_failed("upstream said no")
    response = alice_client.get(
        f"/?watch={watched.pk}&newest={newest}", HTTP_HX_TARGET="gallery-poll", **HTMX
    )
    html = response.content.decode()
    assert "<html" not in html
    assert (
        f'id="card-{watched.pk}"' in html
        and "upstream said no" in html
        and 'hx-swap-oob="true"' in html
    )
    assert 'hx-swap-oob="afterbegin:#gallery-grid"' in html and "brand new job" in html
    assert f"watch={fresh.pk}" in html  # the new pending card is watched from now on
    assert 'id="running-badge"' in html


def test_polling_calms_down_once_nothing_is_pending(alice_client, make_generation) -> None:
    done = make_generation(status=Status.SUCCEEDED)
    html = alice_client.get(
        f"/?watch={done.pk}&newest={done.pk}", HTTP_HX_TARGET="gallery-poll", **HTMX
    ).content.decode()
    poll = re.search(r'<div id="gallery-poll"[^>]*>', html).group(0)
    assert 'data-poll="5000"' in poll and "watch=&" in poll


def test_a_poll_costs_the_same_queries_for_one_card_or_forty(alice_client, make_generation) -> None:
    def poll_queries(count: int) -> int:
        Generation.objects.all().delete()
        ids = [make_generation().pk for _ in range(count)]
        with CaptureQueriesContext(connection) as ctx:
            response = alice_client.get(
                f"/?watch={','.join(map(str, ids))}&newest={ids[-1]}",
                HTTP_HX_TARGET="gallery-poll",
                **HTMX,
            )
        html = response.content.decode()
        assert all(f'id="card-{pk}"' in html for pk in ids)  # every watched card came back
        return len(ctx.captured_queries)

    assert poll_queries(1) == poll_queries(40)


def test_creating_a_job_queues_it_and_returns_to_the_gallery(alice_client, user) -> None:
    response = alice_client.post(
        "/generations/new/",
        {"kind": "text2video", "model_name": "kling-v1", "prompt": "a red kite"},
    )
    assert response.status_code == 302 and response["Location"] == "/"
    generation = Generation.objects.get()
    assert (generation.owner, generation.prompt, generation.source) == (user, "a red kite", "web")


def test_an_invalid_job_shows_the_error_by_its_field_and_creates_nothing(alice_client) -> None:
    response = alice_client.post(
        "/generations/new/",
        {"kind": "text2video", "model_name": "kling-v1", "prompt": "x", "cfg_scale": "3"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    field = re.search(
        r'<div class="field has-error" id="field-cfg_scale">.*?</div>', html, re.S
    ).group(0)
    assert "less than or equal to 1" in field
    assert Generation.objects.count() == 0


def test_an_invalid_htmx_post_re_renders_only_the_form(alice_client) -> None:
    response = alice_client.post(
        "/generations/new/",
        {"kind": "text2video", "model_name": "nope", "prompt": "x"},
        HTTP_HX_TARGET="generation-form",
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith('<form id="generation-form"')
    assert "Unknown model" in html and Generation.objects.count() == 0


def test_a_valid_htmx_post_redirects_the_page(alice_client) -> None:
    response = alice_client.post(
        "/generations/new/",
        {"kind": "text2video", "model_name": "kling-v1", "prompt": "ok"},
        HTTP_HX_TARGET="generation-form",
        **HTMX,
    )
    assert response["HX-Redirect"] == "/" and Generation.objects.count() == 1


def test_the_form_shows_the_estimated_cost(alice_client) -> None:
    html = alice_client.get(
        "/generations/estimate/",
        {"model_name": "kling-v1", "mode": "pro", "duration": "10"},
        **HTMX,
    ).content.decode()
    # Only the local renderer serves kling-v1 here: its seconds, not the upstream's 120.
    assert "7.00 units" in html and f"typical time ~{local_render_seconds(10)} s on local" in html


def test_the_image2video_form_offers_frames_and_only_models_that_animate_images(
    alice_client,
) -> None:
    html = alice_client.get("/generations/new/?kind=image2video").content.decode()
    assert 'name="image"' in html and 'name="image_tail_url"' in html
    assert 'value="kling-v1-5"' in html
    assert 'value="kling-v1-5"' not in alice_client.get("/generations/new/").content.decode()


def test_the_detail_page_shows_parameters_and_timeline_to_a_teammate(
    bob_client, make_generation
) -> None:
    generation = make_generation(
        prompt="glass city at night", camera_control={"type": "simple", "config": {"zoom": -3}}
    )
    generation.record("info", "created for the test")
    html = bob_client.get(f"/generations/{generation.pk}/").content.decode()
    assert "glass city at night" in html and "zoom=-3" in html and "created for the test" in html
    assert "Delete" not in html  # bob may look but not change


def test_a_teammate_cannot_delete_or_cancel_someone_elses_job(bob_client, make_generation) -> None:
    generation = make_generation()
    assert bob_client.post(f"/generations/{generation.pk}/delete/").status_code == 404
    assert bob_client.post(f"/generations/{generation.pk}/cancel/").status_code == 404
    assert Generation.objects.get(pk=generation.pk).status == Status.QUEUED


def test_the_owner_deletes_a_finished_job_to_the_trash(alice_client, make_generation) -> None:
    generation = make_generation(status=Status.SUCCEEDED)
    name = default_storage.save(f"videos/{generation.pk}/video.mp4", ContentFile(b"x" * 10))
    Generation.objects.filter(pk=generation.pk).update(video=name)
    response = alice_client.post(f"/generations/{generation.pk}/delete/")
    assert response.status_code == 302
    # In the trash (tests/test_trash.py): kept, with its file, until purged.
    assert Generation.objects.get(pk=generation.pk).deleted_at is not None
    assert default_storage.exists(name)


def test_an_admin_may_delete_anyones_job(staff_client, make_generation) -> None:
    generation = make_generation(status=Status.FAILED)
    staff_client.post(f"/generations/{generation.pk}/delete/")
    assert Generation.objects.get(pk=generation.pk).deleted_at is not None


def test_the_owner_cancels_a_queued_job(alice_client, make_generation) -> None:
    generation = make_generation()
    alice_client.post(f"/generations/{generation.pk}/cancel/")
    assert Generation.objects.get(pk=generation.pk).status == Status.CANCELLED


def test_the_detail_status_fragment_polls_until_the_video_is_there(
    alice_client, make_generation
) -> None:
    pending = make_generation()
    done = make_generation(status=Status.SUCCEEDED)
    pending_html = alice_client.get(
        f"/generations/{pending.pk}/", HTTP_HX_TARGET="generation-status", **HTMX
    ).content.decode()
    done_html = alice_client.get(
        f"/generations/{done.pk}/", HTTP_HX_TARGET="generation-status", **HTMX
    ).content.decode()
    assert "data-poll" in pending_html and "<html" not in pending_html
    assert '<video id="player"' in done_html and "data-poll" not in done_html


def test_remix_prefills_the_form_and_links_the_new_job_to_its_parent(
    alice_client, make_generation
) -> None:
    parent = make_generation(prompt="a calm lake", model_name="kling-v1-6", mode="pro", duration=10)
    html = alice_client.get(f"/generations/{parent.pk}/remix/").content.decode()
    assert "a calm lake" in html and 'value="kling-v1-6" selected' in html
    alice_client.post(
        f"/generations/{parent.pk}/remix/",
        {
            "kind": "text2video",
            "model_name": "kling-v1-6",
            "prompt": "a calm lake, at dawn",
            "mode": "pro",
            "duration": "10",
        },
    )
    child = Generation.objects.exclude(pk=parent.pk).get()
    assert child.parent == parent and child.prompt == "a calm lake, at dawn"


def test_remixing_an_image2video_keeps_the_parents_frame(
    alice_client, user, make_generation
) -> None:
    parent = make_generation(kind="image2video", prompt="")
    parent.image.save("image.jpg", upload(), save=True)
    alice_client.post(
        f"/generations/{parent.pk}/remix/",
        {"kind": "image2video", "model_name": "kling-v1", "prompt": "now with rain"},
    )
    child = Generation.objects.exclude(pk=parent.pk).get()
    assert child.image.name == parent.image.name and child.parent == parent


def test_rerun_creates_a_copy_linked_to_the_original(alice_client, make_generation) -> None:
    parent = make_generation(prompt="same again", status=Status.FAILED)
    response = alice_client.post(f"/generations/{parent.pk}/rerun/", CONFIRM)
    child = Generation.objects.exclude(pk=parent.pk).get()
    assert response["Location"] == f"/generations/{child.pk}/"
    assert (child.prompt, child.parent, child.status) == ("same again", parent, Status.QUEUED)


def test_a_frame_sent_to_text2video_is_refused_with_a_visible_message(alice_client) -> None:
    response = alice_client.post(
        "/generations/new/",
        {
            "kind": "text2video",
            "model_name": "kling-v1",
            "prompt": "x",
            "image_url": "https://example.com/a.jpg",
        },
    )
    html = response.content.decode()
    assert 'id="field-image_url"' in html and "Images belong to image-to-video" in html
    assert Generation.objects.count() == 0


def test_rerun_keeps_the_camera_move_and_motion_masks(alice_client, make_generation) -> None:
    mask = base64.b64encode(image_bytes(640, 360, fmt="PNG")).decode()  # masks are Base64
    masks = [{"mask": mask, "trajectories": [{"x": 1, "y": 2}, {"x": 3, "y": 4}]}]
    camera = {
        "type": "simple",
        "config": {"horizontal": 0, "vertical": 0, "pan": 0, "tilt": 3, "roll": 0, "zoom": 0},
    }
    parent = make_generation(prompt="tilt up", camera_control=camera)
    alice_client.post(f"/generations/{parent.pk}/rerun/", CONFIRM)
    child = Generation.objects.exclude(pk=parent.pk).get()
    assert child.camera_control == camera
    masked = make_generation(
        kind="image2video", prompt="", image_url="https://x.example/a.jpg", dynamic_masks=masks
    )
    alice_client.post(f"/generations/{masked.pk}/rerun/", CONFIRM)
    assert Generation.objects.get(parent=masked).dynamic_masks == masks


def test_every_page_shows_your_running_jobs(alice_client, make_generation, other_user) -> None:
    make_generation()
    make_generation(owner=other_user)  # a teammate's job is not yours
    for path in ["/", "/history/", "/recipes/", "/generations/new/"]:
        html = alice_client.get(path).content.decode()
        assert re.search(r'<a id="running-badge" class="badge busy"[^>]*>1 running</a>', html), path


BIG = "9" * 37  # a 37-digit number: beyond any integer column


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("watch=1&newest=abc", "newest"),
        ("watch=1&newest=1.5", "newest"),
        ("watch=1&newest=%00", "newest"),
        ("watch=1&newest=%C2%B2", "newest"),  # "²": str.isdigit() says yes, int() says no
        ("watch=1&newest=" + BIG, "newest"),
        ("watch=abc&newest=1", "watch"),
        ("watch=1,1.5&newest=1", "watch"),
        ("watch=%00&newest=1", "watch"),
        ("watch=%C2%B2&newest=1", "watch"),
        ("watch=1," + BIG + "&newest=1", "watch"),
    ],
)
def test_a_poll_with_a_malformed_number_is_refused_by_name(
    alice_client, make_generation, query: str, named: str
) -> None:
    make_generation(prompt="a job nobody asked about")
    response = alice_client.get(f"/?{query}", HTTP_HX_TARGET="gallery-poll", **HTMX)
    html = response.content.decode()
    assert response.status_code == 400
    assert f"{named}:" in html and "<html" not in html
    assert "a job nobody asked about" not in html  # no cards on a refused poll


@pytest.mark.parametrize(
    ("duration", "message"),
    [
        (BIG, "less than or equal to 60"),
        ("-5", "greater than or equal to 1"),
        ("1.5", "Enter a whole number"),
        ("%C2%B2", "Enter a whole number"),
    ],
)
def test_the_estimate_refuses_a_duration_it_cannot_price(
    alice_client, duration: str, message: str
) -> None:
    response = alice_client.get(
        f"/generations/estimate/?model_name=kling-v1&mode=std&duration={duration}", **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "duration:" in html and message in html and "units" not in html


def test_a_form_prefilled_with_a_bad_duration_estimates_the_default(alice_client) -> None:
    html = alice_client.get(f"/generations/new/?duration={BIG}").content.decode()
    assert "Estimated cost <strong>1.00 units</strong>" in html  # 5 s, what the select shows
