"""Jobs end to end with django-q2 in sync mode: submit, render locally, store, recover."""

from __future__ import annotations

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import av
import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from tests.images import image_bytes, upload
from videos import tasks
from videos.creation import Origin, create_generation
from videos.forms import GenerationForm
from videos.models import Generation, Provider, Status

pytestmark = pytest.mark.django_db


def create(user, data, files=None, capture=None) -> Generation:
    form = GenerationForm(data, files or {})
    assert form.is_valid(), form.errors
    with capture(execute=True):
        generation = create_generation(form, Origin(owner=user))
    generation.refresh_from_db()
    return generation


def decode(name: str) -> tuple[int, int, int, float]:
    with default_storage.open(name, "rb") as fh, av.open(fh) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return (
            stream.codec_context.width,
            stream.codec_context.height,
            frames,
            float(stream.average_rate),
        )


def test_a_text2video_job_renders_and_stores_a_playable_video(
    user, django_capture_on_commit_callbacks
) -> None:
    generation = create(
        user,
        {
            "kind": "text2video",
            "model_name": "kling-v1",
            "prompt": "a paper boat on a pond",
            "duration": "5",
        },
        capture=django_capture_on_commit_callbacks,
    )
    assert generation.status == Status.SUCCEEDED, generation.status_message
    assert (
        generation.provider.name == "local"
        and generation.upstream_task_id == f"local-{generation.pk}"
    )
    assert decode(generation.video.name) == (1280, 720, 120, 24.0)
    assert default_storage.size(generation.poster.name) == generation.poster.size > 1000
    assert (generation.video_width, generation.video_height, generation.video_duration) == (
        1280,
        720,
        5.0,
    )
    assert generation.video_bytes == default_storage.size(generation.video.name)
    assert len(generation.video_sha256) == 64 and generation.units == generation.estimated_units
    statuses = list(generation.events.filter(kind="status").values_list("status", flat=True))
    # The local renderer finishes inside its submit: the answer is already the result.
    assert statuses == ["submitted", "succeeded"]
    assert generation.upstream_video_id == f"local-{generation.pk}"


def test_an_image2video_job_uses_the_uploaded_frame(
    user, django_capture_on_commit_callbacks
) -> None:
    generation = create(
        user,
        {"kind": "image2video", "model_name": "kling-v1", "prompt": "", "duration": "5"},
        {"image": upload("first.png", width=480, height=480)},
        capture=django_capture_on_commit_callbacks,
    )
    assert generation.status == Status.SUCCEEDED, generation.status_message
    width, height, frames, _fps = decode(generation.video.name)
    assert width == height and frames == 120
    assert generation.image.name.endswith(".png")


@pytest.fixture
def image_server():
    """A real HTTP server on 127.0.0.1 serving one JPEG (and a 404 elsewhere)."""
    payload = image_bytes(800, 450)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if self.path != "/frame.jpg":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_first_frame_url_is_fetched_checked_and_stored(
    user, image_server, django_capture_on_commit_callbacks
) -> None:
    generation = create(
        user,
        {"kind": "image2video", "model_name": "kling-v1", "image_url": f"{image_server}/frame.jpg"},
        capture=django_capture_on_commit_callbacks,
    )
    assert generation.status == Status.SUCCEEDED, generation.status_message
    assert default_storage.exists(generation.image.name)
    assert decode(generation.video.name)[:2] == (1280, 720)


def test_an_unreachable_frame_url_fails_the_job_with_a_clear_message(
    user, image_server, django_capture_on_commit_callbacks
) -> None:
    generation = create(
        user,
        {
            "kind": "image2video",
            "model_name": "kling-v1",
            "image_url": f"{image_server}/missing.jpg",
        },
        capture=django_capture_on_commit_callbacks,
    )
    assert generation.status == Status.FAILED
    assert "first frame could not be fetched" in generation.status_message
    assert "HTTP 404" in generation.status_message
    assert not generation.video


def test_a_private_frame_url_is_refused(user, settings, django_capture_on_commit_callbacks) -> None:
    settings.STUDIO_ALLOW_LOOPBACK_URLS = False
    generation = create(
        user,
        {"kind": "image2video", "model_name": "kling-v1", "image_url": "http://127.0.0.1:9/x.jpg"},
        capture=django_capture_on_commit_callbacks,
    )
    assert generation.status == Status.FAILED
    assert "private or loopback" in generation.status_message


def test_a_render_whose_worker_died_is_rendered_again_by_the_due_loop(
    make_generation, local_provider
) -> None:
    generation = make_generation(prompt="a kite over a beach", duration=5)
    assert generation.claim() and generation.reserve_create(local_provider)
    # The worker died mid-render: the create attempt stays recorded, its lease ran out.
    past = timezone.now() - timedelta(seconds=1)
    Generation.objects.filter(pk=generation.pk).update(lease_until=past, next_poll_at=past)
    tasks.run_due_once()
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED, generation.status_message
    assert generation.events.filter(message__contains="has no task").exists()
    assert decode(generation.video.name)[2] == 120


def test_a_local_task_lost_after_it_was_marked_submitted_fails_clearly(
    make_generation, local_provider
) -> None:
    """The render lives only in its submit: a worker that died between the answer and the
    store leaves nothing to poll, so the job says so instead of waiting an hour."""
    generation = make_generation(prompt="a kite over a beach", duration=5)
    generation.mark_submitted(local_provider, f"local-{generation.pk}", next_poll_in=0)
    tasks.run_due_once()
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert "local render was interrupted" in generation.status_message


def test_a_queued_job_whose_submit_was_lost_is_submitted_by_the_due_loop(make_generation) -> None:
    generation = make_generation(next_poll_at=timezone.now())
    assert tasks.run_due_once() >= 1
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED


def test_a_job_stuck_past_the_limit_fails_clearly(
    make_generation, local_provider, settings
) -> None:
    settings.STUDIO_STUCK_AFTER_SECONDS = 600
    generation = make_generation()
    generation.mark_submitted(local_provider, "local-x", next_poll_in=3600)
    Generation.objects.filter(pk=generation.pk).update(
        submitted_at=timezone.now() - timedelta(minutes=11)
    )
    tasks.fail_stuck()
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert "no result 10 minutes after submission" in generation.status_message


def test_a_job_waits_for_a_free_slot_instead_of_failing(make_generation, local_provider) -> None:
    Provider.objects.filter(pk=local_provider.pk).update(max_concurrent=1)
    busy = make_generation()
    busy.mark_submitted(local_provider, "local-busy", next_poll_in=3600)
    waiting = make_generation()
    tasks.submit_generation(waiting.pk)
    waiting.refresh_from_db()
    assert waiting.status == Status.QUEUED and waiting.lease_until is None
    assert waiting.next_poll_at > timezone.now()


def test_a_model_no_provider_serves_fails_with_its_name(make_generation, local_provider) -> None:
    Provider.objects.filter(pk=local_provider.pk).update(allowed_models=["kling-v1"])
    generation = make_generation(model_name="kling-v3")
    tasks.submit_generation(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert "no enabled provider serves the model 'kling-v3'" in generation.status_message


def test_submitting_twice_creates_one_render(make_generation) -> None:
    generation = make_generation()
    tasks.submit_generation(generation.pk)
    tasks.submit_generation(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert generation.events.filter(kind="status", status="succeeded").count() == 1
