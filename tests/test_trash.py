"""Delete goes to a trash that can be undone: hidden everywhere, restorable by its owner or an
admin, purged with its files after STUDIO_TRASH_DAYS."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from tests.api_helpers import bearer, issue
from videos.models import Generation, Status
from videos.tasks import purge_trash, run_due_once

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished(make_generation) -> Generation:
    generation = make_generation(status=Status.SUCCEEDED, prompt="a hidden lantern")
    generation.video.save("video.mp4", ContentFile(b"\x00video bytes"), save=False)
    generation.poster.save("poster.jpg", ContentFile(b"\xff\xd8 poster"), save=False)
    generation.save()
    return generation


def trash(client: Client, generation: Generation) -> None:
    response = client.post(f"/generations/{generation.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == "/"


# ---- delete → trash → restore --------------------------------------------------------------------
def test_delete_moves_to_the_trash_with_an_undo(alice_client, finished) -> None:
    response = alice_client.post(f"/generations/{finished.pk}/delete/", follow=True)
    html = response.content.decode()
    finished.refresh_from_db()
    assert finished.deleted_at is not None and default_storage.exists(finished.video.name)
    assert "Moved to the trash; it is deleted for good after 7 days." in html
    assert f'action="/generations/{finished.pk}/restore/"' in html and ">Undo</button>" in html


def test_undo_restores_it_everywhere(alice_client, finished) -> None:
    trash(alice_client, finished)
    response = alice_client.post(f"/generations/{finished.pk}/restore/", follow=True)
    assert response.redirect_chain == [(f"/generations/{finished.pk}/", 302)]
    assert "Restored from the trash." in response.content.decode()
    assert Generation.objects.get(pk=finished.pk).deleted_at is None
    assert "a hidden lantern" in alice_client.get("/").content.decode()
    assert "a hidden lantern" in alice_client.get("/history/").content.decode()


def test_the_trash_page_lists_what_was_deleted_with_restore(alice_client, finished) -> None:
    trash(alice_client, finished)
    html = alice_client.get("/trash/").content.decode()
    assert "<title>Trash · Studio</title>" in html and "a hidden lantern" in html
    assert f'action="/generations/{finished.pk}/restore/"' in html and ">Restore</button>" in html
    assert "stay here for 7 days" in html


def test_the_trash_page_says_when_it_is_empty(alice_client) -> None:
    assert "The trash is empty." in alice_client.get("/trash/").content.decode()


def test_deleting_a_queued_job_cancels_it_first(alice_client, make_generation) -> None:
    queued = make_generation()
    trash(alice_client, queued)
    queued.refresh_from_db()
    assert queued.status == Status.CANCELLED and queued.deleted_at is not None
    # A restored job stays cancelled: it never runs behind the user's back.
    alice_client.post(f"/generations/{queued.pk}/restore/")
    assert Generation.objects.get(pk=queued.pk).status == Status.CANCELLED
    assert not Generation.objects.due().filter(pk=queued.pk).exists()


def test_a_running_job_cannot_be_trashed(alice_client, make_generation) -> None:
    running = make_generation(status=Status.PROCESSING)
    response = alice_client.post(f"/generations/{running.pk}/delete/", follow=True)
    assert "A running job cannot be deleted" in response.content.decode()
    assert Generation.objects.get(pk=running.pk).deleted_at is None


def test_the_timeline_records_trash_and_restore(finished) -> None:
    assert finished.trash() and not finished.trash()  # a second trash finds nothing
    assert finished.restore() and not finished.restore()
    messages = list(finished.events.values_list("message", flat=True))
    assert messages == ["moved to the trash", "restored from the trash"]


# ---- hidden everywhere ---------------------------------------------------------------------------
def test_a_trashed_generation_is_hidden_from_every_page(alice_client, bob_client, finished) -> None:
    trash(alice_client, finished)
    for client in (alice_client, bob_client):
        assert "a hidden lantern" not in client.get("/").content.decode()
        assert "a hidden lantern" not in client.get("/history/").content.decode()
        assert "a hidden lantern" not in client.get("/history/export.csv").getvalue().decode()
        for path in ("/", "media/video/", "remix/", "rerun/"):
            url = f"/generations/{finished.pk}/{path.lstrip('/')}"
            assert client.get(url).status_code == 404, url
        assert client.get(f"/review/{finished.pk}/lineage/").status_code == 404


def test_a_trashed_generation_is_hidden_from_the_api(alice_client, user, finished) -> None:
    _key, secret = issue(user)
    finished.api_key = _key
    finished.save(update_fields=["api_key"])
    api = Client()
    listed = api.get("/kling/v1/videos/text2video", **bearer(secret)).json()
    assert [task["task_id"] for task in listed["data"]] == [str(finished.pk)]
    trash(alice_client, finished)
    listed = api.get("/kling/v1/videos/text2video", **bearer(secret)).json()
    assert listed["data"] == []
    one = api.get(f"/kling/v1/videos/text2video/{finished.pk}", **bearer(secret))
    assert one.status_code == 404 and json.loads(one.content)["code"] == 1203
    assert api.get("/v1/videos", **bearer(secret)).json()["data"] == []


def test_the_poll_does_not_bring_a_trashed_card_back(alice_client, finished) -> None:
    trash(alice_client, finished)
    html = alice_client.get(
        "/?watch=&newest=0", HTTP_HX_TARGET="gallery-poll", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert f"card-{finished.pk}" not in html


# ---- permissions: only the owner or an admin -----------------------------------------------------
def test_a_member_cannot_trash_or_restore_anothers_job(alice_client, bob_client, finished) -> None:
    assert bob_client.post(f"/generations/{finished.pk}/delete/").status_code == 404
    assert Generation.objects.get(pk=finished.pk).deleted_at is None
    trash(alice_client, finished)
    assert bob_client.post(f"/generations/{finished.pk}/restore/").status_code == 404
    assert Generation.objects.get(pk=finished.pk).deleted_at is not None
    assert "a hidden lantern" not in bob_client.get("/trash/").content.decode()


def test_an_admin_sees_and_restores_anyones_trash(alice_client, staff_client, finished) -> None:
    trash(alice_client, finished)
    assert "a hidden lantern" in staff_client.get("/trash/").content.decode()
    staff_client.post(f"/generations/{finished.pk}/restore/")
    assert Generation.objects.get(pk=finished.pk).deleted_at is None


def test_restore_is_a_post_and_needs_a_session(finished) -> None:
    finished.trash()
    assert Client().post(f"/generations/{finished.pk}/restore/").status_code == 302
    assert Generation.objects.get(pk=finished.pk).deleted_at is not None


def test_restoring_what_is_not_in_the_trash_is_a_404(alice_client, finished) -> None:
    assert alice_client.post(f"/generations/{finished.pk}/restore/").status_code == 404


# ---- purge ---------------------------------------------------------------------------------------
def age(generation: Generation, days: float) -> None:
    Generation.objects.filter(pk=generation.pk).update(
        deleted_at=timezone.now() - timedelta(days=days)
    )


def test_purge_removes_rows_and_files_after_the_trash_days(make_generation, finished) -> None:
    names = [finished.video.name, finished.poster.name]
    young = make_generation(status=Status.FAILED, prompt="still restorable")
    finished.trash()
    young.trash()
    age(finished, 7.1)
    age(young, 6.9)
    assert purge_trash() == 1
    assert not Generation.objects.filter(pk=finished.pk).exists()
    assert not any(default_storage.exists(name) for name in names)
    assert Generation.objects.filter(pk=young.pk).exists()


def test_the_trash_days_are_a_setting(finished, settings) -> None:
    settings.STUDIO_TRASH_DAYS = 1
    finished.trash()
    age(finished, 1.5)
    assert purge_trash() == 1


def test_the_due_loop_purges(finished) -> None:
    finished.trash()
    age(finished, 30)
    run_due_once()
    assert not Generation.objects.filter(pk=finished.pk).exists()


def test_purge_keeps_a_frame_another_generation_uses(make_generation) -> None:
    first = make_generation(status=Status.SUCCEEDED)
    first.image.save("frame.png", ContentFile(b"\x89PNG frame"), save=True)
    remix = make_generation(status=Status.SUCCEEDED, image=first.image.name, parent=first)
    first.trash()
    age(first, 8)
    purge_trash()
    assert default_storage.exists(remix.image.name)


def test_the_purge_command_empties_the_expired_trash(finished) -> None:
    finished.trash()
    age(finished, 8)
    out = StringIO()
    call_command("purge_trash", stdout=out)
    assert "purged 1 generation(s)" in out.getvalue()
    assert not Generation.objects.filter(pk=finished.pk).exists()


def test_live_generations_are_never_purged(finished) -> None:
    Generation.objects.filter(pk=finished.pk).update(created_at=timezone.now() - timedelta(days=90))
    assert purge_trash() == 0 and Generation.objects.filter(pk=finished.pk).exists()


def test_a_trashed_remix_is_not_linked_from_its_parent(alice_client, make_generation) -> None:
    parent = make_generation(status=Status.SUCCEEDED)
    remix = make_generation(status=Status.SUCCEEDED, parent=parent)
    link = f'href="/generations/{remix.pk}/">#{remix.pk}</a>'
    assert link in alice_client.get(f"/generations/{parent.pk}/").content.decode()
    remix.trash()
    assert link not in alice_client.get(f"/generations/{parent.pk}/").content.decode()
