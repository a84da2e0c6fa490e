"""One module per upstream, all behind one interface (base.py), and the registry that picks one.

local: the built-in renderer; kling: the official API and Kling-shaped gateways; openai_video and
video_generations: gateways spoken in their own shape (kling-kinds.md §8, shared parts in
gateway.py); fetch.py guards the URLs users give us; webhooks.py signs what we send.
Adding a provider kind: its module here and its entry in ADAPTERS.
"""

import threading
from collections.abc import Callable
from typing import Any

from .base import (
    FEATURES,
    Face,
    FaceSession,
    ProviderConfig,
    ResourcePack,
    TaskState,
    Upstream,
    UpstreamError,
    UpstreamRequest,
    cannot_do,
    wanted_features,
)
from .kling import KlingClient, KlingGatewayClient
from .local import LocalUpstream
from .openai_video import OpenAIVideoClient
from .video_generations import VideoGenerationsClient

# Provider.kind -> its adapter. Kling-shaped gateways speak Kling's routes with fewer features.
ADAPTERS: dict[str, Callable[[ProviderConfig], Upstream]] = {
    "local": LocalUpstream,
    "kling": KlingClient,
    "kling-gateway": KlingGatewayClient,
    "openai-video": OpenAIVideoClient,
    "video-generations": VideoGenerationsClient,
}

_clients: dict[int, tuple[tuple[Any, ...], Upstream]] = {}
_clients_lock = threading.Lock()


def upstream_for(config: ProviderConfig) -> Upstream:
    """The adapter that speaks this provider's protocol, reused while its settings stay the same.

    Reuse keeps HTTP connections (and a Kling JWT) alive between jobs in one worker.
    """
    key = config.cache_key()
    with _clients_lock:
        cached = _clients.get(config.pk)
        if cached is not None and cached[0] == key:
            return cached[1]
        if cached is not None:
            close = getattr(cached[1], "close", None)
            if close is not None:
                close()
        upstream = ADAPTERS.get(config.kind, KlingClient)(config)
        _clients[config.pk] = (key, upstream)
        return upstream


def kind_cannot_do(provider_kind: str, kind: str, wanted: set[str]) -> set[str]:
    """What of a create a provider kind's adapter does not declare it can do (empty: all)."""
    return cannot_do(ADAPTERS.get(provider_kind, KlingClient), kind, wanted)


__all__ = [
    "ADAPTERS",
    "Face",
    "FaceSession",
    "FEATURES",
    "cannot_do",
    "kind_cannot_do",
    "wanted_features",
    "ProviderConfig",
    "ResourcePack",
    "TaskState",
    "Upstream",
    "UpstreamError",
    "UpstreamRequest",
    "upstream_for",
]
