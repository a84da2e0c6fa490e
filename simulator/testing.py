"""Helpers for tests and benchmarks that run the studio against the simulator."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from videos.models import Generation, Provider
from videos.tasks import submit_generation

from .server import Simulator


def provider_kind_for(sim: Simulator) -> str:
    """The provider kind that speaks a simulator's shape (kling-kinds.md §8)."""
    if sim.shape in ("openai-video", "video-generations"):
        return sim.shape
    return Provider.Kind.GATEWAY if sim.gateway else Provider.Kind.KLING


def provider_for(sim: Simulator, name: str = "kling-sim", **fields: Any) -> Provider:
    """A provider row pointing at a running simulator, with its credentials stored encrypted."""
    gateway = sim.gateway
    fields.setdefault("priority", 10)
    fields.setdefault("max_concurrent", 50)
    provider = Provider(
        name=name,
        kind=provider_kind_for(sim),
        base_url=sim.url,
        path_prefix=sim.prefix,
        **fields,
    )
    if gateway:
        provider.set_credentials(api_key=sim.api_key)
    else:
        provider.set_credentials(access_key=sim.access_key, secret_key=sim.secret_key)
    provider.save()
    return provider


def disable_local_providers() -> None:
    """Only the simulator serves: the built-in renderer would otherwise take over on failures."""
    Provider.objects.filter(kind=Provider.Kind.LOCAL).update(enabled=False)


def queued_generation(owner: Any, **fields: Any) -> Generation:
    """A queued text2video generation row, as the form would write it (no job enqueued)."""
    fields.setdefault("prompt", "a paper boat on a rainy street")
    fields.setdefault("model_name", "kling-v1")
    fields.setdefault("cfg_scale", 0.5)
    fields.setdefault("estimated_units", 1)
    return Generation.objects.create(owner=owner, **fields)


def submitted_generation(owner: Any, **fields: Any) -> Generation:
    """A queued generation after its submit job ran (inline), reloaded from the database."""
    generation = queued_generation(owner, **fields)
    submit_generation(generation.pk)
    generation.refresh_from_db()
    return generation


def wait_until(check: Callable[[], bool], timeout: float, step: float = 0.25) -> bool:
    """Call check every step seconds until it is true or timeout passes; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()
