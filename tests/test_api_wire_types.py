"""Every field of every create body has one JSON type: any other is a 400 naming the field.

Nothing is turned into text with str() ({"a": [1]} stored as the prompt "{'a': [1]}"), and a
JSON true is not the number 1. The table below is written out by hand from kling-api.md and
the published schema, not read from the code, so a field the code forgets is caught here.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest
from django.test import Client

from tests.api_helpers import issue
from tests.images import image_bytes
from videos.models import Generation

pytestmark = pytest.mark.django_db

FRAME = base64.b64encode(image_bytes(640, 360)).decode()
MASK = base64.b64encode(image_bytes(640, 360, fmt="PNG")).decode()

# One JSON value of each kind; a field gets every kind it does not accept.
KINDS: dict[str, Any] = {
    "string": "12345",
    "number": 12345,
    "fraction": 0.5,  # a number, but not an integer
    "boolean": True,
    "array": [1],
    "object": {"a": [1]},
}
ACCEPTS = {  # what each declared type accepts among KINDS
    "string": {"string"},
    "number": {"number", "fraction"},
    "integer": {"number"},
    "array": {"array"},
    "object": {"object"},
}

KLING_T2V = {"model_name": "kling-v1", "prompt": "a red kite over dunes"}
KLING_CAMERA = {**KLING_T2V, "camera_control": {"type": "simple", "config": {"zoom": 5}}}
KLING_I2V = {
    "model_name": "kling-v1",
    "image": FRAME,
    "dynamic_masks": [{"mask": MASK, "trajectories": [{"x": 1, "y": 1}, {"x": 9, "y": 9}]}],
}
KLING_MULTI = {"model_name": "kling-v1-6", "prompt": "a cat", "image_list": [{"image": FRAME}]}
KLING_OMNI = {
    "prompt": "a cat",
    "image_list": [{"image_url": FRAME, "type": "first_frame"}],
    "element_list": [{"element_id": 1}],
    "video_list": [{"video_url": "https://example.com/a.mp4", "refer_type": "feature"}],
    "multi_prompt": [{"index": 1, "prompt": "a", "duration": "5"}],
}
GENERIC = {"model": "kling-v1", "prompt": "a red kite", "metadata": {"camera_control": {}}}
OPENAI = {"model": "kling-v1", "prompt": "a red kite", "input_reference": {"image_url": FRAME}}

# (route, a valid body, the field's path in it, the JSON types it accepts)
FIELDS: list[tuple[str, dict[str, Any], str, tuple[str, ...]]] = [
    *[
        ("/kling/v1/videos/text2video", KLING_T2V, name, types)
        for name, types in {
            "model_name": ("string",),
            "model": ("string",),
            "prompt": ("string",),
            "negative_prompt": ("string",),
            "cfg_scale": ("number",),
            "mode": ("string",),
            "aspect_ratio": ("string",),
            "duration": ("string", "number"),  # Kling's docs send "5"; clients send 5
            "camera_control": ("object",),
            "callback_url": ("string",),
            "external_task_id": ("string",),
        }.items()
    ],
    ("/v1/videos/text2video", KLING_T2V, "prompt", ("string",)),
    ("/v1/videos/text2video", KLING_T2V, "cfg_scale", ("number",)),
    ("/kling/v1/videos/text2video", KLING_CAMERA, "camera_control.type", ("string",)),
    ("/kling/v1/videos/text2video", KLING_CAMERA, "camera_control.config", ("object",)),
    ("/kling/v1/videos/text2video", KLING_CAMERA, "camera_control.config.zoom", ("number",)),
    *[
        ("/kling/v1/videos/image2video", KLING_I2V, name, types)
        for name, types in {
            "image": ("string",),
            "image_tail": ("string",),
            "static_mask": ("string",),
            "dynamic_masks": ("array",),
            "dynamic_masks[0]": ("object",),
            "dynamic_masks[0].mask": ("string",),
            "dynamic_masks[0].trajectories": ("array",),
            "dynamic_masks[0].trajectories[1]": ("object",),
            "dynamic_masks[0].trajectories[1].x": ("number",),
            "dynamic_masks[0].trajectories[0].y": ("number",),
            "prompt": ("string",),
            "cfg_scale": ("number",),
        }.items()
    ],
    *[
        ("/kling/v1/videos/multi-image2video", KLING_MULTI, name, types)
        for name, types in {
            "model_name": ("string",),
            "prompt": ("string",),
            "negative_prompt": ("string",),
            "image_list": ("array",),
            "image_list[0]": ("object",),
            "image_list[0].image": ("string",),
            "mode": ("string",),
            "duration": ("string", "number"),
            "aspect_ratio": ("string",),
            "watermark_info": ("object",),
        }.items()
    ],
    *[
        ("/kling/v1/videos/omni-video", KLING_OMNI, name, types)
        for name, types in {
            "model_name": ("string",),
            "prompt": ("string",),
            "shot_type": ("string",),
            "multi_prompt": ("array",),
            "multi_prompt[0]": ("object",),
            "multi_prompt[0].index": ("integer",),
            "multi_prompt[0].prompt": ("string",),
            "multi_prompt[0].duration": ("string", "number"),
            "image_list": ("array",),
            "image_list[0]": ("object",),
            "image_list[0].image_url": ("string",),
            "image_list[0].type": ("string",),
            "element_list": ("array",),
            "element_list[0]": ("object",),
            "element_list[0].element_id": ("integer", "string"),
            "video_list": ("array",),
            "video_list[0]": ("object",),
            "video_list[0].video_url": ("string",),
            "video_list[0].refer_type": ("string",),
            "video_list[0].keep_original_sound": ("string",),
            "sound": ("string",),
            "mode": ("string",),
            "aspect_ratio": ("string",),
            "duration": ("string", "number"),
        }.items()
    ],
    *[
        ("/v1/video/generations", GENERIC, name, types)
        for name, types in {
            "model": ("string",),
            "prompt": ("string",),
            "image": ("string",),
            "duration": ("number",),
            "width": ("integer",),
            "height": ("integer",),
            "metadata": ("object",),
            "metadata.mode": ("string",),
            "metadata.cfg_scale": ("number",),
            "metadata.aspect_ratio": ("string",),
            "metadata.negative_prompt": ("string",),
            "metadata.camera_control": ("object",),
            "callback_url": ("string",),
        }.items()
    ],
    *[
        ("/v1/videos", OPENAI, name, types)
        for name, types in {
            "prompt": ("string",),
            "model": ("string",),
            "seconds": ("string", "number"),
            "size": ("string",),
            "input_reference": ("object", "string"),
            "input_reference.image_url": ("string",),
        }.items()
    ],
]


def _set(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of body with the value at a path like "a.b[0].c" replaced."""
    body = copy.deepcopy(body)
    keys = [
        int(k) if k.isdigit() else k for k in path.replace("[", ".").replace("]", "").split(".")
    ]
    target = body
    for key in keys[:-1]:
        target = target[key]
    if isinstance(target, dict) or keys[-1] < len(target):
        target[keys[-1]] = value
    return body


CASES = [
    pytest.param(route, body, path, kind, id=f"{route}:{path}={kind}")
    for route, body, path, types in FIELDS
    for kind in KINDS
    if not any(kind in ACCEPTS[t] for t in types)
]


@pytest.fixture
def secret(user: Any) -> str:
    return issue(user, requests_per_minute=100_000)[1]


@pytest.mark.parametrize(("route", "body", "path", "kind"), CASES)
def test_a_field_of_the_wrong_json_type_is_a_400_naming_it(
    route: str, body: dict[str, Any], path: str, kind: str, secret: str
) -> None:
    sent = _set(body, path, KINDS[kind])
    client = Client(raise_request_exception=False)
    response = client.post(
        route, json.dumps(sent), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )  # fmt: skip
    assert response.status_code == 400, (response.status_code, response.content[:300])
    if route == "/v1/videos":
        error = response.json()["error"]
        assert error["code"] == "invalid_value" and error["param"] == path, error
    else:
        answer = response.json()
        assert answer["code"] == 1201 and answer["message"].startswith(f"{path}: "), answer
    assert not Generation.objects.exists()


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("/kling/v1/videos/text2video", KLING_CAMERA),
        ("/kling/v1/videos/image2video", KLING_I2V),
        ("/v1/video/generations", GENERIC),
        ("/v1/videos", OPENAI),
    ],
)
def test_the_valid_bodies_the_table_starts_from_are_accepted(
    route: str, body: dict[str, Any], secret: str
) -> None:
    response = Client().post(
        route, json.dumps(body), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )  # fmt: skip
    assert response.status_code == 200, response.content[:300]
    assert Generation.objects.count() == 1


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("/v1/video/generations", {**GENERIC, "prompt": {"a": [1]}}),
        ("/v1/video/generations", {**GENERIC, "prompt": 12345}),
        ("/v1/videos", {**OPENAI, "prompt": 12345}),
        ("/kling/v1/videos/text2video", {**KLING_T2V, "cfg_scale": True}),
    ],
    ids=["generic-prompt-object", "generic-prompt-number", "openai-prompt-number", "cfg-true"],
)
def test_the_reported_cases_store_nothing(route: str, body: dict[str, Any], secret: str) -> None:
    response = Client().post(
        route, json.dumps(body), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )  # fmt: skip
    assert response.status_code == 400 and not Generation.objects.exists()


def test_null_means_left_out_for_an_optional_field(secret: str) -> None:
    body = {**KLING_T2V, "negative_prompt": None, "cfg_scale": None, "camera_control": None}
    response = Client().post(
        "/kling/v1/videos/text2video", json.dumps(body), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )  # fmt: skip
    assert response.status_code == 200, response.content[:300]
    generation = Generation.objects.get()
    assert generation.negative_prompt == "" and generation.camera_control is None
