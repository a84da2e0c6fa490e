"""Routing: providers by model and priority, concurrency slots that make jobs wait, JWT reuse."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.utils import timezone

from simulator import Simulator
from simulator.testing import (
    disable_local_providers,
    provider_for,
    submitted_generation,
)
from videos import tasks
from videos.models import Generation, Provider, Status
from videos.providers import kling, upstream_for


@pytest.fixture(autouse=True)
def no_local_fallback(db: None) -> None:
    disable_local_providers()


@pytest.fixture
def pair() -> Iterator[tuple[Simulator, Simulator]]:
    with (
        Simulator(min_seconds=600, max_seconds=600) as first,
        Simulator(min_seconds=600, max_seconds=600) as second,
    ):
        yield first, second


def test_a_full_provider_makes_jobs_wait_instead_of_provoking_1303(pair, user) -> None:
    first, _ = pair
    provider_for(first, "only", max_concurrent=1)
    running = submitted_generation(user)
    waiting = submitted_generation(user)
    assert running.status == Status.SUBMITTED
    assert waiting.status == Status.QUEUED and waiting.create_provider is None
    assert first.counts["create"] == 1  # the second create was never sent
    first.finish(running.upstream_task_id)
    tasks.poll_generation(running.pk)
    waiting.next_poll_at = None
    waiting.save(update_fields=["next_poll_at"])
    tasks.submit_generation(waiting.pk)
    waiting.refresh_from_db()
    assert waiting.status == Status.SUBMITTED and first.counts["create"] == 2


def test_jobs_overflow_to_the_next_provider_by_priority(pair, user) -> None:
    first, second = pair
    provider_for(first, "first", priority=1, max_concurrent=1)
    provider_for(second, "second", priority=2)
    assert [submitted_generation(user).provider.name for _ in range(3)] == [
        "first",
        "second",
        "second",
    ]


def test_a_model_goes_only_to_providers_that_serve_it(pair, user) -> None:
    first, second = pair
    provider_for(first, "v1-only", priority=1, allowed_models=["kling-v1"])
    provider_for(second, "all", priority=2)
    assert submitted_generation(user, model_name="kling-v1-6").provider.name == "all"
    assert submitted_generation(user, model_name="kling-v1").provider.name == "v1-only"


def test_a_chosen_provider_is_the_only_one_tried(pair, user) -> None:
    first, second = pair
    provider_for(first, "first", priority=1)
    chosen = provider_for(second, "second", priority=2)
    generation = submitted_generation(user, provider=chosen)
    assert generation.provider == chosen and first.counts["create"] == 0


def give_up_waiting(generation: Generation) -> None:
    """STUDIO_NO_PROVIDER_FAIL_SECONDS have passed since the job began waiting for a provider."""
    Generation.objects.filter(pk=generation.pk).update(
        waiting_since=timezone.now() - timedelta(seconds=settings.STUDIO_NO_PROVIDER_FAIL_SECONDS),
        next_poll_at=timezone.now(),
        lease_until=None,
    )
    tasks.submit_generation(generation.pk)
    generation.refresh_from_db()


def test_disabled_and_unhealthy_providers_are_skipped(pair, user) -> None:
    first, second = pair
    provider_for(first, "off", priority=1, enabled=False)
    provider_for(second, "sick", priority=2).mark_unhealthy("code 1101")
    generation = submitted_generation(user)
    reason = "every provider serving 'kling-v1' is unhealthy: sick: code 1101"
    assert generation.status == Status.QUEUED  # waits a few minutes for a re-probe to cure it
    assert generation.waiting_message().startswith(  # no attempt made: none to count
        f"waiting for a provider to recover: {reason}, next in "
    )
    give_up_waiting(generation)
    assert generation.status == Status.FAILED and generation.status_message == reason
    assert first.counts["total"] == second.counts["total"] == 0


def test_the_client_reuses_its_jwt_and_renews_it_before_expiry(pair, monkeypatch) -> None:
    first, _ = pair
    client = upstream_for(provider_for(first).config())
    assert client.probe().startswith("answered a list query")
    token = client._authorization()
    assert client._authorization() == token  # cached: no signing per request
    later = time.time() + kling.JWT_LIFETIME - kling.JWT_RENEW_BEFORE + 1  # 5 min before expiry
    with monkeypatch.context() as patched:
        patched.setattr(kling.time, "time", lambda: later)
        renewed = client._authorization()
    claims = jwt.decode(renewed[7:], options={"verify_signature": False})
    assert renewed != token and claims["exp"] == int(later) + 1800


def test_the_local_renderer_is_not_a_silent_fallback_for_real_upstreams(pair, user) -> None:
    first, _ = pair
    Provider.objects.filter(kind=Provider.Kind.LOCAL).update(enabled=True)
    real = provider_for(first, "kling-main", priority=1)
    assert submitted_generation(user).provider == real  # the real upstream takes the job
    real.mark_unhealthy("1101: account in arrears")
    refused = submitted_generation(user)
    assert refused.status == Status.QUEUED and refused.provider is None  # waits, not local
    give_up_waiting(refused)
    assert refused.status == Status.FAILED and refused.provider is None
    assert (
        "every provider serving 'kling-v1' is unhealthy: kling-main: 1101" in refused.status_message
    )


def test_the_local_renderer_serves_models_no_real_upstream_serves(pair, user) -> None:
    first, _ = pair
    Provider.objects.filter(kind=Provider.Kind.LOCAL).update(enabled=True)
    provider_for(first, "v1-only", priority=1, allowed_models=["kling-v1"])
    assert submitted_generation(user, model_name="kling-v1-6").provider.name == "local"
