"""What follows a finished clip (kling-kinds.md §7.5, §7.6): lineage labels, re-runs of
extensions and lip-syncs, expired lip-sync sessions, extensions of extensions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from tests.renders import difference, frames_of, sound_file
from tests.test_kind_extend import finished
from tests.test_kind_lip_sync import form as lip_sync_form
from tests.test_kind_lip_sync import session_row, web_data
from videos import tasks
from videos.creation import Origin, create_generation, rerun
from videos.forms import GenerationForm
from videos.kinds.lip_sync import build_body as lip_sync_body
from videos.kinds.video_extend import VideoExtendForm, build_body
from videos.models import Generation, LipSyncSession, Status


# ---- the lineage names how a child was made ------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "label", "noun"),
    [
        ("video-extend", "Extension of", "extension"),
        ("advanced-lip-sync", "Lip-sync of", "lip-sync"),
        ("text2video", "Remix of", "remix"),
        ("omni-video", "Remix of", "remix"),
    ],
)
def test_the_detail_page_names_how_a_child_was_made(
    kind: str, label: str, noun: str, alice_client: Client, user
) -> None:
    parent = finished(user)
    child = Generation.objects.create(owner=user, kind=kind, parent=parent, prompt="next")
    page = alice_client.get(f"/generations/{child.pk}/").content.decode()
    assert f'<dt>{label}</dt><dd><a href="/generations/{parent.pk}/">#{parent.pk}</a>' in page
    for other in {"Extension of", "Lip-sync of", "Remix of"} - {label}:
        assert f"<dt>{other}</dt>" not in page
    listing = alice_client.get(f"/generations/{parent.pk}/").content.decode()
    assert (
        f'<a href="/generations/{child.pk}/">#{child.pk}</a> <span class="muted">({noun})'
        in listing
    )


# ---- re-running an extension or a lip-sync -------------------------------------------------------
@pytest.fixture
def voice(tmp_path: Path) -> bytes:
    """A three-second mp3 voice line."""
    return sound_file(tmp_path / "line.mp3", 3.0, pitch=330).read_bytes()


def _extension(user, source: Generation, **data) -> Generation:
    bound = VideoExtendForm({"video_id": str(source.pk), **data}, owner=user)
    assert bound.is_valid(), bound.errors
    return create_generation(bound, Origin(owner=user))


@pytest.mark.django_db
def test_a_re_run_of_an_extension_continues_the_same_clip_again(alice_client: Client, user) -> None:
    source = finished(user, mode="pro")
    extension = _extension(user, source, prompt="the light turns on", cfg_scale="0.3")
    again = rerun(extension, user)
    assert (again.kind, again.parent, again.provider) == ("video-extend", source, source.provider)
    assert again.params == {"video_id": str(source.pk), "cfg_scale": 0.3}
    assert (again.prompt, again.model_name, again.mode) == (
        "the light turns on",
        "kling-v1-6",
        "pro",
    )
    answer = alice_client.post(f"/generations/{extension.pk}/rerun/", {"confirm": "on"})
    third = Generation.objects.filter(kind="video-extend").latest("id")
    assert answer["Location"] == f"/generations/{third.pk}/" and third.parent == source
    assert build_body(third, {}, "kling-v1-6")["video_id"] == "up-123"  # the parent's upstream id


@pytest.mark.django_db
def test_a_re_run_of_an_extension_whose_clip_is_too_old_says_why(user) -> None:
    source = finished(user)
    extension = _extension(user, source)
    Generation.objects.filter(pk=source.pk).update(finished_at=timezone.now() - timedelta(days=31))
    with pytest.raises(ValidationError) as refused:
        rerun(extension, user)
    assert refused.value.messages == [
        f"The video {source.pk} is older than 30 days; the upstream no longer keeps it."
    ]
    assert Generation.objects.filter(kind="video-extend").count() == 1


def _lip_sync(user, session: LipSyncSession, voice: bytes) -> Generation:
    bound = lip_sync_form(web_data(session, sound_volume="1.5"), user, voice)
    assert bound.is_valid(), bound.errors
    return create_generation(bound, Origin(owner=user))


@pytest.mark.django_db
def test_a_re_run_of_a_lip_sync_keeps_the_session_the_face_and_the_voice_line(user, voice) -> None:
    session = session_row(user)
    synced = _lip_sync(user, session, voice)
    again = rerun(synced, user)
    assert (again.kind, again.parent, again.provider) == (
        "advanced-lip-sync",
        session.source,
        session.provider,
    )
    assert again.params == synced.params and again.params["sound_volume"] == 1.5
    (kept,) = again.inputs.all()
    (original,) = synced.inputs.all()
    assert (kept.role, kept.file.name) == ("audio", original.file.name)  # shared, not copied
    assert kept.file.read() == voice
    body = lip_sync_body(again, {"audio.0": default_storage.path(kept.file.name)}, "")
    assert body["session_id"] == "up-session-1" and body["face_choose"][0]["face_id"] == "0"


@pytest.mark.django_db
def test_a_re_run_of_a_lip_sync_whose_session_expired_is_refused_naming_why(
    alice_client: Client, user, voice
) -> None:
    session = session_row(user)
    synced = _lip_sync(user, session, voice)
    LipSyncSession.objects.filter(pk=session.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    why = f"The lip-sync session {session.pk} expired; identify the faces again."
    with pytest.raises(ValidationError) as refused:
        rerun(synced, user)
    assert refused.value.messages == [why]
    answer = alice_client.post(f"/generations/{synced.pk}/rerun/", {"confirm": "on"}, follow=True)
    assert f"Cannot re-run: {why}" in answer.content.decode()
    assert Generation.objects.filter(kind="advanced-lip-sync").count() == 1


@pytest.mark.django_db
def test_a_re_run_after_the_session_was_purged_says_it_expired(user, voice) -> None:
    session = session_row(user)
    synced = _lip_sync(user, session, voice)
    Generation.objects.filter(pk=synced.pk).update(status="succeeded")
    LipSyncSession.purge_expired(now=session.expires_at + timedelta(seconds=1))
    assert not LipSyncSession.objects.exists()
    with pytest.raises(ValidationError) as refused:
        rerun(synced, user)
    assert refused.value.messages == [
        f"The lip-sync session {session.pk} expired and was deleted; identify the faces again."
    ]


# ---- expired lip-sync sessions go, with their files ----------------------------------------------
def _stored(name: str, content: bytes = b"x") -> str:
    return default_storage.save(name, ContentFile(content))


@pytest.mark.django_db
def test_expired_sessions_are_deleted_with_their_pictures_and_copied_video(user) -> None:
    now = timezone.now()
    picture = _stored("lip-sync/faces/0.jpg")
    copy = _stored("lip-sync/9/video.mp4")
    LipSyncSession.objects.create(
        owner=user,
        video_url="https://example.com/v.mp4",
        video=copy,
        video_duration=5.0,
        upstream_session_id="up-1",
        faces=[{"face_id": "0", "start_time": 0, "end_time": 5000, "image": picture}],
        expires_at=now + timedelta(hours=1),
    )
    live = session_row(user, expires_at=now + timedelta(hours=2))
    clip_video = live.source.video.name
    assert LipSyncSession.purge_expired(now=now) == 0  # nothing expired yet
    assert LipSyncSession.purge_expired(now=now + timedelta(hours=1, seconds=1)) == 1
    assert list(LipSyncSession.objects.all()) == [live]
    assert not default_storage.exists(picture) and not default_storage.exists(copy)
    assert LipSyncSession.purge_expired(now=now + timedelta(hours=3)) == 1
    assert Generation.objects.filter(pk=live.source_id, video=clip_video).exists()  # the clip's


@pytest.mark.django_db
def test_a_session_a_pending_lip_sync_names_waits_for_that_job(user, voice) -> None:
    session = session_row(user)
    synced = _lip_sync(user, session, voice)
    later = session.expires_at + timedelta(minutes=1)
    assert LipSyncSession.purge_expired(now=later) == 0 and synced.status == "queued"
    Generation.objects.filter(pk=synced.pk).update(status="succeeded")
    assert LipSyncSession.purge_expired(now=later) == 1


@pytest.mark.django_db
def test_the_due_loop_purges_expired_sessions(user) -> None:
    picture = _stored("lip-sync/faces/1.jpg")
    LipSyncSession.objects.create(
        owner=user,
        upstream_session_id="up-2",
        faces=[{"face_id": "0", "start_time": 0, "end_time": 5000, "image": picture}],
        expires_at=timezone.now() - timedelta(seconds=1),
    )
    tasks.run_due_once()
    assert not LipSyncSession.objects.exists() and not default_storage.exists(picture)


@pytest.mark.django_db
def test_the_admin_lists_sessions_read_only(admin_client: Client, user) -> None:
    session = session_row(user)
    listing = admin_client.get("/admin/videos/lipsyncsession/").content.decode()
    assert f"#{session.source_id}" in listing and "local" in listing
    assert admin_client.get("/admin/videos/lipsyncsession/add/").status_code == 403
    page = admin_client.get(f"/admin/videos/lipsyncsession/{session.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    deleted = admin_client.post(
        f"/admin/videos/lipsyncsession/{session.pk}/delete/", {"post": "yes"}
    )
    assert deleted.status_code == 403 and LipSyncSession.objects.filter(pk=session.pk).exists()


# ---- extending an extension ----------------------------------------------------------------------
@pytest.mark.django_db
def test_a_clip_extended_twice_continues_the_first_extension(
    alice_client: Client, user, tmp_path: Path, django_capture_on_commit_callbacks
) -> None:
    parent_form = GenerationForm(
        {"kind": "text2video", "model_name": "kling-v1-6", "prompt": "red kites", "duration": "5"}
    )
    assert parent_form.is_valid(), parent_form.errors
    with django_capture_on_commit_callbacks(execute=True):
        clip = create_generation(parent_form, Origin(owner=user))
    clip.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        first = _extension(user, clip, prompt="they land")
    first.refresh_from_db()
    assert first.status == Status.SUCCEEDED, first.status_message
    assert first.upstream_video_id and first.upstream_video_id != clip.upstream_video_id
    detail = alice_client.get(f"/generations/{first.pk}/").content.decode()
    assert f'href="/generations/new/video-extend/?video_id={first.pk}"' in detail  # offered
    with django_capture_on_commit_callbacks(execute=True):
        second = _extension(user, first, prompt="they fly off")
    second.refresh_from_db()
    assert second.status == Status.SUCCEEDED, second.status_message
    assert (second.parent, second.provider, second.params) == (
        first,
        first.provider,
        {"video_id": str(first.pk)},
    )
    # Pinned to the first extension's provider, sent its upstream id (never the clip's).
    assert build_body(second, {}, "kling-v1-6")["video_id"] == first.upstream_video_id
    assert abs(second.video_duration - (clip.video_duration + 10)) < 0.3
    first_path, second_path = tmp_path / "first.mp4", tmp_path / "second.mp4"
    first_path.write_bytes(first.video.read())
    second_path.write_bytes(second.video.read())
    before, after = frames_of(first_path), frames_of(second_path)
    assert len(after) > len(before)
    for index in (0, len(before) // 2, len(before) - 1):
        assert difference(before[index], after[index]) < 6, index  # the first extension's frames
    assert difference(before[-1], after[-1]) > 6  # and new picture after them
    lineage = alice_client.get(f"/generations/{second.pk}/").content.decode()
    assert f'<dt>Extension of</dt><dd><a href="/generations/{first.pk}/">' in lineage
