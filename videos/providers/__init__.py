"""One module per upstream: local (the built-in renderer), kling (official API and gateways)."""

from .base import TaskState, Upstream, UpstreamError, get_upstream

__all__ = ["TaskState", "Upstream", "UpstreamError", "get_upstream"]
