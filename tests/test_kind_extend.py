"""video-extend (kling-kinds.md §7.5): studio video ids, the rules, the API, the upstream, pinning,
the page and the local render."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from api.models import ApiTask
from simulator import Simulator
from simulator.testing import disable_local_providers, provider_for
from tests.api_helpers import bearer, issue, post_json
from tests.renders import difference, frames_of
from videos import tasks
from videos.creation import Origin, create_generation
from videos.kinds.video_extend import VideoExtendForm
from videos.models import Generation, Provider, Status

ROUTES = ["/v1/videos/video-extend", "/kling/v1/videos/video-extend"]


def finished(owner, provider: Provider | None = None, **fields) -> Generation:
    """A finished clip row as a provider leaves it (its file need not exist for the rules)."""
    fields.setdefault("model_name", "kling-v1-6")
    fields.setdefault("video_duration", 5.0)
    fields.setdefault("finished_at", timezone.now())
    fields.setdefault("status", Status.SUCCEEDED)
    return Generation.objects.create(
        owner=owner,
        prompt="a lighthouse at dusk",
        provider=provider or Provider.objects.get(name="local"),
        video="videos/1/video.mp4",
        upstream_video_id=fields.pop("upstream_video_id", "up-123"),
        **fields,
    )


def form(data: dict, owner, api: bool = False) -> VideoExtendForm:
    bound = VideoExtendForm(data, owner=owner, api=api)
    bound.is_valid()
    return bound


# ---- the rules ---------------------------------------------------------------------------------
@pytest.mark.django_db
def test_an_extension_inherits_model_mode_and_provider_and_names_its_parent(user) -> None:
    source = finished(user, mode="pro")
    bound = form({"video_id": str(source.pk), "prompt": "the light turns on"}, user)
    assert bound.is_valid(), bound.errors
    generation = bound.stage_generation(user)
    assert generation.parent == source and generation.provider == source.provider
    assert (generation.model_name, generation.mode, generation.duration) == ("kling-v1-6", "pro", 5)
    assert generation.params == {"video_id": str(source.pk)}
    assert bound.estimated_units() == source.catalogue_entry().estimate_units("pro", 5)


@pytest.mark.django_db
def test_an_api_key_extends_only_its_owners_videos_the_web_the_teams(user, other_user) -> None:
    theirs = finished(other_user)
    assert form({"video_id": str(theirs.pk)}, user, api=True).errors["video_id"] == [
        f"No video {theirs.pk} of yours exists."
    ]
    assert form({"video_id": str(theirs.pk)}, user).is_valid()  # the team's shared space
    assert form({"video_id": "١٢"}, user).errors["video_id"] == ["No video ١٢ exists."]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": Status.PROCESSING}, "is not finished (processing)"),
        ({"model_name": "kling-v2-6"}, "was made with kling-v2-6; only kling-v1, kling-v1-5"),
        ({"finished_at": timezone.now() - timedelta(days=31)}, "is older than 30 days"),
        ({"video_duration": 176.0}, "is 176 s long; only clips up to 175 s"),
        ({"upstream_video_id": ""}, "has no upstream video id"),
    ],
)
def test_an_ineligible_source_is_refused_beside_the_field(fields, message, user) -> None:
    source = finished(user, **fields)
    errors = form({"video_id": str(source.pk)}, user).errors
    assert list(errors) == ["video_id"] and message in errors["video_id"][0]


@pytest.mark.django_db
def test_a_trashed_clip_or_a_gateways_clip_is_not_extended(user) -> None:
    trashed = finished(user, deleted_at=timezone.now())
    assert form({"video_id": str(trashed.pk)}, user, api=True).errors["video_id"] == [
        f"The video {trashed.pk} is in the trash; restore it first."
    ]
    assert form({"video_id": str(trashed.pk)}, user).errors["video_id"] == [
        f"No video {trashed.pk} exists."  # the web does not show the trash's clips at all
    ]
    gateway = Provider.objects.create(
        name="oa-gw", kind=Provider.Kind.OPENAI_VIDEO, base_url="http://gw"
    )
    theirs = finished(user, provider=gateway)
    assert form({"video_id": str(theirs.pk)}, user).errors["video_id"] == [
        f"The video {theirs.pk} was made through oa-gw, which cannot continue it."
    ]


@pytest.mark.django_db
def test_kling_v1_sources_take_no_negative_prompt_or_cfg_scale(user) -> None:
    v1 = finished(user, model_name="kling-v1")
    bad = form({"video_id": str(v1.pk), "negative_prompt": "blur", "cfg_scale": "0.4"}, user)
    assert bad.errors == {
        "negative_prompt": ["negative_prompt cannot be used to extend a kling-v1 clip."],
        "cfg_scale": ["cfg_scale cannot be used to extend a kling-v1 clip."],
    }
    v16 = finished(user)
    good = form({"video_id": str(v16.pk), "negative_prompt": "blur", "cfg_scale": "0.4"}, user)
    assert good.is_valid() and good.params()["cfg_scale"] == 0.4


# ---- the API -----------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES)
def test_the_api_extends_a_studio_video_id(route: str, user) -> None:
    source = finished(user)
    _key, secret = issue(user)
    body = {
        "video_id": str(source.pk),
        "prompt": "the camera rises above the clouds",
        "negative_prompt": "text",
        "cfg_scale": 0.7,
        "external_task_id": "ext-1",
    }
    answer = post_json(Client(), route, body, secret)
    assert answer.status_code == 200, answer.content
    generation = Generation.objects.get(pk=int(answer.json()["data"]["task_id"]))
    assert (generation.kind, generation.parent, generation.provider) == (
        "video-extend",
        source,
        source.provider,
    )
    assert generation.prompt == "the camera rises above the clouds"
    assert ApiTask.objects.get(generation=generation).external_task_id == "ext-1"
    task = Client().get(f"{route}/{generation.pk}", **bearer(secret)).json()["data"]
    # The parent is named by OUR id; the upstream's "up-123" never crosses the API.
    assert task["task_info"]["parent_video"]["id"] == str(source.pk)
    assert "up-123" not in str(task)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("source_fields", "extra", "message"),
    [
        ({}, {"video_id": "999"}, "video_id: No video 999 of yours exists."),
        ({"status": Status.FAILED}, {}, "video_id: The video {pk} is not finished (failed)"),
        ({"model_name": "kling-v3"}, {}, "video_id: The video {pk} was made with kling-v3"),
        ({"video_duration": 200.0}, {}, "video_id: The video {pk} is 200 s long"),
        ({"model_name": "kling-v1"}, {"cfg_scale": 0.5}, "cfg_scale: cfg_scale cannot be used"),
        ({"model_name": "kling-v1"}, {"negative_prompt": "x"}, "negative_prompt: negative_prompt"),
        ({}, {"cfg_scale": 1.5}, "cfg_scale: "),
        ({}, {"model_name": "kling-v1"}, "model_name: is not a field of this request"),
        ({}, {"video_id": 12}, "video_id: must be a string"),
    ],
)
def test_the_api_refuses_each_rule_naming_the_field(source_fields, extra, message, user) -> None:
    source = finished(user, **source_fields)
    _key, secret = issue(user)
    before = Generation.objects.count()
    answer = post_json(Client(), ROUTES[0], {"video_id": str(source.pk), **extra}, secret)
    assert answer.status_code == 400, answer.content
    assert answer.json()["code"] == 1201
    assert answer.json()["message"].startswith(message.format(pk=source.pk)), answer.json()
    assert Generation.objects.count() == before  # no half-written row


# ---- the upstream: the parent's upstream id goes to the parent's provider ----------------------
@pytest.mark.django_db
def test_the_kling_provider_sends_the_parents_upstream_id_and_links_the_result(
    user, settings
) -> None:
    settings.STUDIO_POLL_SCALE = 0.01
    with Simulator() as sim:
        disable_local_providers()
        provider = provider_for(sim)
        source = Generation.objects.create(owner=user, prompt="a tram", model_name="kling-v1-6")
        tasks.submit_generation(source.pk)
        tasks.poll_generation(source.pk)
        source.refresh_from_db()
        assert source.status == Status.SUCCEEDED and source.upstream_video_id.startswith("v")
        bound = form({"video_id": str(source.pk), "prompt": "it turns left"}, user)
        assert bound.is_valid(), bound.errors
        generation = create_generation(bound, Origin(owner=user))
        tasks.submit_generation(generation.pk)
        (task,) = sim.tasks_for(str(generation.pk))
        assert task.body == {
            "video_id": source.upstream_video_id,
            "prompt": "it turns left",
            "external_task_id": str(generation.pk),
        }
        tasks.poll_generation(generation.pk)
        generation.refresh_from_db()
        answer = sim.task_object(task)
    assert generation.status == Status.SUCCEEDED, generation.status_message
    assert generation.provider == provider and generation.parent == source
    assert answer["task_info"]["parent_video"]["id"] == source.upstream_video_id
    assert 4 <= float(answer["task_result"]["videos"][0]["duration"]) - 3.0 <= 5


@pytest.mark.django_db
def test_the_simulator_knows_only_its_own_v1_videos() -> None:
    from simulator.rules import check_create

    with Simulator() as sim:
        v16 = sim._new_task("text2video", {"model_name": "kling-v1-6", "prompt": "a"})
        v3 = sim._new_task("text2video", {"model_name": "kling-v3", "prompt": "b"})
        sim.finish(v16.task_id)
        sim.finish(v3.task_id)
        ok = check_create(
            "video-extend", {"video_id": f"v{v16.task_id}"}, gateway=False, account=sim
        )
        other = check_create("video-extend", {"video_id": "v1"}, gateway=False, account=sim)
        v3_answer = check_create(
            "video-extend", {"video_id": f"v{v3.task_id}"}, gateway=False, account=sim
        )
        extra = check_create(
            "video-extend",
            {"video_id": f"v{v16.task_id}", "mode": "pro"},
            gateway=False,
            account=sim,
        )
    assert ok is None
    assert other == "video_id v1 does not exist on this account"
    assert v3_answer.endswith("was made with kling-v3; only kling-v1..v1-6 extend")
    assert extra == "unknown field(s): mode"


# ---- pinning: an account-scoped id never fails over --------------------------------------------
@pytest.mark.django_db
def test_an_extension_waits_for_its_parents_provider_and_never_fails_over(user) -> None:
    with Simulator() as home_sim, Simulator() as other_sim:
        disable_local_providers()
        home = provider_for(home_sim, "home", priority=2)
        provider_for(other_sim, "other", priority=1)  # serves kling-v1-6 too, and comes first
        source = finished(user, provider=home)
        generation = create_generation(form({"video_id": str(source.pk)}, user), Origin(owner=user))
        Provider.objects.filter(pk=home.pk).update(enabled=False)
        tasks.submit_generation(generation.pk)
        generation.refresh_from_db()
        reason = (
            "home is disabled; this job uses a video id that exists only on home, "
            "so no other provider can take it"
        )
        assert generation.status == Status.QUEUED
        assert generation.waiting_message().startswith(
            f"waiting for a provider to recover: {reason}"
        )
        Generation.objects.filter(pk=generation.pk).update(
            waiting_since=timezone.now()
            - timedelta(seconds=settings.STUDIO_NO_PROVIDER_FAIL_SECONDS),
            next_poll_at=timezone.now(),
            lease_until=None,
        )
        tasks.submit_generation(generation.pk)
        generation.refresh_from_db()
        assert generation.status == Status.FAILED and generation.status_message == reason
        assert other_sim.counts["create"] == home_sim.counts["create"] == 0


@pytest.mark.django_db
def test_an_extension_whose_provider_was_removed_fails_at_once(user) -> None:
    home = Provider.objects.create(name="gone", kind=Provider.Kind.KLING, base_url="http://x")
    source = finished(user, provider=home)
    generation = create_generation(form({"video_id": str(source.pk)}, user), Origin(owner=user))
    home.delete()
    tasks.submit_generation(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert "existed only on the provider that made its source" in generation.status_message


# ---- the web page ------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_detail_page_offers_extend_only_for_an_eligible_clip(
    alice_client: Client, user
) -> None:
    eligible = finished(user)
    page = alice_client.get(f"/generations/{eligible.pk}/").content.decode()
    assert f'href="/generations/new/video-extend/?video_id={eligible.pk}"' in page
    v3 = finished(user, model_name="kling-v3")
    assert 'id="extend-clip"' not in alice_client.get(f"/generations/{v3.pk}/").content.decode()
    running = finished(user, status=Status.PROCESSING)
    assert (
        'id="extend-clip"' not in alice_client.get(f"/generations/{running.pk}/").content.decode()
    )


@pytest.mark.django_db
def test_the_extend_page_prefills_creates_and_shows_errors_beside_the_field(
    alice_client: Client, user
) -> None:
    source = finished(user)
    page = alice_client.get(f"/generations/new/video-extend/?video_id={source.pk}").content.decode()
    assert f'value="{source.pk}"' in page and 'id="field-video_id"' in page
    bad = alice_client.post("/generations/new/video-extend/", {"video_id": "4242"})
    html = bad.content.decode()
    assert bad.status_code == 200 and "No video 4242 exists." in html
    assert html.index('id="field-video_id"') < html.index("No video 4242 exists.")
    assert not Generation.objects.filter(kind="video-extend").exists()
    good = alice_client.post(
        "/generations/new/video-extend/", {"video_id": str(source.pk), "prompt": "dawn"}
    )
    assert good.status_code == 302
    child = Generation.objects.get(kind="video-extend")
    assert (child.owner, child.parent, child.prompt) == (user, source, "dawn")
    lineage = alice_client.get(f"/generations/{child.pk}/").content.decode()
    assert f'href="/generations/{source.pk}/"' in lineage


# ---- the local renderer ------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_local_render_starts_with_the_parents_frames_and_adds_five_seconds(
    user, tmp_path: Path, django_capture_on_commit_callbacks
) -> None:
    from videos.forms import GenerationForm

    parent_form = GenerationForm(
        {"kind": "text2video", "model_name": "kling-v1-6", "prompt": "red kites", "duration": "5"}
    )
    assert parent_form.is_valid(), parent_form.errors
    with django_capture_on_commit_callbacks(execute=True):
        parent = create_generation(parent_form, Origin(owner=user))
    parent.refresh_from_db()
    assert parent.status == Status.SUCCEEDED, parent.status_message
    with django_capture_on_commit_callbacks(execute=True):
        child = create_generation(
            form({"video_id": str(parent.pk), "prompt": "they land"}, user), Origin(owner=user)
        )
    child.refresh_from_db()
    assert child.status == Status.SUCCEEDED, child.status_message
    assert child.provider.name == "local" and child.parent == parent
    assert abs(child.video_duration - (parent.video_duration + 5)) < 0.2
    parent_path, child_path = tmp_path / "parent.mp4", tmp_path / "child.mp4"
    parent_path.write_bytes(parent.video.read())
    child_path.write_bytes(child.video.read())
    before, after = frames_of(parent_path), frames_of(child_path)
    assert len(after) > len(before)
    for index in (0, len(before) // 2, len(before) - 1):
        assert difference(before[index], after[index]) < 6, index  # the parent, re-encoded
    assert difference(before[0], after[-1]) > 6  # the extension is new picture


@pytest.mark.django_db
def test_the_client_callback_of_an_extension_names_its_parent_by_our_id(
    user, local_provider, django_capture_on_commit_callbacks
) -> None:
    from tests.receiver import Receiver
    from videos.rendering import VideoMeta

    source = finished(user)
    _key, secret = issue(user)
    receiver = Receiver()
    try:
        body = {"video_id": str(source.pk), "callback_url": receiver.url}
        created = post_json(Client(), ROUTES[0], body, secret)
        assert created.status_code == 200, created.content
        child = Generation.objects.get(pk=int(created.json()["data"]["task_id"]))
        meta = VideoMeta(duration=10.0, width=1280, height=720, fps=24.0, bytes=10, sha256="0" * 64)
        with django_capture_on_commit_callbacks(execute=True):
            child.mark_submitted(local_provider, "upstream-9")
        with django_capture_on_commit_callbacks(execute=True):
            child.mark_succeeded(video=f"videos/{child.pk}/video.mp4", poster="", meta=meta)
        bodies = receiver.bodies()
    finally:
        receiver.close()
    assert [b["task_status"] for b in bodies] == ["submitted", "succeed"]
    parent = bodies[-1]["task_info"]["parent_video"]
    assert parent["id"] == str(source.pk) and parent["duration"] == "5"
    assert "up-123" not in str(bodies)
