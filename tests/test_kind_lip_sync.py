"""identify-face and advanced-lip-sync (kling-kinds.md §7.6): our sessions, the rules, the API,
the upstream, pinning, the pages and the local render (with its sound)."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from simulator import Simulator
from simulator.testing import disable_local_providers, provider_for
from tests.api_helpers import bearer, issue, post_json
from tests.renders import audio_streams, rms, sound_file, sound_of
from videos import tasks
from videos.creation import Origin, create_generation
from videos.forms import GenerationForm
from videos.kinds.lip_sync import LipSyncForm
from videos.lip_sync import FaceError, identify_faces
from videos.models import Generation, LipSyncSession, Provider, Status

IDENTIFY = ["/v1/videos/identify-face", "/kling/v1/videos/identify-face"]
ROUTES = ["/v1/videos/advanced-lip-sync", "/kling/v1/videos/advanced-lip-sync"]


@pytest.fixture
def voice(tmp_path: Path) -> bytes:
    """A three-second mp3 voice line."""
    return sound_file(tmp_path / "line.mp3", 3.0, pitch=330).read_bytes()


def clip(owner, django_capture_on_commit_callbacks, **fields) -> Generation:
    """A real five-second clip from the local renderer."""
    data = {"kind": "text2video", "model_name": "kling-v1-6", "prompt": "a quiet harbour"}
    bound = GenerationForm({**data, **fields})
    assert bound.is_valid(), bound.errors
    with django_capture_on_commit_callbacks(execute=True):
        generation = create_generation(bound, Origin(owner=owner))
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED, generation.status_message
    return generation


def session_row(owner, face=(0, 5000), **fields) -> LipSyncSession:
    """A session over a finished five-second clip row (no files: for the rules)."""
    source = Generation.objects.create(
        owner=owner,
        status=Status.SUCCEEDED,
        video="videos/1/video.mp4",
        video_duration=5.0,
        provider=Provider.objects.get(name="local"),
        upstream_video_id="local-1",
        finished_at=timezone.now(),
    )
    fields.setdefault("expires_at", timezone.now() + timedelta(hours=24))
    return LipSyncSession.objects.create(
        owner=owner,
        source=source,
        provider=source.provider,
        upstream_session_id="up-session-1",
        faces=[{"face_id": "0", "start_time": face[0], "end_time": face[1], "image": ""}],
        **fields,
    )


def web_data(session: LipSyncSession, **fields) -> dict:
    data = {
        "session_id": str(session.pk),
        "face_id": "0",
        "sound_start_time": "0",
        "sound_end_time": "2500",
        "sound_insert_time": "1000",
    }
    return {**data, **fields}


def form(data: dict, owner, voice: bytes | None, name: str = "line.mp3") -> LipSyncForm:
    files = {"sound_file": SimpleUploadedFile(name, voice)} if voice is not None else {}
    bound = LipSyncForm(data, files, owner=owner)
    bound.is_valid()
    return bound


# ---- identify-face ------------------------------------------------------------------------------
@pytest.mark.django_db
def test_identify_face_keeps_our_session_with_the_faces_and_their_pictures(
    user, django_capture_on_commit_callbacks
) -> None:
    source = clip(user, django_capture_on_commit_callbacks)
    session = identify_faces(source, user)
    assert session.provider.name == "local" and session.upstream_session_id.startswith("local-")
    (face,) = session.faces
    assert (face["face_id"], face["start_time"], face["end_time"]) == ("0", 0, 5000)
    with default_storage.open(face["image"]) as fh, Image.open(fh) as picture:
        assert picture.format == "JPEG" and picture.width > 50
    hours = (session.expires_at - session.created_at).total_seconds() / 3600
    assert round(hours) == 24


@pytest.mark.django_db
def test_deleting_the_clip_takes_its_sessions_and_their_pictures(
    user, django_capture_on_commit_callbacks
) -> None:
    source = clip(user, django_capture_on_commit_callbacks)
    picture = identify_faces(source, user).faces[0]["image"]
    assert default_storage.exists(picture)
    source.delete_with_files()
    assert not LipSyncSession.objects.exists() and not default_storage.exists(picture)


@pytest.mark.django_db
def test_identify_face_refuses_long_or_unfinished_clips(user) -> None:
    long = session_row(user).source
    Generation.objects.filter(pk=long.pk).update(video_duration=61.0)
    long.refresh_from_db()
    with pytest.raises(FaceError, match="61 s long; lip-sync takes up to 60 s"):
        identify_faces(long, user)
    long.status = Status.PROCESSING
    with pytest.raises(FaceError, match="is not finished"):
        identify_faces(long, user)
    long.status, long.video_duration, long.deleted_at = Status.SUCCEEDED, 5.0, timezone.now()
    with pytest.raises(FaceError, match="is in the trash; restore it first"):
        identify_faces(long, user)


# ---- the rules ---------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_lip_sync_takes_the_sessions_clip_as_parent_and_its_provider(user, voice) -> None:
    session = session_row(user)
    bound = form(web_data(session), user, voice)
    assert bound.is_valid(), bound.errors
    generation = bound.stage_generation(user)
    assert generation.parent == session.source and generation.provider == session.provider
    assert (generation.kind, generation.model_name, generation.duration) == (
        "advanced-lip-sync",
        "kling-lip-sync",
        3,
    )
    assert generation.params == {
        "session_id": str(session.pk),
        "face_id": "0",
        "sound_start_time": 0,
        "sound_end_time": 2500,
        "sound_insert_time": 1000,
        "sound_volume": 1.0,
        "original_audio_volume": 1.0,
    }
    (pending,) = bound.pending_inputs
    assert (pending.role, pending.extension) == ("audio", "mp3")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"face_id": "7"}, "face_id", "No face 7 in this session; its faces: 0."),
        ({"sound_end_time": "1500"}, "sound_end_time", "must be ≥ 2000 ms"),
        ({"sound_end_time": "3500"}, "sound_end_time", "is after the voice line's end"),
        ({"sound_insert_time": "3000"}, "sound_insert_time", "runs past the video's end (5000 ms)"),
        ({"sound_volume": "2.5"}, "sound_volume", "less than or equal to 2"),
        ({"audio_id": "tts-1"}, "sound_file", "Give exactly one of audio_id or sound_file."),
    ],
)
def test_each_rule_is_refused_beside_its_field(fields, field, message, user, voice) -> None:
    errors = form(web_data(session_row(user), **fields), user, voice).errors
    assert list(errors) == [field] and message in errors[field][0], errors


@pytest.mark.django_db
def test_the_voice_line_must_overlap_the_face_by_two_seconds(user, voice) -> None:
    session = session_row(user, face=(0, 2500))
    errors = form(web_data(session, sound_insert_time="1000"), user, voice).errors
    assert errors["sound_insert_time"] == [
        "The voice line must overlap face 0 (0-2500 ms) by at least 2000 ms."
    ]
    assert form(web_data(session, sound_insert_time="0"), user, voice).is_valid()


@pytest.mark.django_db
def test_the_voice_line_is_checked_for_format_and_length(user, tmp_path: Path) -> None:
    session = session_row(user)
    short = sound_file(tmp_path / "short.wav", 1.0).read_bytes()
    assert "it must last 2 to 60 s" in form(web_data(session), user, short).errors["sound_file"][0]
    ogg = sound_file(tmp_path / "line.ogg", 3.0).read_bytes()
    assert form(web_data(session), user, ogg, "line.mp3").errors["sound_file"] == [
        "The voice line must be an mp3, wav, m4a or aac file with sound."
    ]
    for kind in ("wav", "m4a", "aac"):
        line = sound_file(tmp_path / f"ok.{kind}", 3.0).read_bytes()
        assert form(web_data(session), user, line, "x").is_valid(), kind
    assert form(web_data(session), user, None).errors["sound_file"] == [
        "Give exactly one of audio_id or sound_file."
    ]


@pytest.mark.django_db
def test_sessions_are_their_owners_and_expire(user, other_user, voice) -> None:
    theirs = session_row(other_user)
    assert form(web_data(theirs), user, voice).errors["session_id"] == [
        f"No lip-sync session {theirs.pk} of yours exists."
    ]
    old = session_row(user, expires_at=timezone.now() - timedelta(seconds=1))
    assert form(web_data(old), user, voice).errors["session_id"] == [
        f"The lip-sync session {old.pk} expired; identify the faces again."
    ]


# ---- the API -----------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(("identify", "route"), list(zip(IDENTIFY, ROUTES, strict=True)))
def test_the_api_identifies_faces_then_lip_syncs_with_our_session_id(
    identify, route, user, voice, django_capture_on_commit_callbacks
) -> None:
    source = clip(user, django_capture_on_commit_callbacks)
    _key, secret = issue(user)
    found = post_json(Client(), identify, {"video_id": str(source.pk)}, secret)
    assert found.status_code == 200, found.content
    data = found.json()["data"]
    session = LipSyncSession.objects.get()
    assert data["session_id"] == str(session.pk) and session.upstream_session_id not in str(data)
    (face,) = data["face_data"]
    assert (face["face_id"], face["start_time"], face["end_time"]) == ("0", 0, 5000)
    assert face["face_image"].startswith("http://testserver/media/s/")
    body = {
        "session_id": data["session_id"],
        "face_choose": [
            {
                "face_id": "0",
                "sound_file": base64.b64encode(voice).decode(),
                "sound_start_time": 0,
                "sound_end_time": 3000,
                "sound_insert_time": 1500,
                "sound_volume": 1.5,
                "original_audio_volume": 0.5,
            }
        ],
        "external_task_id": "sync-1",
    }
    created = post_json(Client(), route, body, secret)
    assert created.status_code == 200, created.content
    generation = Generation.objects.get(pk=int(created.json()["data"]["task_id"]))
    assert generation.parent == source and generation.params["sound_volume"] == 1.5
    assert generation.inputs.get().role == "audio"
    task = Client().get(f"{route}/{generation.pk}", **bearer(secret)).json()["data"]
    assert task["task_info"]["parent_video"]["id"] == str(source.pk)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"video_id": "999"}, "video_id: No video 999 of yours exists."),
        (
            {"video_id": "1", "video_url": "https://example.com/a.mp4"},
            "video_url: Give exactly one of video_id and video_url.",
        ),
        ({}, "video_id: Give exactly one of video_id and video_url."),
        ({"video_url": "https://u:pw@example.com/a.mp4"}, "video_url: "),
        ({"video_id": 5}, "video_id: must be a string, not a number"),
    ],
)
def test_the_api_refuses_identify_face_naming_the_field(body, message, user) -> None:
    _key, secret = issue(user)
    answer = post_json(Client(), IDENTIFY[0], body, secret)
    assert answer.status_code == 400 and answer.json()["code"] == 1201
    assert answer.json()["message"].startswith(message), answer.json()["message"]
    assert not LipSyncSession.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("face", "extra", "message"),
    [
        ({"face_id": "9"}, {}, "face_choose[0].face_id: No face 9 in this session"),
        ({"sound_end_time": 1000}, {}, "face_choose[0].sound_end_time: sound_end_time - "),
        ({"sound_insert_time": 4000}, {}, "face_choose[0].sound_insert_time: The voice line"),
        ({"sound_volume": 3}, {}, "face_choose[0].sound_volume: "),
        (
            {"sound_file": "data:audio/mp3;base64,AAAA"},
            {},
            "face_choose[0].sound_file: sound_file must be raw",
        ),
        (
            {"sound_start_time": "0"},
            {},
            "face_choose[0].sound_start_time: must be a whole number, not a string",
        ),
        ({"mouth": 1}, {}, "face_choose[0].mouth: is not a field of this request"),
        ({}, {"session_id": "424242"}, "session_id: No lip-sync session 424242 of yours exists."),
    ],
)
def test_the_api_refuses_each_lip_sync_rule_naming_the_field(
    face, extra, message, user, voice
) -> None:
    session = session_row(user)
    _key, secret = issue(user)
    entry = {
        "face_id": "0",
        "sound_file": base64.b64encode(voice).decode(),
        "sound_start_time": 0,
        "sound_end_time": 2500,
        "sound_insert_time": 1000,
        **face,
    }
    body = {"session_id": str(session.pk), "face_choose": [entry], **extra}
    before = Generation.objects.count()
    answer = post_json(Client(), ROUTES[0], body, secret)
    assert answer.status_code == 400, answer.content
    assert answer.json()["code"] == 1201
    assert answer.json()["message"].startswith(message), answer.json()["message"]
    assert Generation.objects.count() == before


@pytest.mark.django_db
def test_the_api_refuses_two_faces_or_none(user, voice) -> None:
    session = session_row(user)
    _key, secret = issue(user)
    entry = {"face_id": "0", "sound_start_time": 0, "sound_end_time": 2500, "sound_insert_time": 0}
    answer = post_json(
        Client(), ROUTES[0], {"session_id": str(session.pk), "face_choose": [entry, entry]}, secret
    )
    assert answer.json()["message"] == "face_choose: face_choose must hold exactly one face."
    missing = post_json(Client(), ROUTES[0], {"session_id": str(session.pk)}, secret)
    assert missing.json()["message"] == "face_choose: face_choose must hold exactly one face."
    assert not Generation.objects.filter(kind="advanced-lip-sync").exists()


@pytest.mark.django_db
def test_the_api_identifies_faces_in_a_video_url_and_lip_syncs_it_locally(
    user, voice, tmp_path: Path, django_capture_on_commit_callbacks
) -> None:
    _key, secret = issue(user)
    with Simulator() as host:  # only serves the MP4 (a 3 s clip); the local provider identifies
        url = host.video_url(host._new_task("text2video", {"prompt": "x"}))
        found = post_json(Client(), IDENTIFY[1], {"video_url": url}, secret)
    assert found.status_code == 200, found.content
    session = LipSyncSession.objects.get()
    assert (session.source, session.video_url, session.provider.name) == (None, url, "local")
    assert session.video_ms == 3000 and default_storage.exists(session.video.name)
    assert found.json()["data"]["face_data"][0]["end_time"] == 3000
    entry = {
        "face_id": "0",
        "sound_file": base64.b64encode(voice).decode(),
        "sound_start_time": 0,
        "sound_end_time": 2000,
        "sound_insert_time": 500,
    }
    body = {"session_id": str(session.pk), "face_choose": [entry]}
    with django_capture_on_commit_callbacks(execute=True):
        created = post_json(Client(), ROUTES[1], body, secret)
    assert created.status_code == 200, created.content
    synced = Generation.objects.get(kind="advanced-lip-sync")
    assert synced.status == Status.SUCCEEDED, synced.status_message
    assert synced.parent is None and abs(synced.video_duration - 3.0) < 0.1
    path = tmp_path / "synced.mp4"
    path.write_bytes(synced.video.read())
    assert rms(sound_of(path), 0.9, 2.1) > 0.05  # the voice, drawn over our copy of the URL's video


@pytest.mark.django_db
def test_a_key_kept_off_lip_sync_cannot_identify_faces(user) -> None:
    source = session_row(user).source
    _key, secret = issue(user, allowed_models=["kling-v1"])
    answer = post_json(Client(), IDENTIFY[0], {"video_id": str(source.pk)}, secret)
    assert answer.status_code == 403 and answer.json()["code"] == 1103
    assert "may not use the model 'kling-lip-sync'" in answer.json()["message"]
    assert LipSyncSession.objects.count() == 1  # only the one made for the test


@pytest.mark.django_db
def test_a_video_url_that_is_not_a_video_is_refused(user) -> None:
    _key, secret = issue(user)
    with Simulator(video_mode="wrong_type") as host:
        url = host.video_url(host._new_task("text2video", {"prompt": "x"}))
        answer = post_json(Client(), IDENTIFY[0], {"video_url": url}, secret)
    assert answer.status_code == 400 and answer.json()["code"] == 1201
    assert answer.json()["message"].startswith("video_url: The video could not be fetched:")
    assert not LipSyncSession.objects.exists()


# ---- the upstream: our session maps to the upstream's, on the provider that made the clip -------
@pytest.mark.django_db
def test_the_kling_provider_identifies_and_lip_syncs_on_the_simulator(
    user, voice, settings
) -> None:
    settings.STUDIO_POLL_SCALE = 0.01
    with Simulator() as sim:
        disable_local_providers()
        provider = provider_for(sim)
        source = Generation.objects.create(owner=user, prompt="a pier", model_name="kling-v1-6")
        tasks.submit_generation(source.pk)
        tasks.poll_generation(source.pk)
        source.refresh_from_db()
        assert source.status == Status.SUCCEEDED, source.status_message
        session = identify_faces(source, user)
        assert session.provider == provider and session.upstream_session_id in sim.sessions
        assert sim.counts["identify"] == 1 and session.faces[0]["image"]  # picture kept
        bound = form(web_data(session, sound_end_time="2200", sound_insert_time="500"), user, voice)
        assert bound.is_valid(), bound.errors
        generation = create_generation(bound, Origin(owner=user))
        tasks.submit_generation(generation.pk)
        (task,) = sim.tasks_for(str(generation.pk))
        assert task.body["session_id"] == session.upstream_session_id
        (face,) = task.body["face_choose"]
        assert base64.b64decode(face["sound_file"]) == voice
        assert (face["sound_end_time"], face["sound_insert_time"]) == (2200, 500)
        tasks.poll_generation(generation.pk)
        generation.refresh_from_db()
        answer = sim.task_object(task)
    assert generation.status == Status.SUCCEEDED, generation.status_message
    assert answer["task_info"]["parent_video"]["id"] == source.upstream_video_id


@pytest.mark.django_db
def test_the_kling_provider_sends_a_video_url_to_identify_face(user, settings) -> None:
    with Simulator() as sim:
        disable_local_providers()
        provider = provider_for(sim)
        url = sim.video_url(sim._new_task("text2video", {"prompt": "x"}))
        _key, secret = issue(user)
        found = post_json(Client(), IDENTIFY[0], {"video_url": url}, secret)
        assert found.status_code == 200, found.content
        session = LipSyncSession.objects.get()
        assert session.provider == provider and session.upstream_session_id in sim.sessions
        assert sim.sessions[session.upstream_session_id].task is None  # identified by URL


@pytest.mark.django_db
def test_the_simulator_expires_sessions_and_checks_the_overlap(voice) -> None:
    from simulator.rules import check_create

    with Simulator() as sim:
        task = sim._new_task("text2video", {"model_name": "kling-v1", "prompt": "a"})
        sim.finish(task.task_id)
        session = sim.identify(sim.video(f"v{task.task_id}"))
        entry = {
            "face_id": "0",
            "sound_file": base64.b64encode(voice).decode(),
            "sound_start_time": 0,
            "sound_end_time": 2500,
            "sound_insert_time": 0,
        }
        body = {"session_id": session.session_id, "face_choose": [entry]}
        assert check_create("advanced-lip-sync", body, gateway=False, account=sim) is None
        late = {**entry, "sound_insert_time": 1500}  # the clip is 3 s: runs past its end
        assert "runs past the video's end" in check_create(
            "advanced-lip-sync", {**body, "face_choose": [late]}, gateway=False, account=sim
        )
        session.lifetime = 0
        assert check_create("advanced-lip-sync", body, gateway=False, account=sim).endswith(
            "has expired"
        )


# ---- pinning ----------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_lip_sync_waits_for_its_sessions_provider_and_identify_says_it_is_off(
    user, voice
) -> None:
    session = session_row(user)
    generation = create_generation(form(web_data(session), user, voice), Origin(owner=user))
    Provider.objects.filter(name="local").update(enabled=False)
    tasks.submit_generation(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.QUEUED
    assert "local is disabled; this job uses a lip-sync session that exists only on local" in (
        generation.waiting_message()
    )
    _key, secret = issue(user)
    session.source.refresh_from_db()
    answer = post_json(Client(), IDENTIFY[0], {"video_id": str(session.source.pk)}, secret)
    assert answer.status_code == 503 and "local is disabled" in answer.json()["message"]


# ---- the web pages -----------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_web_identifies_faces_then_creates_a_lip_sync(
    alice_client: Client, user, voice, django_capture_on_commit_callbacks
) -> None:
    source = clip(user, django_capture_on_commit_callbacks)
    detail = alice_client.get(f"/generations/{source.pk}/").content.decode()
    assert f'action="/generations/{source.pk}/lip-sync/"' in detail
    found = alice_client.post(f"/generations/{source.pk}/lip-sync/")
    session = LipSyncSession.objects.get()
    assert found["Location"] == f"/generations/new/advanced-lip-sync/?session_id={session.pk}"
    page = alice_client.get(found["Location"]).content.decode()
    assert 'class="face-thumb"' in page and "Face 0: 0–5000 ms" in page
    assert f'name="session_id" value="{session.pk}"' in page
    bad = alice_client.post(
        "/generations/new/advanced-lip-sync/",
        {
            **web_data(session, sound_insert_time="4000"),
            "sound_file": SimpleUploadedFile("l.mp3", voice),
        },
    )
    html = bad.content.decode()
    assert "runs past the video&#x27;s end" in html or "runs past the video's end" in html
    assert 'class="face-thumb"' in html  # the faces are shown again beside the error
    assert not Generation.objects.filter(kind="advanced-lip-sync").exists()
    good = alice_client.post(
        "/generations/new/advanced-lip-sync/",
        {**web_data(session), "sound_file": SimpleUploadedFile("l.mp3", voice)},
    )
    assert good.status_code == 302
    assert Generation.objects.get(kind="advanced-lip-sync").parent == source


# ---- the local render: the voice is in the result, where it was inserted -----------------------
@pytest.mark.django_db
def test_the_local_render_plays_the_voice_line_at_the_insert_time(
    user, voice, tmp_path: Path, django_capture_on_commit_callbacks
) -> None:
    source = clip(user, django_capture_on_commit_callbacks)
    assert audio_streams_of(source, tmp_path / "source.mp4") == 0  # a silent clip
    session = identify_faces(source, user)
    data = web_data(session, sound_end_time="2000", sound_insert_time="2000")
    with django_capture_on_commit_callbacks(execute=True):
        synced = create_generation(form(data, user, voice), Origin(owner=user))
    synced.refresh_from_db()
    assert synced.status == Status.SUCCEEDED, synced.status_message
    assert synced.provider.name == "local" and synced.parent == source
    path = tmp_path / "synced.mp4"
    path.write_bytes(synced.video.read())
    assert len(audio_streams(path)) == 1
    samples = sound_of(path)
    assert rms(samples, 0.2, 1.8) < 0.01  # silence before the insert time
    assert rms(samples, 2.2, 3.8) > 0.05  # the voice line
    assert rms(samples, 4.2, 4.9) < 0.01  # and after its two seconds


def audio_streams_of(generation: Generation, path: Path) -> int:
    path.write_bytes(generation.video.read())
    return len(audio_streams(path))
