"""new-api-style video gateways (kling-kinds.md §8b): POST /v1/video/generations and
GET /v1/video/generations/{task_id}. A pure HTTP adapter: the strict Kling body the jobs
prepared becomes the generic body (§2 fields, plus seconds and size, which new-api reads),
and every answer shape of §8b is read back (flat, {"code": "success", "data": …}, Seedance).
"""

from __future__ import annotations

from typing import Any

from .base import TaskState, UpstreamRequest
from .gateway import GatewayClient, parse_answer, size_for


class VideoGenerationsClient(GatewayClient):
    """One new-api-style gateway (/v1/video/generations)."""

    label = "video-generations"

    def body(self, request: UpstreamRequest) -> dict[str, Any]:
        kling = request.body
        meta = self.metadata(request)
        width, height = size_for(meta["aspect_ratio"], meta["mode"])
        body: dict[str, Any] = {
            "model": kling.get("model_name") or kling.get("model"),
            "prompt": kling.get("prompt", ""),
            # §8d: an integer outside Kling ("5.0" may fail an int parser); seconds a string.
            "duration": int(meta["duration"]),
            "seconds": meta["duration"],
            "width": width,
            "height": height,
            "size": f"{width}x{height}",
            "metadata": meta,
        }
        if kling.get("image"):
            body["image"] = kling["image"]
        return body

    def submit(self, request: UpstreamRequest) -> TaskState:
        self.check_request(request)
        answer, _ = self.call("POST", "/v1/video/generations", json=self.body(request), create=True)
        return self.accepted(answer)

    def fetch(self, kind: str, task_id: str) -> TaskState:
        answer, _ = self.call("GET", f"/v1/video/generations/{task_id}")
        state = parse_answer(answer)
        state.task_id = state.task_id or task_id
        return state
