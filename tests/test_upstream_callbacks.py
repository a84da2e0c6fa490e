"""Upstream callbacks (kling-api.md §5): signed, token-guarded, and only a nudge to poll now."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import reverse

from simulator import Simulator
from simulator.testing import (
    disable_local_providers,
    provider_for,
    submitted_generation,
    wait_until,
)
from videos.models import Generation, Provider, Status
from videos.providers.webhooks import WebhookVerificationError, sign, verify

SECRET = "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI="
VECTOR_BODY = (
    b'{"id":"1234567890","status":"succeeded","message":"","create_time":1781080778802,'
    b'"update_time":1781080794151}'
)
VECTOR_SIGNATURE = "v1,UsKlJP00XoQyOn410NM9xv34sP+Gl0jnOO9Lcpr7NJ4="


@pytest.fixture(autouse=True)
def no_local_fallback(db: None) -> None:
    disable_local_providers()


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(min_seconds=600, max_seconds=600) as running:
        yield running


@pytest.fixture
def running(sim: Simulator, user, settings) -> Generation:
    """A generation running on a provider that signs its callbacks."""
    settings.STUDIO_PUBLIC_URL = "https://studio.example"
    provider = provider_for(sim)
    provider.set_webhook_secret(SECRET)
    provider.save()
    generation = submitted_generation(user)
    sim.reset_counts()
    return generation


def post_callback(
    generation: Generation, body: bytes, *, secret: str = SECRET, **headers: str
) -> object:
    stamp = str(int(time.time()))
    signed = {
        "HTTP_WEBHOOK_ID": "msg_1",
        "HTTP_WEBHOOK_TIMESTAMP": stamp,
        "HTTP_WEBHOOK_SIGNATURE": sign(secret, "msg_1", stamp, body),
    }
    signed.update(headers)
    url = reverse("upstream_callback", args=[generation.pk, generation.callback_token])
    return Client().post(url, body, content_type="application/json", **signed)


def task_body(sim: Simulator, generation: Generation) -> bytes:
    return json.dumps(sim.task_object(sim.tasks_for(str(generation.pk))[0])).encode()


def test_it_matches_the_standard_webhooks_test_vector() -> None:
    assert sign(SECRET, "9876543210", 1781080794, VECTOR_BODY) == VECTOR_SIGNATURE
    verify(SECRET, "9876543210", "1781080794", VECTOR_SIGNATURE, VECTOR_BODY, now=1781080794)
    rotated = f"v1,b2xkLXNpZ25hdHVyZQ== {VECTOR_SIGNATURE}"
    verify(SECRET, "9876543210", "1781080794", rotated, VECTOR_BODY, now=1781080794 + 299)


@pytest.mark.parametrize(
    ("body", "now", "signature"),
    [
        (VECTOR_BODY.replace(b"succeeded", b"failed"), 1781080794, VECTOR_SIGNATURE),
        (VECTOR_BODY, 1781080794 + 301, VECTOR_SIGNATURE),
        (VECTOR_BODY, 1781080794 - 301, VECTOR_SIGNATURE),
        (VECTOR_BODY, 1781080794, "v2," + VECTOR_SIGNATURE[3:]),
        (VECTOR_BODY, 1781080794, ""),
    ],
)
def test_it_rejects_tampered_stale_or_missing_signatures(
    body: bytes, now: int, signature: str
) -> None:
    with pytest.raises(WebhookVerificationError):
        verify(SECRET, "9876543210", "1781080794", signature, body, now=now)


def test_a_signed_callback_is_logged_and_triggers_a_poll(
    sim: Simulator, running: Generation
) -> None:
    sim.finish(running.upstream_task_id)
    response = post_callback(running, task_body(sim, running))
    assert response.status_code == 200 and response.json() == {"ok": True}
    running.refresh_from_db()
    assert running.status == Status.SUCCEEDED and running.video
    assert sim.counts["query"] == 1  # the poll, not the callback body, decided
    event = running.events.get(kind="callback")
    assert event.data["task_status"] == "succeed"


def test_a_badly_signed_callback_is_refused_and_polls_nothing(
    sim: Simulator, running: Generation
) -> None:
    response = post_callback(running, task_body(sim, running), secret="whsec_" + "QUJD" * 8)
    assert (
        response.status_code == 401 and "no webhook signature matches" in response.json()["error"]
    )
    assert sim.counts["query"] == 0
    assert running.events.filter(kind="callback").count() == 0
    assert "callback rejected" in running.events.last().message


def test_an_unsigned_callback_is_refused_when_a_secret_is_set(
    sim: Simulator, running: Generation
) -> None:
    url = reverse("upstream_callback", args=[running.pk, running.callback_token])
    response = Client().post(url, task_body(sim, running), content_type="application/json")
    missing = "missing webhook-id, webhook-timestamp or webhook-signature"
    assert response.status_code == 401 and response.json() == {"error": missing}
    assert sim.counts["query"] == 0
    assert not running.events.filter(kind="callback").exists()
    assert running.events.last().message == f"callback rejected: {missing}"


def test_a_wrong_token_is_not_found(sim: Simulator, running: Generation) -> None:
    events = running.events.count()
    url = reverse("upstream_callback", args=[running.pk, "guessed-token"])
    response = Client().post(url, b"{}", content_type="application/json")
    assert response.status_code == 404 and response.json() == {"error": "unknown callback"}
    assert sim.counts["query"] == 0 and running.events.count() == events


def test_it_takes_only_post(sim: Simulator, running: Generation) -> None:
    events = running.events.count()
    url = reverse("upstream_callback", args=[running.pk, running.callback_token])
    assert Client().get(url).status_code == 405
    assert sim.counts["query"] == 0 and running.events.count() == events


def test_without_a_secret_the_token_alone_suffices(sim: Simulator, running: Generation) -> None:
    Provider.objects.filter(pk=running.provider_id).update(webhook_secret_encrypted="")
    url = reverse("upstream_callback", args=[running.pk, running.callback_token])
    response = Client().post(url, task_body(sim, running), content_type="application/json")
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert sim.counts["query"] == 1
    assert running.events.get(kind="callback").data["task_status"] == "submitted"


def test_a_late_stale_callback_changes_nothing(sim: Simulator, running: Generation) -> None:
    stale = task_body(sim, running)  # "submitted", sent before the end but delivered after
    sim.finish(running.upstream_task_id)
    post_callback(running, task_body(sim, running))
    post_callback(running, task_body(sim, running))  # a duplicate
    post_callback(running, stale)
    running.refresh_from_db()
    assert running.status == Status.SUCCEEDED
    assert running.events.filter(kind="callback").count() == 3


@pytest.mark.django_db(transaction=True)
def test_the_simulator_calls_back_a_live_studio(live_server, user, settings) -> None:
    """End to end: real callbacks over HTTP, twice each, signed; the studio polls on each."""
    disable_local_providers()
    settings.STUDIO_PUBLIC_URL = live_server.url
    with Simulator(
        min_seconds=0.5, max_seconds=0.5, webhook_secret=SECRET, callback_mode="twice"
    ) as sim:
        provider = provider_for(sim)
        provider.set_webhook_secret(SECRET)
        provider.save()
        generation = submitted_generation(user)

        def succeeded() -> bool:
            generation.refresh_from_db()
            return generation.status == Status.SUCCEEDED

        assert wait_until(succeeded, timeout=10, step=0.1) and generation.video
        assert all(result == 200 for _, result, _ in sim.callback_log)
        assert generation.events.filter(kind="callback").count() >= 2
