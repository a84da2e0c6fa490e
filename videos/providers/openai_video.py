"""OpenAI-style video gateways (kling-kinds.md §8a): POST /v1/videos, GET /v1/videos/{id},
GET /v1/videos/{id}/content. A pure HTTP adapter: it translates the strict Kling body the
jobs prepared into OpenAI's fields plus new-api's metadata, and reads the Video objects back.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any

from .base import TaskState, UpstreamRequest
from .gateway import GatewayClient, parse_answer, poll_after, size_for


class OpenAIVideoClient(GatewayClient):
    """One OpenAI-style gateway: multipart when a first frame goes along, JSON otherwise."""

    label = "openai-video"

    def fields(self, request: UpstreamRequest) -> dict[str, Any]:
        """OpenAI's fields: model, prompt, seconds (a string), size "WxH", metadata (§8a)."""
        body = request.body
        meta = self.metadata(request)
        width, height = size_for(meta["aspect_ratio"], meta["mode"])
        fields: dict[str, Any] = {
            "model": body.get("model_name") or body.get("model"),
            "prompt": body.get("prompt", ""),
            "seconds": meta["duration"],
            "size": f"{width}x{height}",
            "metadata": meta,
        }
        return fields

    def submit(self, request: UpstreamRequest) -> TaskState:
        self.check_request(request)
        fields = self.fields(request)
        frame = request.files.get("image")
        if frame and request.body.get("image"):
            # multipart/form-data: the first frame as the input_reference file part, the
            # metadata as a JSON string (§8a).
            form = {**fields, "metadata": json.dumps(fields["metadata"])}
            ctype = mimetypes.guess_type(frame)[0] or "image/png"
            with open(frame, "rb") as fh:
                files = {"input_reference": (Path(frame).name, fh.read(), ctype)}
            answer, _ = self.call("POST", "/v1/videos", data=form, files=files, create=True)
        else:
            answer, _ = self.call("POST", "/v1/videos", json=fields, create=True)
        return self.accepted(answer)

    def content_url(self, task_id: str) -> str:
        return f"{self.base}/v1/videos/{task_id}/content?variant=video"

    def fetch(self, kind: str, task_id: str) -> TaskState:
        """GET /v1/videos/{id}; a finished video without a URL is fetched from the content
        endpoint at once (a proxy's copy dies with the upstream's file)."""
        answer, response = self.call("GET", f"/v1/videos/{task_id}")
        state = parse_answer(answer)
        state.task_id = state.task_id or task_id
        state.poll_after = poll_after(response)
        if state.status == "succeeded" and not state.video_url:
            state.video_url = self.content_url(state.task_id)
        return state
