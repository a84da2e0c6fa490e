"""Every Kling error code does what kling-api.md §4.2 says: fail, fail over, or wait."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from simulator import Simulator
from simulator.testing import (
    disable_local_providers,
    provider_for,
    queued_generation,
    submitted_generation,
)
from videos import tasks
from videos.models import Generation, Provider, Status

PERMANENT = [1200, 1201, 1202, 1203, 1300, 1301]
PROVIDER_PROBLEMS = [1000, 1001, 1002, 1003, 1004, 1100, 1101, 1102, 1304]


@pytest.fixture(autouse=True)
def no_local_fallback(db: None) -> None:
    disable_local_providers()


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as running:
        yield running


@pytest.fixture
def pair() -> Iterator[tuple[Simulator, Simulator]]:
    with Simulator() as first, Simulator() as second:
        yield first, second


def retry_now(generation: Generation) -> None:
    """The backoff has passed: run the due job again."""
    Generation.objects.filter(pk=generation.pk).update(
        lease_until=None, next_poll_at=timezone.now()
    )
    tasks.submit_generation(generation.pk)


@pytest.mark.parametrize("code", PERMANENT)
def test_it_fails_permanently_with_the_upstream_message(sim: Simulator, user, code: int) -> None:
    provider = provider_for(sim)
    generation = submitted_generation(user, prompt=f"a cat sim:error:{code}")
    assert generation.status == Status.FAILED
    assert generation.status_message.startswith(f"simulated error {code} (code {code}")
    assert sim.counts["create"] == 1
    provider.refresh_from_db()
    assert provider.healthy


@pytest.mark.parametrize("code", PROVIDER_PROBLEMS)
def test_it_marks_the_provider_unhealthy_and_fails_over(pair, user, code: int) -> None:
    first, second = pair
    sick = provider_for(first, "first", priority=1)
    spare = provider_for(second, "second", priority=2)
    first.add_fault(f"code:{code}")
    generation = submitted_generation(user)
    sick.refresh_from_db()
    assert generation.status == Status.SUBMITTED and generation.provider == spare
    assert len(second.tasks_for(str(generation.pk))) == 1 and not first.tasks
    assert not sick.healthy and f"code {code}" in sick.health_message


def test_real_bad_credentials_mark_the_provider_unhealthy(sim: Simulator, user) -> None:
    provider = provider_for(sim)
    provider.set_credentials(
        access_key=sim.access_key, secret_key="wrong-secret-0123456789abcdef0123"
    )
    provider.save()
    generation = submitted_generation(user)
    provider.refresh_from_db()
    assert not provider.healthy and "code 1002" in provider.health_message
    assert generation.status == Status.FAILED
    assert generation.status_message.startswith("no provider could take this job: kling-sim:")


def test_it_fails_over_on_1103_and_fails_when_none_is_left(pair, user) -> None:
    first, second = pair
    provider_for(first, "first", priority=1)
    provider_for(second, "second", priority=2)
    first.add_fault("code:1103")
    moved = submitted_generation(user)
    assert moved.provider.name == "second"
    first.add_fault("code:1103")
    second.add_fault("code:1103")
    stuck = submitted_generation(user)
    assert stuck.status == Status.FAILED
    assert "first: simulated error 1103" in stuck.status_message
    assert "second: simulated error 1103" in stuck.status_message


@pytest.mark.parametrize("fault", ["rate_limit", "concurrency"])
def test_it_waits_and_retries_on_1302_and_1303(sim: Simulator, user, fault: str) -> None:
    provider_for(sim)
    sim.add_fault(fault)
    generation = submitted_generation(user)
    assert generation.status == Status.QUEUED and generation.status_message == ""
    assert generation.next_poll_at > timezone.now()  # backing off, not hammering
    assert generation.create_provider is None  # certainly not created: free to try anywhere
    # The card and the API say why it waits; the status message stays for the outcome.
    assert generation.waiting_message().startswith("waiting for kling-sim: ")
    assert "(code 130" in generation.waiting_reason and generation.waiting_attempts == 1
    retry_now(generation)
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED
    assert generation.waiting_reason == "" and generation.waiting_message() == ""
    assert len(sim.tasks_for(str(generation.pk))) == 1


def test_backoff_grows_exponentially_from_one_second(user) -> None:
    generation = queued_generation(user)
    delays = []
    for attempts in (0, 1, 3, 20):
        generation.attempts = attempts
        delays.append(tasks.backoff_delay(generation))
    assert 0.8 <= delays[0] <= 1.2 and 1.6 <= delays[1] <= 2.4 and 6.4 <= delays[2] <= 9.6
    assert delays[3] <= 360


def test_a_5xx_on_a_poll_retries_later(sim: Simulator, user) -> None:
    provider_for(sim)
    generation = submitted_generation(user)
    sim.add_fault("503", on="query")
    tasks.poll_generation(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED and generation.lease_until is None
    assert "code 5001" in generation.events.filter(kind="error").last().message
    tasks.poll_generation(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED


def test_an_auth_error_on_a_poll_marks_the_provider_unhealthy(sim: Simulator, user) -> None:
    provider = provider_for(sim)
    generation = submitted_generation(user)
    sim.add_fault("code:1004", on="query")
    tasks.poll_generation(generation.pk)
    provider.refresh_from_db()
    generation.refresh_from_db()
    assert not provider.healthy and generation.status == Status.SUBMITTED


def test_a_gateway_error_object_is_mapped_like_a_kling_code(user) -> None:
    with Simulator(gateway=True, api_key="gw", shape="openai") as gateway:
        provider_for(gateway)
        gateway.add_fault("code:1301")
        generation = submitted_generation(user)
        assert generation.status == Status.FAILED
        assert generation.status_message == "simulated error 1301 (code 1301, HTTP 400)"


def test_a_provider_probe_reenables_it_when_it_answers_again(sim: Simulator) -> None:
    provider = provider_for(sim)
    provider.mark_unhealthy("code 1102: resource pack used up")
    Provider.objects.filter(pk=provider.pk).update(
        health_checked_at=timezone.now() - timedelta(hours=1)
    )
    tasks.run_due_once()
    provider.refresh_from_db()
    assert provider.healthy and provider.health_message.startswith("answered a list query")
    assert sim.counts["list"] == 1


def test_a_failing_probe_keeps_the_provider_unhealthy(sim: Simulator) -> None:
    provider = provider_for(sim)
    provider.mark_unhealthy("old reason")
    sim.add_fault("code:1101", on="list")
    ok, message = tasks.probe_provider(provider.pk)
    provider.refresh_from_db()
    assert not ok and not provider.healthy and "code 1101" in provider.health_message
