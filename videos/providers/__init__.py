"""One module per upstream (local: the built-in renderer; kling: the official API and gateways),
all behind one interface (base.py); fetch.py guards the URLs users give us."""

from .base import (
    Face,
    FaceSession,
    ProviderConfig,
    TaskState,
    Upstream,
    UpstreamError,
    UpstreamRequest,
    upstream_for,
)

__all__ = [
    "Face",
    "FaceSession",
    "ProviderConfig",
    "TaskState",
    "Upstream",
    "UpstreamError",
    "UpstreamRequest",
    "upstream_for",
]
