"""Routing across provider kinds: one model served by a Kling gateway and an OpenAI-style
gateway fails over between them on account-level errors (and only on those)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulator import Simulator
from simulator.testing import disable_local_providers, provider_for, queued_generation
from videos import tasks
from videos.models import Generation, Status

MODEL = "MiniMax-Hailuo-02"


@pytest.fixture(autouse=True)
def no_local_fallback(db: None) -> None:
    disable_local_providers()


@pytest.fixture
def pair() -> Iterator[tuple[Simulator, Simulator]]:
    with (
        Simulator(gateway=True, api_key="kling-gw-key") as kling_gw,
        Simulator(shape="openai-video") as openai_gw,
    ):
        yield kling_gw, openai_gw


def run(generation: Generation) -> Generation:
    tasks.submit_generation(generation.pk)
    generation.refresh_from_db()
    if generation.status in Generation.RUNNING:
        tasks.poll_generation(generation.pk)
        generation.refresh_from_db()
    return generation


def hailuo(user) -> Generation:
    return queued_generation(user, model_name=MODEL, duration=10, cfg_scale=None)


def test_an_exhausted_kling_gateway_hands_the_job_to_the_openai_gateway(pair, user) -> None:
    kling_gw, openai_gw = pair
    first = provider_for(kling_gw, name="kling-gw", priority=1, allowed_models=[MODEL])
    second = provider_for(openai_gw, name="openai-gw", priority=2, allowed_models=[MODEL])
    second.model_map = {MODEL: "minimax/hailuo-02"}
    second.save()
    kling_gw.add_fault("code:1102", on="create")  # the account's balance is used up
    generation = run(hailuo(user))
    assert generation.status == Status.SUCCEEDED, generation.status_message
    assert generation.provider == second
    first.refresh_from_db()
    assert not first.healthy and "1102" in first.health_message
    assert kling_gw.counts["create"] == 1 and not kling_gw.tasks
    [task] = openai_gw.tasks
    assert task.body["model"] == "minimax/hailuo-02" and task.body["seconds"] == "10"


def test_an_out_of_quota_openai_gateway_hands_the_job_to_the_kling_gateway(pair, user) -> None:
    kling_gw, openai_gw = pair
    first = provider_for(openai_gw, name="openai-gw", priority=1)
    second = provider_for(kling_gw, name="kling-gw", priority=2)
    openai_gw.add_fault("quota", on="create")
    generation = run(hailuo(user))
    assert generation.status == Status.SUCCEEDED, generation.status_message
    assert generation.provider == second
    first.refresh_from_db()
    assert not first.healthy and "insufficient quota" in first.health_message
    [task] = kling_gw.tasks_for(str(generation.pk))  # the Kling gateway takes our external id
    assert task.body["model_name"] == MODEL and task.body["duration"] == "10"


def test_a_revoked_key_fails_over_too(pair, user) -> None:
    kling_gw, openai_gw = pair
    first = provider_for(openai_gw, name="openai-gw", priority=1)
    first.set_credentials(api_key="revoked")
    first.save()
    second = provider_for(kling_gw, name="kling-gw", priority=2)
    generation = run(hailuo(user))
    assert generation.status == Status.SUCCEEDED, generation.status_message
    assert generation.provider == second
    first.refresh_from_db()
    assert not first.healthy


def test_a_bad_request_is_not_an_account_problem_and_does_not_fail_over(pair, user) -> None:
    kling_gw, openai_gw = pair
    first = provider_for(openai_gw, name="openai-gw", priority=1)
    provider_for(kling_gw, name="kling-gw", priority=2)
    generation = run(queued_generation(user, model_name="sim-missing-model"))
    assert generation.status == Status.FAILED and "does not exist" in generation.status_message
    first.refresh_from_db()
    assert first.healthy and not kling_gw.counts["create"]
