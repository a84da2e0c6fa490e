"""Admin troubleshooting: poll now, retry as new, mark failed, provider test; health notices."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.admin.models import LogEntry
from django.test import RequestFactory
from django.urls import reverse

from simulator import Simulator
from simulator.testing import (
    disable_local_providers,
    provider_for,
    submitted_generation,
)
from videos.context_processors import unhealthy_providers
from videos.models import Generation, Provider, Status

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def no_local_fallback(db: None) -> None:
    disable_local_providers()


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(min_seconds=600, max_seconds=600) as running:
        yield running


@pytest.fixture
def provider(sim: Simulator) -> Provider:
    return provider_for(sim)


@pytest.fixture
def running(provider: Provider, user) -> Generation:
    generation = submitted_generation(user)
    return generation


def test_poll_now_asks_the_upstream_and_returns_the_panel(staff_client, sim, running) -> None:
    sim.finish(running.upstream_task_id)
    response = staff_client.post(reverse("troubleshoot_poll", args=[running.pk]), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and 'id="troubleshoot"' in html
    assert "Polled" in html and "succeeded" in html
    running.refresh_from_db()
    assert running.status == Status.SUCCEEDED
    assert running.events.filter(
        kind="admin", message__startswith="poll now, asked by root"
    ).exists()


def test_poll_now_without_htmx_goes_back_to_the_page(staff_client, sim, running) -> None:
    sim.reset_counts()
    response = staff_client.post(reverse("troubleshoot_poll", args=[running.pk]))
    assert response.status_code == 302 and response["Location"] == running.get_absolute_url()
    assert sim.counts["query"] == 1  # the poll ran all the same
    assert running.events.filter(kind="admin", message="poll now, asked by root").exists()


def test_the_panel_shows_raw_upstream_answers(staff_client, running) -> None:
    response = staff_client.get(reverse("troubleshoot", args=[running.pk]), **HTMX)
    html = response.content.decode()
    assert "Raw upstream answers" in html and running.upstream_task_id in html
    assert "&#x27;task_status&#x27;: &#x27;submitted&#x27;" in html
    assert "Mark failed" in html and "Poll now" in html


@pytest.mark.parametrize("name", ["troubleshoot_poll", "troubleshoot_retry", "troubleshoot_fail"])
def test_members_cannot_troubleshoot(alice_client, sim, running, name: str) -> None:
    sim.reset_counts()
    response = alice_client.post(reverse(name, args=[running.pk]), {"reason": "x"})
    assert response.status_code == 403
    assert Generation.objects.count() == 1
    running.refresh_from_db()
    assert running.status == Status.SUBMITTED and sim.counts["total"] == 0
    assert not running.events.filter(kind="admin").exists()


def test_anonymous_visitors_are_sent_to_login(client, running) -> None:
    response = client.post(reverse("troubleshoot_retry", args=[running.pk]))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert Generation.objects.count() == 1


def test_retry_makes_a_new_generation_linked_to_the_original(
    staff_client, sim, running, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse("troubleshoot_retry", args=[running.pk]), **HTMX)
    child = Generation.objects.exclude(pk=running.pk).get()
    assert response["HX-Redirect"] == child.get_absolute_url()
    assert (
        child.parent == running and child.prompt == running.prompt and child.owner == running.owner
    )
    assert child.status == Status.SUBMITTED  # queued, then submitted on commit
    assert len(sim.tasks_for(str(child.pk))) == 1
    assert running.events.filter(message__startswith=f"retried as #{child.pk}").exists()


def test_mark_failed_needs_a_reason(staff_client, running) -> None:
    response = staff_client.post(
        reverse("troubleshoot_fail", args=[running.pk]), {"reason": " "}, **HTMX
    )
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    running.refresh_from_db()
    assert running.status == Status.SUBMITTED


def test_mark_failed_fails_with_the_admins_reason(staff_client, running) -> None:
    url = reverse("troubleshoot_fail", args=[running.pk])
    response = staff_client.post(url, {"reason": "upstream lost the task"}, **HTMX)
    assert "Marked failed." in response.content.decode()
    running.refresh_from_db()
    assert running.status == Status.FAILED
    assert running.status_message == "marked failed by an admin: upstream lost the task"
    again = staff_client.post(url, {"reason": "twice"}, **HTMX)
    assert "It is already failed." in again.content.decode()


def test_the_provider_test_button_probes_and_logs(staff_client, staff_user, sim, provider) -> None:
    response = staff_client.post(reverse("provider_test", args=[provider.pk]))
    assert response["Location"] == reverse("admin:videos_provider_change", args=[provider.pk])
    provider.refresh_from_db()
    assert provider.healthy and provider.health_message.startswith("answered a list query")
    entry = LogEntry.objects.get(object_id=str(provider.pk))
    assert entry.user == staff_user and entry.change_message.startswith("Tested: OK")
    assert sim.counts["list"] == 1


def test_members_cannot_test_providers(alice_client, sim, provider) -> None:
    assert alice_client.post(reverse("provider_test", args=[provider.pk])).status_code == 403
    assert sim.counts["list"] == 0 and not LogEntry.objects.exists()


def test_the_admin_shows_the_test_button_and_masked_credentials(
    staff_client, sim, provider
) -> None:
    html = staff_client.get(
        reverse("admin:videos_provider_change", args=[provider.pk])
    ).content.decode()
    assert reverse("provider_test", args=[provider.pk]) in html and 'formaction="' in html
    assert sim.secret_key not in html and "sim-…ey" in html


def test_the_admin_action_tests_selected_providers(staff_client, sim, provider) -> None:
    provider.set_credentials(
        access_key=sim.access_key, secret_key="wrong-0123456789abcdef0123456789"
    )
    provider.save()
    response = staff_client.post(
        reverse("admin:videos_provider_changelist"),
        {"action": "test_providers", "_selected_action": [provider.pk]},
        follow=True,
    )
    [message] = [str(m) for m in response.context["messages"]]
    assert message.startswith("kling-sim: token invalid")
    provider.refresh_from_db()
    assert not provider.healthy and "code 1002" in provider.health_message
    assert LogEntry.objects.filter(change_message__startswith="Tested: failed").count() == 1


def test_only_admins_are_told_about_unhealthy_providers(provider, staff_user, user) -> None:
    provider.mark_unhealthy("Kling 1102: resource pack used up")
    request = RequestFactory().get("/")
    request.user = staff_user
    assert [p.name for p in unhealthy_providers(request)["unhealthy_providers"]] == ["kling-sim"]
    request.user = user
    assert unhealthy_providers(request) == {}


def test_retry_refuses_parameters_no_longer_valid(staff_client, running) -> None:
    from videos.models import VideoModel

    VideoModel.objects.filter(name=running.model_name).update(enabled=False)
    response = staff_client.post(reverse("troubleshoot_retry", args=[running.pk]), **HTMX)
    assert (
        "Cannot retry" in response.content.decode() and "Unknown model" in response.content.decode()
    )
    assert not Generation.objects.filter(parent=running).exists()
