"""What every kind of generation declares: its Kling path segment, inputs and body builder."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..models import Generation

BodyBuilder = Callable[["Generation", dict[str, str], str], dict[str, Any]]


@dataclass(frozen=True)
class KindSpec:
    """One kind (kling-kinds.md §7): Generation.kind holds its name, the Kling path segment.

    input_fields: the generation's stored inputs the body needs; the jobs fetch (URL inputs)
      and stage them as local files before build_body runs.
    build_body(generation, files, upstream_model_name): the strict Kling create body, without
      callback_url and external_task_id (the jobs add those for every kind alike). files
      holds the staged inputs: frames by field ("image"), listed inputs as "image.0" ...
    """

    name: str
    label: str
    input_fields: tuple[str, ...]
    build_body: BodyBuilder
    # The form holding the kind's rules, for the web UI and the API alike; text2video and
    # image2video share videos.forms.GenerationForm (and the API's family translations).
    form_class: type | None = None
    # What the kind's page shows besides its form (videos/views.kind_new), e.g. the scenes.
    page_context: Callable[[], dict[str, Any]] | None = None
    # Uses an account-scoped id (kling-kinds.md §7: video_id, session_id) that exists only
    # on the upstream account that made the parent: the job goes to the parent's provider
    # and nowhere else, never failing over.
    pinned: bool = False
    # Files the jobs stage besides the stored inputs (video-extend: the parent's video, for
    # the local renderer): (generation, workdir) -> {name: local path}.
    stage_extra: Callable[[Generation, str], dict[str, str]] | None = None


def base64_of(path: str | None) -> str:
    """A staged input file as raw Base64, without a data: prefix (§1.4, §6.5)."""
    if not path:
        return ""
    with open(path, "rb") as fh:
        return base64.b64encode(fh.read()).decode()


def takes_cfg_scale(model_name: str, generation: Generation) -> bool:
    """kling-v2.x and later reject cfg_scale (§1.3, §6.5; kling-kinds.md §7.1: v3 never)."""
    if model_name.startswith(("kling-v2", "kling-v3", "kling-video-o1")):
        return False
    entry = generation.catalogue_entry()
    return entry is None or entry.supports_cfg_scale


def prompt_body(generation: Generation, model_name: str) -> dict[str, Any]:
    """The fields text2video and image2video share (§1.3): model, mode, prompts, cfg, duration."""
    body: dict[str, Any] = {"model_name": model_name, "mode": generation.mode}
    if generation.prompt:
        body["prompt"] = generation.prompt
    if generation.negative_prompt:
        body["negative_prompt"] = generation.negative_prompt
    if generation.cfg_scale is not None and takes_cfg_scale(model_name, generation):
        body["cfg_scale"] = generation.cfg_scale
    body["duration"] = str(generation.duration)  # a string on the wire (§1.3)
    if generation.camera_control:
        body["camera_control"] = generation.camera_control
    return body
