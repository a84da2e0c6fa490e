"""A Hailuo video through the studio's own APIs, served upstream by a gateway (issue 11 "Done
means"): the official openai SDK against the studio with an openai-video simulator behind it,
and the Kling-native route with a video-generations simulator behind it. Each generation
costs exactly one upstream create, and its MP4 ends up in the studio's own storage."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator

import httpx
import openai
import pytest
from django.core.files.storage import default_storage

from simulator import Simulator
from simulator.clip import clip_bytes
from simulator.testing import disable_local_providers, provider_for
from tests.api_helpers import issue
from videos import tasks
from videos.models import Generation, Status

# The live server runs in a thread of this process; Django's async-safety check
# would otherwise refuse ORM calls made from the test while it serves.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
pytestmark = pytest.mark.django_db(transaction=True)

HAILUO = "MiniMax-Hailuo-02"


@pytest.fixture(autouse=True)
def _quiet_deprecations() -> Iterator[None]:
    # The SDK marks its video methods deprecated (the Sora API's shutdown); they still work here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


@pytest.fixture(autouse=True)
def _only_the_gateway(transactional_db: None) -> None:
    disable_local_providers()


def stored_bytes(generation: Generation) -> bytes:
    with default_storage.open(generation.video.name, "rb") as fh:
        return fh.read()


def poll_until_done(pk: int) -> Generation:
    """What the worker's due loop does for this job, until it ends (a few polls at most)."""
    for _ in range(10):
        generation = Generation.objects.get(pk=pk)
        if generation.status in (Status.SUCCEEDED, Status.FAILED):
            return generation
        tasks.poll_generation(pk)
    return Generation.objects.get(pk=pk)


def test_the_openai_sdk_makes_a_hailuo_video_through_an_openai_video_gateway(
    live_server, user
) -> None:
    with Simulator(shape="openai-video") as sim:
        provider = provider_for(sim, name="gw-openai", allowed_models=[HAILUO])
        provider.model_map = {HAILUO: "minimax/hailuo-02"}
        provider.save()
        _key, secret = issue(user, "openai-sdk")
        sdk = openai.OpenAI(
            base_url=live_server.url + "/v1", api_key=secret, max_retries=0, timeout=60
        )
        video = sdk.videos.create(
            prompt="a kite over dunes",
            model=HAILUO,
            seconds="6",  # type: ignore[arg-type]  # Hailuo's durations, not Sora's
            size="1280x720",
        )
        assert video.model == HAILUO and video.seconds == "6"
        generation = poll_until_done(int(video.id))
        assert generation.status == Status.SUCCEEDED, generation.status_message
        done = sdk.videos.retrieve(video.id)
        assert done.status == "completed" and done.error is None
        data = sdk.videos.download_content(video.id).read()
        # The studio serves its own copy: the gateway's MP4, byte for byte, in its storage.
        assert data[4:8] == b"ftyp" and data == clip_bytes() == stored_bytes(generation)
        [task] = sim.tasks
        assert task.body["model"] == "minimax/hailuo-02" and task.body["seconds"] == "6"
        assert sim.counts["create"] == 1  # one upstream create for the one generation


def test_the_kling_native_route_makes_a_hailuo_video_through_a_generations_gateway(
    live_server, user
) -> None:
    with Simulator(shape="video-generations", generations_answer="code") as sim:
        provider_for(sim, name="gw-generic", allowed_models=[HAILUO])
        _key, secret = issue(user, "kling-client")
        client = httpx.Client(
            base_url=live_server.url, headers={"Authorization": f"Bearer {secret}"}, timeout=60
        )
        body = {"model_name": HAILUO, "prompt": "a kite over dunes", "duration": "10"}
        created = client.post("/kling/v1/videos/text2video", json=body)
        assert created.status_code == 200, created.text
        task_id = created.json()["data"]["task_id"]
        generation = poll_until_done(int(task_id))
        assert generation.status == Status.SUCCEEDED, generation.status_message
        answer = client.get(f"/kling/v1/videos/text2video/{task_id}").json()
        assert answer["code"] == 0 and answer["data"]["task_status"] == "succeed"
        url = answer["data"]["task_result"]["videos"][0]["url"]
        assert url.startswith(live_server.url)  # the studio's copy, not the gateway's link
        data = client.get(url).content
        assert data[4:8] == b"ftyp" and data == stored_bytes(generation)
        [task] = sim.tasks
        assert task.body["model"] == HAILUO and task.body["duration"] == 10
        assert sim.counts["create"] == 1


def test_a_gateway_failure_reason_reaches_the_sdk(live_server, user) -> None:
    with Simulator(shape="openai-video") as sim:
        provider_for(sim, name="gw-openai", allowed_models=[HAILUO])
        _key, secret = issue(user, "openai-sdk")
        sdk = openai.OpenAI(base_url=live_server.url + "/v1", api_key=secret, max_retries=0)
        video = sdk.videos.create(prompt="sim:fail a kite", model=HAILUO, seconds="6")  # type: ignore[arg-type]
        generation = poll_until_done(int(video.id))
        assert generation.status == Status.FAILED
        failed = sdk.videos.retrieve(video.id)
        assert failed.status == "failed" and failed.error is not None
        assert generation.status_message and generation.status_message in failed.error.message
        assert sim.counts["create"] == 1
