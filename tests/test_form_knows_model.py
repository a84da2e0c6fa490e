"""The generation form knows the model and the provider (issue 9, "A form that knows the model")."""

from __future__ import annotations

import base64
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.core import signing
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from simulator import Simulator
from simulator.rules import check_create
from simulator.testing import disable_local_providers, provider_for
from tests.api_helpers import issue, post_json
from tests.images import image_bytes
from videos import kept_frames
from videos.creation import Origin, create_generation
from videos.forms import GenerationForm
from videos.kinds import image2video
from videos.models import Generation, Provider, Status, VideoModel, local_render_seconds

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def estimate_html(client, **query: str) -> str:
    query = {"model_name": "kling-v1", "mode": "std", "duration": "5", **query}
    return client.get("/generations/estimate/", query, **HTMX).content.decode()


def kling_provider(**fields) -> Provider:
    return Provider.objects.create(
        name=fields.pop("name", "kling"), kind=Provider.Kind.KLING, priority=10, **fields
    )


# ---- the typical time of the provider that serves the job ----------------------------------
def test_the_local_renderer_shows_seconds_from_the_clip_length_not_the_upstream_time(
    alice_client, local_provider
) -> None:
    short = estimate_html(alice_client, duration="5")
    long = estimate_html(alice_client, duration="10")
    assert f"typical time ~{local_render_seconds(5)} s on local" in short
    assert local_render_seconds(5) < local_render_seconds(10) < 120
    assert f"typical time ~{local_render_seconds(10)} s on local" in long
    assert "~120 s" not in short


def test_a_real_upstream_shows_the_catalogue_time(alice_client, local_provider) -> None:
    kling_provider()
    assert "typical time ~120 s on kling" in estimate_html(alice_client)


def test_a_provider_override_wins_over_the_catalogue(alice_client, local_provider) -> None:
    kling_provider(typical_seconds=45)
    assert "typical time ~45 s on kling" in estimate_html(alice_client)


def test_the_chosen_provider_decides_the_time(alice_client, local_provider) -> None:
    kling = kling_provider()
    html = estimate_html(alice_client, provider=str(local_provider.pk))
    assert f"~{local_render_seconds(5)} s on local" in html
    assert "~120 s on kling" in estimate_html(alice_client, provider=str(kling.pk))


def test_the_form_page_shows_the_local_time(alice_client, local_provider) -> None:
    html = alice_client.get("/generations/new/").content.decode()
    assert f"typical time ~{local_render_seconds(5)} s on local" in html


def test_a_queued_card_shows_the_time_of_the_provider_that_will_take_it(
    alice_client, make_generation, local_provider
) -> None:
    make_generation(status=Status.QUEUED, duration=10)
    html = alice_client.get("/").content.decode()
    assert f"/ ~{local_render_seconds(10)}s typical" in html
    kling_provider(typical_seconds=77)
    assert "/ ~77s typical" in alice_client.get("/").content.decode()


def test_a_submitted_card_shows_its_own_provider_time(
    alice_client, make_generation, local_provider
) -> None:
    kling = kling_provider(typical_seconds=77)
    generation = make_generation(status=Status.QUEUED, duration=5)
    Generation.objects.filter(pk=generation.pk).update(provider=local_provider)
    html = alice_client.get("/").content.decode()
    assert f"/ ~{local_render_seconds(5)}s typical" in html and "~77s" not in html
    detail = alice_client.get(generation.get_absolute_url()).content.decode()
    assert f"of ~{local_render_seconds(5)} s typical" in detail
    assert kling.typical_seconds_for(VideoModel.objects.get(name="kling-v1"), 5) == 77


# ---- chosen frames: a preview, and a valid frame kept when another field fails ------------------
KEPT_TOKEN = re.compile(r'name="kept_image" value="([^"]+)"')


def i2v(**overrides: Any) -> dict[str, Any]:
    data = {"kind": "image2video", "model_name": "kling-v1", "prompt": "the kite rises"}
    data.update(overrides)
    return data


def post_with_bad_prompt(client: Client, frame: bytes) -> str:
    """A POST whose frame is valid and whose prompt is too long: the token of the kept frame."""
    response = client.post(
        "/generations/new/",
        {**i2v(prompt="x" * 2501), "image": SimpleUploadedFile("kite.png", frame)},
    )
    html = response.content.decode()
    assert response.status_code == 200 and Generation.objects.count() == 0
    assert "kept: kite.png" in html
    match = KEPT_TOKEN.search(html)
    assert match, html
    return match.group(1)


def test_the_frame_fields_offer_a_preview(alice_client) -> None:
    html = alice_client.get("/generations/new/?kind=image2video").content.decode()
    assert html.count("data-frame-preview") == 2 and "js/frames.js" in html
    assert "<script>" not in html and "style=" not in html


def test_a_valid_frame_is_kept_when_the_prompt_fails_and_used_once_it_is_fixed(
    alice_client,
) -> None:
    frame = image_bytes(fmt="PNG", color=(10, 120, 200))
    token = post_with_bad_prompt(alice_client, frame)
    preview = alice_client.get(f"/generations/kept/{token}/")
    assert preview.status_code == 200
    assert b"".join(preview.streaming_content if preview.streaming else [preview.content]) == frame
    response = alice_client.post("/generations/new/", {**i2v(), "kept_image": token})
    assert response.status_code == 302, response.content.decode()[:2000]
    generation = Generation.objects.get()
    with generation.image.open("rb") as stored:
        assert stored.read() == frame
    assert generation.image.name.endswith(".png")
    # The job has its own copy: the kept one is gone, and its token with it.
    assert not default_storage.exists(signing.loads(token, salt=kept_frames.SALT)["n"])
    assert alice_client.get(f"/generations/kept/{token}/").status_code == 404


def test_a_forged_kept_token_is_refused(alice_client) -> None:
    token = post_with_bad_prompt(alice_client, image_bytes(fmt="PNG"))
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    html = alice_client.post("/generations/new/", {**i2v(), "kept_image": forged}).content.decode()
    assert "The kept frame is no longer available" in html
    assert Generation.objects.count() == 0
    assert alice_client.get(f"/generations/kept/{forged}/").status_code == 404


def test_another_users_kept_token_is_refused(alice_client, bob_client) -> None:
    token = post_with_bad_prompt(alice_client, image_bytes(fmt="PNG"))
    html = bob_client.post("/generations/new/", {**i2v(), "kept_image": token}).content.decode()
    assert "The kept frame is no longer available" in html
    assert Generation.objects.count() == 0
    assert bob_client.get(f"/generations/kept/{token}/").status_code == 404


def test_a_kept_token_of_the_first_frame_cannot_fill_the_last(alice_client) -> None:
    token = post_with_bad_prompt(alice_client, image_bytes(fmt="PNG"))
    html = alice_client.post(
        "/generations/new/", {**i2v(), "kept_image_tail": token}
    ).content.decode()
    assert "The kept frame is no longer available" in html
    assert Generation.objects.count() == 0


def test_old_kept_frames_are_purged(alice_client) -> None:
    token = post_with_bad_prompt(alice_client, image_bytes(fmt="PNG"))
    name = signing.loads(token, salt=kept_frames.SALT)["n"]
    assert default_storage.exists(name)
    kept_frames.purge_kept_frames(force=True)
    assert default_storage.exists(name)  # fresh: kept
    later = timezone.now() + timedelta(seconds=kept_frames.MAX_AGE_SECONDS + 60)
    with mock.patch.object(kept_frames.timezone, "now", return_value=later):
        assert kept_frames.purge_kept_frames(force=True) >= 1  # earlier tests kept some too
    assert not default_storage.exists(name)


# ---- preset camera moves have readable names ---------------------------------------------------
def test_preset_camera_moves_have_readable_names(alice_client) -> None:
    html = alice_client.get("/generations/new/").content.decode()
    assert '<option value="down_back">Move down and zoom out</option>' in html
    assert '<option value="forward_up">Move forward and tilt up</option>' in html
    assert '<option value="right_turn_forward">Turn right and move forward</option>' in html
    assert '<option value="left_turn_forward">Turn left and move forward</option>' in html


def test_a_preset_is_still_sent_by_its_wire_name() -> None:
    form = GenerationForm(
        {"kind": "text2video", "model_name": "kling-v1", "prompt": "a", "camera_type": "down_back"}
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["camera_control"] == {"type": "down_back"}


# ---- sound in the estimate ---------------------------------------------------------------------
def test_without_a_sound_price_rule_sound_costs_what_silence_does(alice_client) -> None:
    # kling-kinds.md gives no price for sound: the units stay those of the mode and duration.
    query = {"model_name": "kling-v3", "mode": "pro", "duration": "5"}
    silent = estimate_html(alice_client, **query)
    with_sound = estimate_html(alice_client, sound="on", **query)
    units = VideoModel.objects.get(name="kling-v3").estimate_units("pro", 5)
    assert f"{units} units" in silent and f"{units} units" in with_sound


def test_a_sound_price_rule_of_the_catalogue_shows_in_the_estimate(alice_client) -> None:
    entry = VideoModel.objects.get(name="kling-v3")
    entry.rules = {**entry.rules, "sound_units_factor": "1.5"}
    entry.save(update_fields=["rules"])
    silent = entry.estimate_units("pro", 10)
    html = estimate_html(alice_client, model_name="kling-v3", mode="pro", duration="10", sound="on")
    assert f"{(silent * Decimal('1.5')).quantize(Decimal('0.01'))} units" in html
    assert f"{silent} units" in estimate_html(
        alice_client, model_name="kling-v3", mode="pro", duration="10"
    )


def test_a_sound_rule_does_not_apply_in_a_mode_without_sound() -> None:
    entry = VideoModel.objects.get(name="kling-v2-6")
    entry.rules = {**entry.rules, "sound_units_factor": "2"}
    assert entry.estimate_units("std", 5, sound=True) == entry.estimate_units("std", 5)
    assert entry.estimate_units("pro", 5, sound=True) == 2 * entry.estimate_units("pro", 5)


def test_the_created_job_records_the_estimate_with_sound(alice_client) -> None:
    entry = VideoModel.objects.get(name="kling-v3")
    entry.rules = {**entry.rules, "sound_units_factor": "2"}
    entry.save(update_fields=["rules"])
    response = alice_client.post(
        "/generations/new/",
        {
            "kind": "text2video",
            "model_name": "kling-v3",
            "prompt": "rain",
            "mode": "pro",
            "duration": "5",
            "sound": "on",
            "confirm_cost": "on",
        },
    )
    assert response.status_code == 302
    generation = Generation.objects.get()
    assert generation.sound and generation.estimated_units == 2 * entry.estimate_units("pro", 5)


# ---- element_list (kling-kinds.md §7.2) ---------------------------------------------------------
PHOTO = base64.b64encode(image_bytes(640, 360)).decode()
I2V_BODY = {"model_name": "kling-v1", "prompt": "the kite rises", "image": PHOTO}
V26_VOICES = {
    "model_name": "kling-v2-6",
    "mode": "pro",
    "sound": "on",
    "prompt": "<<<voice_1>>> sings",
    "voice_list": [{"voice_id": "narrator-1"}],
}


def test_the_api_takes_up_to_three_elements_and_keeps_them(user) -> None:
    _key, secret = issue(user)
    elements = [{"element_id": 101}, {"element_id": 2**40}, {"element_id": 7}]
    answer = post_json(
        Client(), "/v1/videos/image2video", {**I2V_BODY, "element_list": elements}, secret
    )
    assert answer.status_code == 200, answer.content
    generation = Generation.objects.get()
    assert generation.params["element_list"] == elements
    body = image2video.build_body(generation, {}, "kling-v1")
    assert body["element_list"] == elements


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"element_list": [{"element_id": n} for n in range(1, 5)]},
            "element_list: At most 3 elements (got 4).",
        ),
        ({"element_list": [{"element_id": "12"}]}, "element_list[0].element_id"),
        ({"element_list": [{"element_id": 1.5}]}, "element_list[0].element_id"),
        ({"element_list": [{"element_id": True}]}, "element_list[0].element_id"),
        (
            {**V26_VOICES, "element_list": [{"element_id": 5}]},
            "element_list: Elements cannot be combined with voices: choose one.",
        ),
    ],
    ids=["four", "string-id", "float-id", "bool-id", "with-voices"],
)
def test_the_api_refuses_bad_element_lists_naming_the_field(change, message, user) -> None:
    _key, secret = issue(user)
    answer = post_json(Client(), "/v1/videos/image2video", {**I2V_BODY, **change}, secret)
    assert answer.status_code == 400, answer.content
    assert answer.json()["code"] == 1201
    assert answer.json()["message"].startswith(message), answer.json()["message"]
    assert not Generation.objects.exists()


def test_text2video_takes_no_elements(user) -> None:
    _key, secret = issue(user)
    answer = post_json(
        Client(),
        "/v1/videos/text2video",
        {"model_name": "kling-v1", "prompt": "a", "element_list": [{"element_id": 1}]},
        secret,
    )
    assert answer.status_code == 400 and answer.json()["code"] == 1201
    assert "element_list" in answer.json()["message"]
    assert not Generation.objects.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"element_list": [{"element_id": 1}]}, None),
        ({"element_list": [{"element_id": n} for n in range(4)]}, "1 to 3"),
        ({"element_list": [{"element_id": "1"}]}, "element_list[0].element_id must be"),
        (
            {
                "element_list": [{"element_id": 1}],
                "voice_list": [{"voice_id": "v"}],
                "model_name": "kling-v2-6",
                "mode": "pro",
                "sound": "on",
            },
            "element_list cannot be combined with voice_list",
        ),
    ],
)
def test_the_simulator_checks_element_lists(body, message) -> None:
    full = {"model_name": "kling-v1", "prompt": "p", "image": PHOTO, **body}
    answer = check_create("image2video", full, gateway=False)
    assert answer == message if message is None else message in answer
    assert "element_list" in check_create(
        "text2video", {"prompt": "p", "element_list": [{"element_id": 1}]}, gateway=False
    )


def test_the_web_form_takes_element_ids_and_shows_errors_next_to_the_field(alice_client) -> None:
    page = alice_client.get("/generations/new/?kind=image2video").content.decode()
    assert 'name="element_list"' in page
    bad = alice_client.post(
        "/generations/new/",
        {
            **i2v(),
            "image": SimpleUploadedFile("kite.png", image_bytes(fmt="PNG")),
            "element_list": "1, 2, 3, 4",
        },
    ).content.decode()
    field = re.search(r'id="field-element_list".*?</div>', bad, re.S).group(0)
    assert "At most 3 elements (got 4)." in field
    assert Generation.objects.count() == 0
    ok = alice_client.post(
        "/generations/new/",
        {
            **i2v(),
            "image": SimpleUploadedFile("kite.png", image_bytes(fmt="PNG")),
            "element_list": "11, 22",
        },
    )
    assert ok.status_code == 302
    assert Generation.objects.get().params["element_list"] == [
        {"element_id": 11},
        {"element_id": 22},
    ]


def test_the_web_form_refuses_a_non_integer_element_id(alice_client) -> None:
    html = alice_client.post(
        "/generations/new/",
        {
            **i2v(),
            "image": SimpleUploadedFile("kite.png", image_bytes(fmt="PNG")),
            "element_list": "12, abc",
        },
    ).content.decode()
    field = re.search(r'id="field-element_list".*?</div>', html, re.S).group(0)
    assert "Element 2 is not an element id" in field


def test_the_kling_provider_sends_elements_and_the_simulator_takes_them(user, settings) -> None:
    settings.STUDIO_POLL_SCALE = 0.01
    from videos import tasks

    bound = GenerationForm(
        {
            "kind": "image2video",
            "model_name": "kling-v1",
            "prompt": "a kite",
            "element_list": [{"element_id": 42}],
        },
        {"image": SimpleUploadedFile("kite.png", image_bytes(fmt="PNG"))},
    )
    assert bound.is_valid(), bound.errors
    with Simulator(min_seconds=0, max_seconds=0) as sim:
        disable_local_providers()
        provider_for(sim)
        generation = create_generation(bound, Origin(owner=user))
        tasks.submit_generation(generation.pk)
        (task,) = sim.tasks_for(str(generation.pk))
        tasks.poll_generation(generation.pk)
        generation.refresh_from_db()
    assert task.body["element_list"] == [{"element_id": 42}]
    assert generation.status == Status.SUCCEEDED, generation.status_message


def test_a_gateway_is_refused_for_elements_next_to_the_field() -> None:
    gateway = Provider.objects.create(
        name="gw", kind=Provider.Kind.GATEWAY, base_url="https://gw.example"
    )
    bound = GenerationForm(
        {
            "kind": "image2video",
            "model_name": "kling-v1",
            "provider": gateway.pk,
            "image_url": "https://example.com/a.png",
            "element_list": "5",
        },
    )
    assert not bound.is_valid()
    assert bound.errors["element_list"] == ["gw (kling-gateway) cannot do elements."]
