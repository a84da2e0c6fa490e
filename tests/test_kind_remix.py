"""Remix and re-run of the kinds with a page of their own (effects, multi-image2video,
omni-video): the kind's page prefilled, stored inputs kept (shared) or replaced, the rules
still enforced, and a re-run sending Kling the very same request."""

from __future__ import annotations

import base64
import re

import pytest
from django import forms
from django.core.files.storage import default_storage
from django.test import Client

from simulator import Simulator
from simulator.testing import disable_local_providers, provider_for
from tests.images import image_bytes, upload
from videos.creation import Origin, create_generation
from videos.kinds import KINDS, PAGE_KINDS
from videos.kinds.forms import KindForm
from videos.models import Generation, GenerationInput

PHOTO = base64.b64encode(image_bytes(640, 480)).decode()
RED, BLUE, GREEN = (200, 40, 40), (40, 40, 200), (40, 160, 60)


def made(user, kind: str, data: dict, files: dict | None = None, *, api: bool = False):
    """A generation of kind created the way its page (or the API) creates one."""
    form = KINDS[kind].form_class(data, files or {}, api=api)
    assert form.is_valid(), form.errors
    return create_generation(form, Origin(owner=user))


def inputs(generation: Generation) -> list[tuple[str, str, dict]]:
    """(field, stored file, meta) of each input, in list order."""
    rows = generation.inputs.order_by("role", "position")
    return [(row.field, row.file.name, row.meta) for row in rows]


def stored_bytes(name: str) -> bytes:
    with default_storage.open(name, "rb") as fh:
        return fh.read()


def beside(page: str, field: str) -> str:
    """The markup of one field's block on a kind's page (label, input, its errors)."""
    match = re.search(rf'id="field-{field}">.*?</div>', page, re.S)
    assert match, f"no field {field}"
    return match.group(0)


def nothing_written(before: tuple[int, int]) -> bool:
    return (Generation.objects.count(), GenerationInput.objects.count()) == before


def counts() -> tuple[int, int]:
    return Generation.objects.count(), GenerationInput.objects.count()


# ---- effects ------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_an_effect_remixes_on_its_page_with_its_scene_and_photos(
    alice_client: Client, user
) -> None:
    source = made(
        user, "effects", {"effect_scene": "hug_pro"}, {"image": upload(), "image_2": upload()}
    )
    page = alice_client.get(f"/generations/{source.pk}/remix/").content.decode()
    assert f'Remix of <a href="/generations/{source.pk}/">' in page
    assert f'action="/generations/{source.pk}/remix/"' in page
    assert 'value="hug_pro"' in beside(page, "effect_scene")
    for field, name in (("image", "image.0"), ("image_2", "image.1")):
        block = beside(page, field)
        assert f'href="/generations/{source.pk}/inputs/{name}/"' in block  # "Currently"
        assert f'name="{field}-clear"' in block  # a Clear box drops it
    shown = alice_client.get(f"/generations/{source.pk}/inputs/image.1/")
    assert b"".join(shown.streaming_content) == stored_bytes(inputs(source)[1][1])


@pytest.mark.django_db
def test_an_effect_remix_keeps_one_photo_and_replaces_the_other(alice_client: Client, user) -> None:
    source = made(
        user,
        "effects",
        {"effect_scene": "hug_pro"},
        {"image": upload(color=RED), "image_2": upload(color=BLUE)},
    )
    kept, _replaced = inputs(source)
    answer = alice_client.post(
        f"/generations/{source.pk}/remix/",
        {"effect_scene": "hug_pro", "image_2": upload(color=GREEN)},
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    child = Generation.objects.exclude(pk=source.pk).get()
    assert (child.parent, child.kind, child.params) == (
        source,
        "effects",
        {"effect_scene": "hug_pro", "dual": True},
    )
    (first, second) = inputs(child)
    assert first[1] == kept[1]  # the same stored file, shared, not copied or fetched
    assert second[1] != inputs(source)[1][1]
    assert stored_bytes(second[1]) != stored_bytes(inputs(source)[1][1])
    assert stored_bytes(second[1])[:2] == b"\xff\xd8"


@pytest.mark.django_db
def test_an_effect_remix_may_drop_a_photo_for_a_one_photo_scene(alice_client: Client, user) -> None:
    source = made(
        user, "effects", {"effect_scene": "hug_pro"}, {"image": upload(), "image_2": upload()}
    )
    answer = alice_client.post(
        f"/generations/{source.pk}/remix/", {"effect_scene": "bullet_time", "image_2-clear": "on"}
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    child = Generation.objects.get(parent=source)
    assert child.params == {"effect_scene": "bullet_time", "dual": False}
    assert [row[:2] for row in inputs(child)] == [("image.0", inputs(source)[0][1])]


@pytest.mark.django_db
def test_an_effect_remix_still_obeys_the_scene_s_rules(alice_client: Client, user) -> None:
    source = made(
        user, "effects", {"effect_scene": "hug_pro"}, {"image": upload(), "image_2": upload()}
    )
    before = counts()
    answer = alice_client.post(
        f"/generations/{source.pk}/remix/", {"effect_scene": "bullet_time"}
    )  # two kept photos for a one-photo scene
    page = answer.content.decode()
    assert answer.status_code == 200
    assert "The effect bullet_time takes one photo." in beside(page, "image_2")
    # The kept photos are still shown, and the form still posts to the remix.
    assert f"/generations/{source.pk}/inputs/image.0/" in beside(page, "image")
    assert f'action="/generations/{source.pk}/remix/"' in page
    htmx = alice_client.post(
        f"/generations/{source.pk}/remix/",
        {"effect_scene": "bullet_time"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="kind-form",
    ).content.decode()
    assert (
        htmx.lstrip().startswith('<form id="kind-form"')
        and f'hx-post="/generations/{source.pk}/remix/"' in htmx
    )
    retired = alice_client.post(f"/generations/{source.pk}/remix/", {"effect_scene": "hug"})
    assert "was retired on 2026-01-30; use hug_pro instead." in beside(
        retired.content.decode(), "effect_scene"
    )
    assert nothing_written(before)


# ---- multi-image2video --------------------------------------------------------------------------
MULTI = {"prompt": "a cat in four poses", "mode": "pro", "duration": "10", "aspect_ratio": "9:16"}


@pytest.mark.django_db
def test_a_multi_image_remix_is_prefilled_and_replaces_one_image(
    alice_client: Client, user
) -> None:
    source = made(
        user,
        "multi-image2video",
        MULTI,
        {"image_1": upload(color=RED), "image_2": upload(color=BLUE), "image_3": upload()},
    )
    page = alice_client.get(f"/generations/{source.pk}/remix/").content.decode()
    assert "a cat in four poses" in beside(page, "prompt")
    assert '<option value="9:16" selected>' in beside(page, "aspect_ratio")
    assert '<option value="pro" selected>' in beside(page, "mode")
    assert 'value="10"' in beside(page, "duration")
    for n in range(3):
        assert f"/generations/{source.pk}/inputs/image.{n}/" in beside(page, f"image_{n + 1}")
    assert "Currently" not in beside(page, "image_4")
    answer = alice_client.post(
        f"/generations/{source.pk}/remix/",
        {**MULTI, "prompt": "a cat, closer", "image_2": upload(color=GREEN)},
    )
    assert answer.status_code == 302, answer.content.decode()[:3000]
    child = Generation.objects.get(parent=source)
    assert (child.prompt, child.mode, child.duration, child.params) == (
        "a cat, closer",
        "pro",
        10,
        {"aspect_ratio": "9:16"},
    )
    old, new = inputs(source), inputs(child)
    assert [row[0] for row in new] == ["image.0", "image.1", "image.2"]
    assert new[0][1] == old[0][1] and new[2][1] == old[2][1]  # kept: shared
    assert new[1][1] != old[1][1]  # replaced by the new upload


@pytest.mark.django_db
def test_a_multi_image_remix_still_obeys_the_rules(alice_client: Client, user) -> None:
    source = made(user, "multi-image2video", MULTI, {"image_1": upload()})
    before = counts()
    answer = alice_client.post(f"/generations/{source.pk}/remix/", {**MULTI, "prompt": " "})
    assert "This field is required." in beside(answer.content.decode(), "prompt")
    tiny = alice_client.post(
        f"/generations/{source.pk}/remix/",
        {**MULTI, "image_1": upload(width=200, height=200)},
    )
    assert "width and height must be at least 300 px" in beside(tiny.content.decode(), "image_1")
    none = alice_client.post(f"/generations/{source.pk}/remix/", {**MULTI, "image_1-clear": "on"})
    assert "Give 1 to 4 images." in beside(none.content.decode(), "image_1")
    assert nothing_written(before)


# ---- omni-video ---------------------------------------------------------------------------------
# An API job whose first frame comes before its references: <<<image_2>>> is a reference.
OMNI_API = {
    "model_name": "kling-v3-omni",
    "prompt": "<<<image_2>>> walks past <<<image_3>>>",
    "image_list": [
        {"image_url": PHOTO, "type": "first_frame"},
        {"image_url": PHOTO},
        {"image_url": PHOTO},
    ],
    "mode": "pro",
    "duration": "7",
}
# What the remix page posts back for it (besides the prompt and any new upload).
OMNI_WEB = {"model_name": "kling-v3-omni", "mode": "pro", "duration": "7"}


@pytest.mark.django_db
def test_an_omni_remix_puts_each_input_back_in_its_field(alice_client: Client, user) -> None:
    source = made(user, "omni-video", OMNI_API, api=True)
    page = alice_client.get(f"/generations/{source.pk}/remix/").content.decode()
    assert "&lt;&lt;&lt;image_2&gt;&gt;&gt; walks past" in beside(page, "prompt")
    assert f"/generations/{source.pk}/inputs/image.0/" in beside(page, "first_frame")
    assert f"/generations/{source.pk}/inputs/image.1/" in beside(page, "reference_1")
    assert f"/generations/{source.pk}/inputs/image.2/" in beside(page, "reference_2")
    assert "Currently" not in beside(page, "end_frame")
    # Kept as they are: the original order, the one the prompt cites.
    kept = alice_client.post(
        f"/generations/{source.pk}/remix/",
        {
            "prompt": "<<<image_2>>> runs past <<<image_3>>>",
            "mode": "pro",
            "duration": "7",
            "model_name": "kling-v3-omni",
        },
    )
    assert kept.status_code == 302, kept.content.decode()[:3000]
    child = Generation.objects.get(parent=source)
    assert inputs(child) == inputs(source)
    assert child.prompt == "<<<image_2>>> runs past <<<image_3>>>"


@pytest.mark.django_db
def test_an_omni_remix_replaces_a_reference_and_keeps_the_frame(alice_client: Client, user) -> None:
    source = made(user, "omni-video", OMNI_API, api=True)
    answer = alice_client.post(
        f"/generations/{source.pk}/remix/",
        {
            "prompt": "<<<image_1>>> walks past <<<image_2>>>",
            "model_name": "kling-v3-omni",
            "mode": "pro",
            "duration": "7",
            "reference_1": upload(color=GREEN),
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:3000]
    child = Generation.objects.get(parent=source)
    (frame, ref1, ref2) = inputs(source)
    new = inputs(child)
    # The page's order: references, then the frame.
    assert [row[2] for row in new] == [{}, {}, {"type": "first_frame"}]
    assert new[0][1] != ref1[1] and new[1][1] == ref2[1] and new[2][1] == frame[1]


@pytest.mark.django_db
def test_an_omni_remix_still_obeys_the_rules(alice_client: Client, user) -> None:
    source = made(user, "omni-video", OMNI_API, api=True)
    before = counts()
    answer = alice_client.post(
        f"/generations/{source.pk}/remix/",
        {**OMNI_WEB, "prompt": "a door", "first_frame-clear": "on", "end_frame": upload()},
    )
    assert "an end_frame needs a first_frame" in beside(answer.content.decode(), "first_frame")
    cites = alice_client.post(
        f"/generations/{source.pk}/remix/",
        {
            "prompt": "<<<image_9>>> again",
            "mode": "pro",
            "duration": "7",
            "model_name": "kling-v3-omni",
        },
    )
    assert "&lt;&lt;&lt;image_9&gt;&gt;&gt; has no matching entry" in beside(
        cites.content.decode(), "prompt"
    )
    assert nothing_written(before)


@pytest.mark.django_db
def test_an_omni_api_job_with_more_references_than_the_page_has_fields(
    alice_client: Client, user
) -> None:
    body = {"prompt": "<<<image_5>>> leads", "image_list": [{"image_url": PHOTO}] * 5}
    source = made(user, "omni-video", body, api=True)
    page = alice_client.get(f"/generations/{source.pk}/remix/").content.decode()
    assert f"/generations/{source.pk}/inputs/image.4/" in beside(page, "reference_5")
    answer = alice_client.post(
        f"/generations/{source.pk}/remix/", {"prompt": "<<<image_5>>> leads", "mode": "std"}
    )
    assert answer.status_code == 302, answer.content.decode()[:3000]
    assert inputs(Generation.objects.get(parent=source)) == inputs(source)


# ---- re-run: the same Kling request again ------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "data", "files", "api"),
    [
        ("effects", {"effect_scene": "hug_pro"}, {"image": RED, "image_2": BLUE}, False),
        ("effects", {"effect_scene": "bullet_time", "input": {"image": PHOTO}}, {}, True),
        ("multi-image2video", MULTI, {"image_1": RED, "image_2": BLUE, "image_3": GREEN}, False),
        ("omni-video", OMNI_API, {}, True),
        (
            "omni-video",
            {
                "prompt": "<<<image_1>>> meets <<<element_1>>>",
                "model_name": "kling-v3-omni",
                "mode": "std",
                "duration": "5",
                "aspect_ratio": "1:1",
                "sound": "on",
                "element_list": '[{"element_id": 42}]',
                "watermark_info": '{"enabled": true}',
            },
            {"reference_1": RED, "first_frame": BLUE, "end_frame": GREEN},
            False,
        ),
        (
            "omni-video",
            {
                "model_name": "kling-v3-omni",
                "multi_shot": True,
                "shot_type": "customize",
                "multi_prompt": [
                    {"index": 1, "prompt": "a fox wakes", "duration": "4"},
                    {"index": 2, "prompt": "it runs", "duration": "8"},
                ],
                "duration": "12",
                "aspect_ratio": "9:16",
            },
            {},
            True,
        ),
    ],
)
def test_a_re_run_sends_kling_the_same_request(
    kind: str, data: dict, files: dict, api: bool, alice_client: Client, user, settings
) -> None:
    settings.STUDIO_POLL_SCALE = 0.01
    from videos import tasks

    uploads = {name: upload(color=color) for name, color in files.items()}
    with Simulator(min_seconds=0, max_seconds=0) as sim:
        disable_local_providers()
        provider_for(sim)
        source = made(user, kind, data, uploads, api=api)
        tasks.submit_generation(source.pk)
        confirm = alice_client.post(f"/generations/{source.pk}/rerun/")
        assert "Confirm the cost to run it" in confirm.content.decode()  # the step stays
        assert not Generation.objects.filter(parent=source).exists()
        answer = alice_client.post(f"/generations/{source.pk}/rerun/", {"confirm": "on"})
        child = Generation.objects.get(parent=source)
        assert answer["Location"] == f"/generations/{child.pk}/"
        tasks.submit_generation(child.pk)
        (original,) = sim.tasks_for(str(source.pk))
        (again,) = sim.tasks_for(str(child.pk))
    assert (child.kind, child.owner, child.params) == (kind, user, source.params)
    assert inputs(child) == inputs(source)  # shared, not copied
    sent = {k: v for k, v in original.body.items() if k != "external_task_id"}
    assert {k: v for k, v in again.body.items() if k != "external_task_id"} == sent
    assert sent  # a real body, images included
    if kind != "omni-video" or "image_list" in sent:
        assert "image" in str(sent)


@pytest.mark.django_db
def test_a_re_run_of_an_omni_video_reference_shares_the_fetched_video(
    alice_client: Client, user, settings, tmp_path
) -> None:
    from tests.test_kind_omni import served, short_clip
    from videos import tasks

    settings.STUDIO_POLL_SCALE = 0.01
    settings.STUDIO_ALLOW_LOOPBACK_URLS = True
    clip = short_clip(tmp_path / "clip.mp4", 3)
    with served(clip) as url, Simulator(min_seconds=0, max_seconds=0) as sim:
        disable_local_providers()
        provider_for(sim)
        body = {
            "prompt": "make <<<video_1>>> snowy",
            "video_list": [{"video_url": url, "refer_type": "base", "keep_original_sound": "yes"}],
        }
        source = made(user, "omni-video", body, api=True)
        tasks.submit_generation(source.pk)
        (video,) = source.inputs.filter(role="video")
        assert video.file  # fetched and checked once
        page = alice_client.get(f"/generations/{source.pk}/remix/").content.decode()
        assert f'value="{url}"' in beside(page, "video_url")
        alice_client.post(f"/generations/{source.pk}/rerun/", {"confirm": "on"})
        child = Generation.objects.get(parent=source)
        tasks.submit_generation(child.pk)
        (original,) = sim.tasks_for(str(source.pk))
        (again,) = sim.tasks_for(str(child.pk))
    assert inputs(child) == inputs(source)  # the stored clip shared, not fetched again
    assert again.body["video_list"] == original.body["video_list"]
    assert {k: v for k, v in again.body.items() if k != "external_task_id"} == {
        k: v for k, v in original.body.items() if k != "external_task_id"
    }


# ---- the pages show the kind --------------------------------------------------------------------
@pytest.mark.django_db
def test_the_detail_page_and_the_gallery_name_the_kind(alice_client: Client, user) -> None:
    source = made(user, "effects", {"effect_scene": "bullet_time"}, {"image": upload()})
    page = alice_client.get(f"/generations/{source.pk}/").content.decode()
    assert "<h1>Effect " in page
    assert f'href="/generations/{source.pk}/remix/"' in page
    assert f'href="/generations/{source.pk}/rerun/"' in page
    assert f'src="/generations/{source.pk}/inputs/image.0/"' in page
    assert "bullet_time" in page
    gallery = alice_client.get("/").content.decode()
    card = re.search(rf'id="card-{source.pk}".*?</article>', gallery, re.S).group(0)
    assert '<span class="kind badge">Effect</span>' in card
    plain = Generation.objects.create(owner=user, prompt="a fox", status="failed")
    gallery = alice_client.get("/").content.decode()
    card = re.search(rf'id="card-{plain.pk}".*?</article>', gallery, re.S).group(0)
    assert "kind badge" not in card


# ---- a new kind gets remix by declaring its mapping ---------------------------------------------
@pytest.mark.parametrize("kind", PAGE_KINDS)
def test_every_page_kind_maps_its_uploads_back_for_remix(kind: str) -> None:
    """Each upload field of a kind's page is where a stored input goes back to (remix_slots),
    unless the kind computes it (input_slots); otherwise its remix would lose that input."""
    form_class = KINDS[kind].form_class
    uploads = {
        name
        for name, field in form_class.base_fields.items()
        if isinstance(field.widget, forms.ClearableFileInput)
    }
    computed = form_class.input_slots is not KindForm.input_slots
    assert computed or uploads <= set(form_class.remix_slots.values()), uploads
