"""A dead upstream is visible: refusals, DNS failures and timeouts make a provider unhealthy,
and a job says what it waits for, then fails over or fails with the reason, soon."""

from __future__ import annotations

import html
import re
import socket
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from simulator import Simulator
from simulator.testing import (
    disable_local_providers,
    provider_for,
    submitted_generation,
    wait_until,
)
from tests.api_helpers import bearer, issue, post_json
from videos import tasks
from videos.models import Generation, Provider, Status

T2V = "/kling/v1/videos/text2video"
UNHEALTHY_ALL = "every provider serving 'kling-v1' is unhealthy: "


@pytest.fixture(autouse=True)
def no_local_fallback(db: None) -> None:
    disable_local_providers()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections: bound (no one else takes it), not listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def kling_provider(base_url: str, name: str = "kling-sg", **fields) -> Provider:
    """A Kling provider row as an admin would enter it, pointed at base_url."""
    fields.setdefault("priority", 10)
    fields.setdefault("max_concurrent", 50)
    provider = Provider(name=name, kind=Provider.Kind.KLING, base_url=base_url, **fields)
    provider.set_credentials(access_key="ak-test", secret_key="sk-test-0123456789abcdef0123456789")
    provider.save()
    return provider


def retry_now(generation: Generation) -> None:
    """The backoff has passed: the due loop runs the job's next step again."""
    Generation.objects.filter(pk=generation.pk).update(
        lease_until=None, next_poll_at=timezone.now()
    )
    if generation.status == Status.QUEUED:
        tasks.submit_generation(generation.pk)
    else:
        tasks.poll_generation(generation.pk)
    generation.refresh_from_db()


def card_of(client: Client, generation: Generation) -> str:
    """The generation's card in the gallery, as text with its HTML entities decoded."""
    page = client.get("/").content.decode()
    card = re.search(rf'<article id="card-{generation.pk}".*?</article>', page, re.S).group(0)
    return html.unescape(card)


def status_of(client: Client, generation: Generation) -> str:
    """The status block of the generation's page, with its HTML entities decoded."""
    page = client.get(generation.get_absolute_url()).content.decode()
    block = re.search(r'<div id="generation-status".*?</div>\s*</div>', page, re.S).group(0)
    return html.unescape(block)


def test_a_closed_port_makes_the_provider_unhealthy_after_three_refusals_in_a_row(
    closed_port: int, user, staff_client: Client
) -> None:
    provider = kling_provider(f"http://127.0.0.1:{closed_port}")
    generation = submitted_generation(user)
    provider.refresh_from_db()
    assert generation.status == Status.QUEUED
    assert provider.healthy and provider.consecutive_failures == 1  # one is not an outage
    retry_now(generation)
    retry_now(generation)
    provider.refresh_from_db()
    assert not provider.healthy and provider.consecutive_failures == 3
    assert provider.health_message == "connection refused (3 failures in a row)"
    banner = staff_client.get("/").content.decode()
    assert re.search(
        r"Upstream <a [^>]*>kling-sg</a> is unhealthy: connection refused \(3 failures in a row\)",
        banner,
    )
    rows = staff_client.get("/admin/videos/provider/").content.decode().split("</tr>")
    [row] = [r for r in rows if ">kling-sg<" in r]
    assert 'alt="False"' in row and "connection refused (3 failures in a row)" in row
    assert '<td class="field-consecutive_failures">3</td>' in row


def test_the_card_the_page_and_the_api_say_what_a_job_waits_for_and_why(
    closed_port: int, user, alice_client: Client, client: Client
) -> None:
    kling_provider(f"http://127.0.0.1:{closed_port}")
    _, secret = issue(user)
    body = {"model_name": "kling-v1", "prompt": "a lighthouse in fog", "duration": "5"}
    task_id = post_json(client, T2V, body, secret).json()["data"]["task_id"]
    generation = Generation.objects.get(pk=task_id)
    tasks.submit_generation(generation.pk)
    retry_now(generation)

    waiting = r"waiting for kling-sg: connection refused, 2 attempts, next in \d+ s"
    card = card_of(alice_client, generation)
    assert re.search(waiting, card) and 'data-status="queued"' in card
    assert re.search(waiting, status_of(alice_client, generation))
    data = client.get(f"{T2V}/{task_id}", **bearer(secret)).json()["data"]
    assert data["task_status"] == "submitted" and re.fullmatch(waiting, data["task_status_msg"])


def test_with_every_provider_unhealthy_a_job_fails_with_the_reason_in_minutes(
    closed_port: int, user, settings, client: Client
) -> None:
    """End to end with the due loop: far sooner than STUDIO_STUCK_AFTER_SECONDS (an hour)."""
    settings.STUDIO_POLL_SCALE = 0.01  # backoffs of milliseconds: the loop runs tries at once
    settings.STUDIO_NO_PROVIDER_FAIL_SECONDS = 2
    assert settings.STUDIO_STUCK_AFTER_SECONDS == 3600
    provider = kling_provider(f"http://127.0.0.1:{closed_port}")
    _, secret = issue(user)
    body = {"model_name": "kling-v1", "prompt": "a lighthouse in fog", "duration": "5"}
    task_id = post_json(client, T2V, body, secret).json()["data"]["task_id"]

    def failed() -> bool:
        tasks.run_due_once()
        return Generation.objects.filter(pk=task_id, status=Status.FAILED).exists()

    assert wait_until(failed, timeout=60, step=0.2)
    generation = Generation.objects.get(pk=task_id)
    reason = UNHEALTHY_ALL + "kling-sg: connection refused (3 failures in a row)"
    assert generation.status_message == reason
    provider.refresh_from_db()
    assert not provider.healthy and provider.consecutive_failures == 3  # no tries once sick
    data = client.get(f"{T2V}/{task_id}", **bearer(secret)).json()["data"]
    assert data["task_status"] == "failed" and data["task_status_msg"] == reason


def test_a_job_waits_for_a_sick_provider_only_as_long_as_configured(
    closed_port: int, user, settings, alice_client: Client
) -> None:
    settings.STUDIO_NO_PROVIDER_FAIL_SECONDS = 300
    kling_provider(f"http://127.0.0.1:{closed_port}")
    generation = submitted_generation(user)
    retry_now(generation)
    retry_now(generation)
    retry_now(generation)  # the provider is unhealthy now: nothing is sent, the job waits
    reason = UNHEALTHY_ALL + "kling-sg: connection refused (3 failures in a row)"
    assert generation.status == Status.QUEUED and generation.waiting_attempts == 3
    assert re.search(
        re.escape(f"waiting for a provider to recover: {reason}, 3 attempts, next in ") + r"\d+ s",
        card_of(alice_client, generation),
    )
    assert generation.next_poll_at <= generation.waiting_since + timedelta(seconds=300)
    Generation.objects.filter(pk=generation.pk).update(
        waiting_since=timezone.now() - timedelta(seconds=301)
    )
    retry_now(generation)
    assert generation.status == Status.FAILED and generation.status_message == reason
    assert generation.waiting_message() == ""  # a finished job waits for nothing


def test_a_job_for_a_chosen_provider_that_refuses_fails_with_the_reason_too(
    closed_port: int, user, settings
) -> None:
    settings.STUDIO_NO_PROVIDER_FAIL_SECONDS = 300
    chosen = kling_provider(f"http://127.0.0.1:{closed_port}")
    generation = submitted_generation(user, provider=chosen)
    retry_now(generation)
    retry_now(generation)
    retry_now(generation)  # the chosen provider is unhealthy now: it is not called again
    chosen.refresh_from_db()
    assert chosen.consecutive_failures == 3 and generation.status == Status.QUEUED
    Generation.objects.filter(pk=generation.pk).update(
        waiting_since=timezone.now() - timedelta(seconds=301)
    )
    retry_now(generation)
    assert generation.status == Status.FAILED
    assert generation.status_message == (
        "kling-sg is unhealthy: connection refused (3 failures in a row)"
    )


def test_a_job_goes_on_when_its_provider_answers_again_in_time(user) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    provider = kling_provider(f"http://127.0.0.1:{port}")
    generation = submitted_generation(user)
    retry_now(generation)
    retry_now(generation)
    provider.refresh_from_db()
    assert not provider.healthy and generation.status == Status.QUEUED
    sock.close()
    with Simulator(port=port) as sim:  # the upstream comes back on the same address
        provider.set_credentials(access_key=sim.access_key, secret_key=sim.secret_key)
        provider.health_checked_at = timezone.now() - timedelta(minutes=2)
        provider.save(update_fields=["credentials_encrypted", "health_checked_at"])
        Generation.objects.filter(pk=generation.pk).update(next_poll_at=timezone.now())
        tasks.run_due_once()  # re-probes the provider (once a minute), then submits the job
        provider.refresh_from_db()
        generation.refresh_from_db()
        assert provider.healthy and provider.consecutive_failures == 0
        assert generation.status == Status.SUBMITTED and len(sim.tasks_for(str(generation.pk))) == 1
        assert generation.waiting_reason == "" and generation.waiting_message() == ""


def test_a_refusing_provider_is_failed_over_at_once_then_skipped(closed_port: int, user) -> None:
    dead = kling_provider(f"http://127.0.0.1:{closed_port}", "dead", priority=1)
    with Simulator(min_seconds=600, max_seconds=600) as sim:
        spare = provider_for(sim, "spare", priority=2)
        for _ in range(4):
            generation = submitted_generation(user)
            assert generation.status == Status.SUBMITTED and generation.provider == spare
            assert generation.waiting_reason == ""  # it did not wait: it went elsewhere
        dead.refresh_from_db()
        assert not dead.healthy and dead.consecutive_failures == 3  # the 4th job did not try it
        assert sim.counts["create"] == 4


def test_timeouts_count_toward_health_and_an_answer_resets_the_count(
    user, settings, alice_client: Client
) -> None:
    settings.STUDIO_UPSTREAM_TIMEOUT = 0.3
    with Simulator(slow_seconds=1, min_seconds=600, max_seconds=600) as sim:
        provider = provider_for(sim)
        generation = submitted_generation(user)
        sim.add_fault("slow", on="query", times=2)
        retry_now(generation)
        retry_now(generation)
        provider.refresh_from_db()
        assert provider.healthy and provider.consecutive_failures == 2
        assert re.search(
            r"waiting for kling-sim: no answer within 0.3 s, 2 attempts, next in \d+ s",
            status_of(alice_client, generation),
        )
        retry_now(generation)  # answered
        provider.refresh_from_db()
        assert provider.consecutive_failures == 0 and generation.waiting_reason == ""
        assert "waiting for" not in status_of(alice_client, generation)
        sim.add_fault("slow", on="query", times=3)
        retry_now(generation)
        retry_now(generation)
        provider.refresh_from_db()
        assert provider.healthy  # two in a row, not four: the answer between reset the count
        retry_now(generation)
        provider.refresh_from_db()
        assert not provider.healthy
        assert provider.health_message == "no answer within 0.3 s (3 failures in a row)"
        assert generation.status == Status.SUBMITTED  # a running job keeps being followed


def test_a_running_job_whose_upstream_refuses_says_so_on_its_card(
    closed_port: int, user, alice_client: Client
) -> None:
    with Simulator(min_seconds=600, max_seconds=600) as sim:
        provider = provider_for(sim)
        generation = submitted_generation(user)
        # The upstream is gone from its address (a fresh client: no kept-alive connection).
        Provider.objects.filter(pk=provider.pk).update(base_url=f"http://127.0.0.1:{closed_port}")
        retry_now(generation)
    provider.refresh_from_db()
    assert provider.consecutive_failures == 1 and generation.status == Status.SUBMITTED
    assert re.search(
        r"waiting for kling-sim: connection refused, 1 attempt, next in \d+ s",
        card_of(alice_client, generation),
    )


def test_a_dns_failure_counts_toward_health(user, monkeypatch) -> None:
    real_getaddrinfo = socket.getaddrinfo

    def resolver(host, *args, **kwargs):
        # The name does not exist: what a resolver answers, without asking one on the network.
        if host == "kling.example.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    provider = kling_provider("http://kling.example.invalid", "kling-dns")
    generation = submitted_generation(user)
    assert generation.waiting_reason == "kling-dns: DNS lookup failed for kling.example.invalid"
    retry_now(generation)
    retry_now(generation)
    provider.refresh_from_db()
    assert not provider.healthy
    assert provider.health_message == (
        "DNS lookup failed for kling.example.invalid (3 failures in a row)"
    )


def test_a_failing_probe_of_a_refusing_provider_keeps_it_unhealthy_and_counts(
    closed_port: int,
) -> None:
    provider = kling_provider(f"http://127.0.0.1:{closed_port}")
    for _ in range(3):
        ok, message = tasks.probe_provider(provider.pk)
        assert not ok and message == "connection refused"
    provider.refresh_from_db()
    assert not provider.healthy and provider.consecutive_failures == 3
    assert provider.health_message == "connection refused (3 failures in a row)"
    tasks.probe_provider(provider.pk)
    provider.refresh_from_db()
    assert provider.health_message == "probe failed: connection refused"


def test_no_enabled_provider_for_the_model_fails_at_once(user) -> None:
    generation = submitted_generation(user)  # the local renderer is disabled, nothing else
    assert generation.status == Status.FAILED
    assert generation.status_message == "no enabled provider serves the model 'kling-v1'"
