"""Hostile input: malformed requests on every create route answer a clear 4xx and write nothing.

One table of requests over the studio API (Kling-native, generic, OpenAI) and one over the
web form. Every case checks the status, the error shape and the field it names, that no
generation, event, API task or callback row appeared, and that no file was stored.
"""

# The case tables keep one request per line: easier to read and extend than wrapped.
# ruff: noqa: E501

from __future__ import annotations

import base64
import json
import os
import struct
import time
import zlib
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from api.models import ApiTask, CallbackDelivery
from tests.api_helpers import issue
from tests.images import image_bytes
from videos.images import check_frame
from videos.models import Generation, GenerationEvent

KLING_T2V = "/kling/v1/videos/text2video"
KLING_I2V = "/kling/v1/videos/image2video"
ROOT_T2V = "/v1/videos/text2video"
GENERIC = "/v1/video/generations"
OPENAI = "/v1/videos"
FORM = "/generations/new/"
JSON = "application/json"


# ---- hostile images ------------------------------------------------------------------------
def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int, height: int) -> bytes:
    """A ~1 kB PNG whose header declares width × height pixels (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (1 << 20), 9)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def garbled_png() -> bytes:
    """A real PNG whose compressed pixel data was overwritten (checksums recomputed)."""
    raw = image_bytes(640, 360, fmt="PNG")
    at = raw.index(b"IDAT")
    length = struct.unpack(">I", raw[at - 4 : at])[0]
    data = bytearray(raw[at + 4 : at + 4 + length])
    data[10:40] = b"\xff" * 30
    return raw[: at - 4] + _chunk(b"IDAT", bytes(data)) + raw[at + 8 + length :]


JPEG = image_bytes(640, 360)
IMAGES = {
    "bomb": bomb_png(100_000, 100_000),
    "big": bomb_png(8000, 8000),
    "truncated": JPEG[: len(JPEG) // 2],
    "garbled": garbled_png(),
    "gif": image_bytes(640, 360, fmt="GIF"),
    "text": b"<html><script>alert(1)</script></html>" * 10,
    "tiny": image_bytes(100, 100, fmt="PNG"),
    "wide": image_bytes(3000, 300),
    "empty": b"",
}


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


MASK = b64(image_bytes(640, 360, fmt="PNG"))  # the first frame's (JPEG's) aspect
SQUARE_MASK = b64(image_bytes(400, 400, fmt="PNG"))
PATH = [{"x": 10, "y": 10}, {"x": 200, "y": 120}]


def masks(mask: Any, points: Any = PATH) -> list[dict[str, Any]]:
    return [{"mask": mask, "trajectories": points}]


def masks_with_number(number: str, at: int = 0, axis: str = "x") -> str:
    """Valid dynamic_masks JSON text with one point's coordinate spelt `number` (NaN, 1e400)."""
    points = [{"x": 1, "y": 1}, {"x": 2, "y": 2}]
    points[at][axis] = "NUMBER"
    return json.dumps(masks(MASK, points)).replace('"NUMBER"', number)


# ---- the API table ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Req:
    """One malformed API request and what must come back."""

    id: str
    path: str
    body: Any  # dict/list/str → JSON; bytes → sent as is; ("multipart", dict) → a form
    status: int
    code: int | str  # the Kling code, or the OpenAI error code on /v1/videos
    names: str  # what the message (or the OpenAI param) must name
    content_type: str = JSON
    auth: str | None = "key"  # "key", None (no header) or a literal Authorization header
    extra: dict[str, Any] = field(default_factory=dict)


T2V = {"model_name": "kling-v1", "prompt": "a red fox running through snow"}
I2V = {"model_name": "kling-v1", "image": b64(JPEG)}
GEN = {"model": "kling-v1", "prompt": "a red fox running through snow"}
OAI = {"model": "kling-v1", "prompt": "a red fox running through snow"}
HUGE = 41 * 1024 * 1024  # over the 40 MB default STUDIO_MAX_REQUEST_BYTES


def kling(id: str, body: Any, names: str, code: int = 1201, status: int = 400, **kw: Any) -> Req:
    return Req(id, KLING_T2V, body, status, code, names, **kw)


def image(id: str, body: Any, names: str, code: int = 1201, status: int = 400, **kw: Any) -> Req:
    return Req(id, KLING_I2V, body, status, code, names, **kw)


def generic(id: str, body: Any, names: str, code: int = 1201, status: int = 400, **kw: Any) -> Req:
    return Req(id, GENERIC, body, status, code, names, **kw)


def openai(
    id: str, body: Any, names: str, code: str = "invalid_value", status: int = 400, **kw: Any
) -> Req:
    return Req(id, OPENAI, body, status, code, names, **kw)


API_CASES = [
    # -- bodies that are not a JSON object
    kling("bad-json", b'{"prompt": "a fox",', "JSON", 1200),
    kling("json-array", [T2V], "JSON object", 1200),
    kling("json-string", "a fox", "JSON object", 1200),
    kling("json-null", None, "JSON object", 1200),
    kling("not-utf8", b'{"prompt": "\xff\xfe fox"}', "JSON", 1200),
    kling("deep-nesting", b"[" * 100_000 + b"]" * 100_000, "JSON", 1200),
    kling("form-encoded", b"prompt=a+fox", "JSON", 1200, content_type="application/x-www-form-urlencoded"),
    kling("xml", b"<prompt>a fox</prompt>", "JSON", 1200, content_type="application/xml"),
    kling("multipart", ("multipart", {"prompt": "a fox"}), "JSON", 1200),
    kling("empty-body", b"", "prompt"),
    kling("empty-object", {}, "prompt"),
    # -- wrong types and out-of-range values
    kling("prompt-number", {**T2V, "prompt": 12345}, "prompt"),
    kling("prompt-object", {**T2V, "prompt": {"text": "a fox"}}, "prompt"),
    kling("prompt-list", {**T2V, "prompt": ["a", "fox"]}, "prompt"),
    kling("prompt-too-long", {**T2V, "prompt": "x" * 2501}, "prompt"),
    kling("negative-too-long", {**T2V, "negative_prompt": "x" * 2501}, "negative_prompt"),
    kling("duration-word", {**T2V, "duration": "five"}, "duration"),
    kling("duration-fraction", {**T2V, "duration": 5.5}, "duration"),
    kling("duration-bool", {**T2V, "duration": True}, "duration"),
    kling("duration-unlisted", {**T2V, "duration": 7}, "duration"),
    kling("duration-huge", {**T2V, "duration": 10**30}, "duration"),
    kling("duration-negative", {**T2V, "duration": -5}, "duration"),
    kling("duration-infinity", b'{"prompt": "a fox", "duration": Infinity}', "duration"),
    kling("duration-object", {**T2V, "duration": {"seconds": 5}}, "duration"),
    kling("cfg-too-high", {**T2V, "cfg_scale": 2}, "cfg_scale"),
    kling("cfg-word", {**T2V, "cfg_scale": "high"}, "cfg_scale"),
    kling("cfg-nan", b'{"prompt": "a fox", "cfg_scale": NaN}', "cfg_scale"),
    kling("mode-unknown", {**T2V, "mode": "turbo"}, "mode"),
    kling("aspect-unknown", {**T2V, "aspect_ratio": "21:9"}, "aspect_ratio"),
    kling("aspect-list", {**T2V, "aspect_ratio": ["16", "9"]}, "aspect_ratio"),
    kling("camera-out-of-range", {**T2V, "camera_control": {"type": "simple", "config": {"zoom": 20}}}, "camera_control"),
    kling("camera-unknown-type", {**T2V, "camera_control": {"type": "warp"}}, "camera_control"),
    kling("camera-unknown-axis", {**T2V, "camera_control": {"type": "simple", "config": {"warp": 1}}}, "camera_control"),
    kling("camera-not-object", {**T2V, "camera_control": "zoom please"}, "camera_control"),
    kling("camera-config-list", {**T2V, "camera_control": {"type": "simple", "config": [1]}}, "camera_control"),
    kling("callback-javascript", {**T2V, "callback_url": "javascript:alert(1)"}, "callback_url"),
    kling("callback-file", {**T2V, "callback_url": "file:///etc/passwd"}, "callback_url"),
    kling("callback-number", {**T2V, "callback_url": 42}, "callback_url"),
    kling("external-id-too-long", {**T2V, "external_task_id": "x" * 200}, "external_task_id"),
    kling("model-unknown", {**T2V, "model_name": "kling-v9"}, "kling-v9", 1203, 404),
    # The message shows the name escaped ('kling-v1\\u202e'): no spoofing by direction marks.
    kling("model-rtl-override", {**T2V, "model_name": "kling-v1\u202e"}, "'kling-v1\\u202e'", 1203, 404),
    kling("model-zero-width", {**T2V, "model_name": "kling\u200b-v1"}, "'kling\\u200b-v1'", 1203, 404),
    kling("model-list", {**T2V, "model_name": ["kling-v1"]}, "model_name: must be a string"),
    kling("model-surrogate", b'{"prompt": "a fox", "model_name": "kling-v1\\udc80"}', "model_name"),
    kling("external-id-surrogate", b'{"prompt": "a fox", "external_task_id": "\\ud800"}', "external_task_id"),
    kling("external-id-object", {**T2V, "external_task_id": {"id": 1}}, "external_task_id"),
    kling("callback-surrogate", b'{"prompt": "a fox", "callback_url": "https://\\ud800.example/"}', "callback_url"),
    # -- unicode edge cases
    kling("prompt-nul", {**T2V, "prompt": "a fox\u0000 in snow"}, "prompt"),
    kling("prompt-lone-surrogate", b'{"prompt": "a fox \\ud800 in snow"}', "prompt"),
    kling("prompt-lone-low-surrogate", b'{"prompt": "\\udfff"}', "prompt"),
    kling("prompt-only-zero-width", {**T2V, "prompt": "\u200b\u200c\u200d\ufeff"}, "prompt"),
    kling("prompt-only-rtl-marks", {**T2V, "prompt": "\u202e\u200f\u202c"}, "prompt"),
    kling("prompt-emoji-too-long", {**T2V, "prompt": "🦊" * 2501}, "prompt"),
    kling("emoji-prompt-bad-duration", {**T2V, "prompt": "🦊🏔️ a fox ‮", "duration": "🦊"}, "duration"),
    kling("negative-nul", {**T2V, "negative_prompt": "\x00"}, "negative_prompt"),
    # -- unknown fields never rescue or break a bad request
    kling("unknown-fields-and-bad-mode", {**T2V, "owner_id": 1, "status": "succeed", "mode": "x"}, "mode"),
    kling("unknown-huge-field", {**T2V, "junk": "x" * 100_000, "cfg_scale": -1}, "cfg_scale"),
    # -- authentication
    kling("no-key", T2V, "Authorization", 1001, 401, auth=None),
    kling("basic-auth", T2V, "Authorization", 1002, 401, auth="Basic YWxpY2U6cHc="),
    kling("bearer-empty", T2V, "Authorization", 1002, 401, auth="Bearer "),
    kling("bearer-unknown", T2V, "Authorization", 1002, 401, auth="Bearer sk-not-a-key"),
    kling("bearer-nul", T2V, "Authorization", 1002, 401, auth="Bearer \u0000"),
    kling("jwt-garbage", T2V, "Authorization", 1002, 401, auth="Bearer eyJ.eyJ.x"),
    kling("jwt-no-iss", T2V, "Authorization", 1002, 401,
          auth="Bearer eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjl9.c2ln"),  # fmt: skip
    # -- huge bodies
    kling("huge-body", b"{" + b" " * HUGE + b"}", "limit", 1201, 413),
    # -- image2video: Base64, data URIs and the images inside them
    image("image-missing", {"model_name": "kling-v1"}, "image"),
    image("image-bad-base64", {**I2V, "image": "not base64 at all!"}, "image"),
    image("image-base64-spaces", {**I2V, "image": "aGVs bG8="}, "image"),
    image("image-data-uri-html", {**I2V, "image": "data:text/html;base64," + b64(b"<b>x</b>")}, "image"),
    image("image-ftp-url", {**I2V, "image": "ftp://example.com/fox.jpg"}, "image"),
    image("image-url-no-host", {**I2V, "image": "https:///fox.jpg"}, "image"),
    image("image-number", {**I2V, "image": 12345}, "image"),
    image("image-object", {**I2V, "image": {"url": "https://example.com/a.jpg"}}, "image"),
    image("image-text", {**I2V, "image": b64(IMAGES["text"])}, "image"),
    image("image-gif", {**I2V, "image": b64(IMAGES["gif"])}, "image"),
    image("image-tiny", {**I2V, "image": b64(IMAGES["tiny"])}, "image"),
    image("image-wide", {**I2V, "image": b64(IMAGES["wide"])}, "image"),
    image("image-truncated-jpeg", {**I2V, "image": b64(IMAGES["truncated"])}, "image"),
    image("image-garbled-png", {**I2V, "image": b64(IMAGES["garbled"])}, "image"),
    image("image-bomb", {**I2V, "image": b64(IMAGES["bomb"])}, "image"),
    image("image-too-many-pixels", {**I2V, "image": "data:image/png;base64," + b64(IMAGES["big"])}, "image"),
    image("image-over-10mb", {**I2V, "image": "A" * (14 * 1024 * 1024)}, "image"),
    image("image-tail-garbage", {**I2V, "image_tail": "%%%"}, "image_tail"),
    image("static-mask-url", {**I2V, "static_mask": "https://example.com/m.png"}, "static_mask"),
    image("dynamic-masks-object", {**I2V, "dynamic_masks": {"mask": "x"}}, "dynamic_masks"),
    image("dynamic-masks-one-point", {**I2V, "dynamic_masks": [{"mask": "x", "trajectories": [{"x": 1, "y": 1}]}]}, "dynamic_masks"),
    image("dynamic-masks-string-points", {**I2V, "dynamic_masks": [{"mask": "x", "trajectories": [{"x": "a", "y": 1}] * 3}]}, "dynamic_masks"),
    # -- dynamic masks are images, checked like static_mask (kling-api.md §1.4)
    image("dynamic-mask-garbage", {**I2V, "dynamic_masks": masks("not an image!")}, "dynamic_masks"),
    image("dynamic-mask-url", {**I2V, "dynamic_masks": masks("https://example.com/m.png")}, "Base64"),
    image("dynamic-mask-object", {**I2V, "dynamic_masks": masks({"png": MASK})}, "dynamic_masks"),
    image("dynamic-mask-number", {**I2V, "dynamic_masks": masks(12345)}, "dynamic_masks"),
    image("dynamic-mask-text", {**I2V, "dynamic_masks": masks(b64(IMAGES["text"]))}, "dynamic_masks"),
    image("dynamic-mask-gif", {**I2V, "dynamic_masks": masks(b64(IMAGES["gif"]))}, "JPEG or PNG"),
    image("dynamic-mask-bomb", {**I2V, "dynamic_masks": masks(b64(bomb_png(30_000, 30_000)))}, "too many pixels"),
    image("dynamic-mask-big", {**I2V, "dynamic_masks": masks(b64(IMAGES["big"]))}, "too many pixels"),
    image("dynamic-mask-garbled", {**I2V, "dynamic_masks": masks(b64(IMAGES["garbled"]))}, "dynamic_masks"),
    image("dynamic-mask-over-10mb", {**I2V, "dynamic_masks": masks("A" * (14 * 1024 * 1024))}, "dynamic_masks"),
    image("dynamic-mask-aspect", {**I2V, "dynamic_masks": masks(SQUARE_MASK)}, "aspect"),
    image("dynamic-mask-second-bad", {**I2V, "dynamic_masks": masks(MASK) + masks("%%%")}, "dynamic_masks[1]"),
    image("dynamic-mask-bool-point", {**I2V, "dynamic_masks": masks(MASK, [{"x": True, "y": 1}] * 2)}, "dynamic_masks"),
    image("static-mask-aspect", {**I2V, "static_mask": SQUARE_MASK}, "aspect"),
    # -- NaN, Infinity and 1e400 are refused while parsing, by the path of the number
    image("nan-in-trajectory", f'{{"image": "{b64(JPEG)}", "dynamic_masks": {masks_with_number("NaN")}}}'.encode(), "dynamic_masks[0].trajectories[0].x"),
    image("1e400-in-trajectory", f'{{"image": "{b64(JPEG)}", "dynamic_masks": {masks_with_number("1e400", 1, "y")}}}'.encode(), "dynamic_masks[0].trajectories[1].y"),
    kling("minus-infinity-camera", b'{"prompt": "a fox", "camera_control": {"type": "simple", "config": {"zoom": -Infinity}}}', "camera_control.config.zoom"),
    kling("nan-in-unknown-field", b'{"prompt": "a fox", "junk": {"a": [1, NaN]}}', "junk.a[1]"),
    generic("generic-nan-metadata", b'{"model": "kling-v1", "prompt": "a fox", "metadata": {"seed": NaN}}', "metadata.seed"),
    generic("generic-1e400-unknown-field", b'{"model": "kling-v1", "prompt": "a fox", "extras": {"w": 1e400}}', "extras.w"),
    openai("openai-infinity-anywhere", b'{"prompt": "a fox", "extra": [Infinity]}', "extra[0]"),
    image("image-with-text2video-only-model", {**I2V, "model_name": "kling-v9"}, "kling-v9", 1203, 404),
    # -- the same Kling routes at the root
    Req("root-bad-json", ROOT_T2V, b"{", 400, 1200, "JSON"),
    Req("root-lone-surrogate", ROOT_T2V, b'{"prompt": "\\ud83e"}', 400, 1201, "prompt"),
    Req("root-prompt-object", ROOT_T2V, {"prompt": {"$gt": ""}}, 400, 1201, "prompt"),
    # -- the generic route (seed 002)
    generic("generic-bad-json", b"{'model': 'kling-v1'}", "JSON", 1200),
    generic("generic-missing-prompt", {"model": "kling-v1"}, "prompt"),
    generic("generic-width-word", {**GEN, "width": "wide", "height": 720}, "width"),
    generic("generic-width-zero", {**GEN, "width": 0, "height": 720}, "width"),
    generic("generic-height-huge", {**GEN, "width": 1280, "height": 10**9}, "height"),
    generic("generic-duration-word", {**GEN, "duration": "five"}, "duration"),
    generic("generic-metadata-list", {**GEN, "metadata": [1, 2]}, "metadata"),
    generic("generic-metadata-string", {**GEN, "metadata": "mode=pro"}, "metadata"),
    generic("generic-metadata-cfg", {**GEN, "metadata": {"cfg_scale": 5}}, "metadata.cfg_scale"),
    generic("generic-metadata-mode", {**GEN, "metadata": {"mode": "ultra"}}, "metadata.mode"),
    generic("generic-metadata-camera", {**GEN, "metadata": {"camera_control": {"type": "warp"}}}, "camera_control"),
    generic("generic-image-garbage", {**GEN, "image": "!!"}, "image"),
    generic("generic-image-bomb", {**GEN, "image": b64(IMAGES["bomb"])}, "image"),
    generic("generic-prompt-surrogate", b'{"model": "kling-v1", "prompt": "\\udc00"}', "prompt"),
    generic("generic-model-unknown", {**GEN, "model": "sora-2"}, "sora-2", 1203, 404),
    generic("generic-huge-body", b"[" + b"0," * (HUGE // 2) + b"0]", "limit", 1201, 413),
    # -- the OpenAI route, JSON
    openai("openai-bad-json", b"{", "JSON", "invalid_request"),
    openai("openai-json-list", [OAI], "JSON", "invalid_request"),
    openai("openai-missing-prompt", {"model": "kling-v1"}, "prompt"),
    openai("openai-prompt-too-long", {**OAI, "prompt": "x" * 2501}, "prompt"),
    openai("openai-prompt-nul", {**OAI, "prompt": "\x00"}, "prompt"),
    openai("openai-prompt-surrogate", b'{"prompt": "\\ud800\\ud800"}', "prompt"),
    openai("openai-seconds-word", {**OAI, "seconds": "long"}, "seconds"),
    openai("openai-seconds-unlisted", {**OAI, "seconds": "7"}, "seconds"),
    openai("openai-size-word", {**OAI, "size": "big"}, "size"),
    openai("openai-size-zero", {**OAI, "size": "00x00"}, "size"),
    openai("openai-size-zero-height", {**OAI, "size": "1280x00"}, "size"),
    openai("openai-ref-file-id", {**OAI, "input_reference": {"file_id": "file_1"}}, "input_reference"),
    openai("openai-ref-empty-object", {**OAI, "input_reference": {"detail": "x"}}, "input_reference"),
    openai("openai-ref-garbage", {**OAI, "input_reference": {"image_url": "not-a-url"}}, "input_reference"),
    openai("openai-ref-bomb", {**OAI, "input_reference": {"image_url": "data:image/png;base64," + b64(IMAGES["bomb"])}}, "input_reference"),
    openai("openai-model-unknown", {**OAI, "model": "sora-2"}, "model", "not_found", 404),
    openai("openai-no-key", OAI, "", "missing_api_key", 401, auth=None),
    openai("openai-huge-body", b"{" + b" " * HUGE + b"}", "", "request_too_large", 413),
    # -- the OpenAI route, multipart (what the openai SDK sends with a file)
    openai("mp-missing-prompt", ("multipart", {"model": "kling-v1"}), "prompt"),
    openai("mp-seconds-word", ("multipart", {**OAI, "seconds": "abc"}), "seconds"),
    openai("mp-ref-text-file", ("multipart", {**OAI, "input_reference": ("ref.jpg", IMAGES["text"])}), "input_reference"),
    openai("mp-ref-gif", ("multipart", {**OAI, "input_reference": ("ref.gif", IMAGES["gif"])}), "input_reference"),
    openai("mp-ref-bomb", ("multipart", {**OAI, "input_reference": ("ref.png", IMAGES["bomb"])}), "input_reference"),
    openai("mp-ref-empty-file", ("multipart", {**OAI, "input_reference": ("ref.png", b"")}), "input_reference"),
    openai("mp-no-boundary", b"--x\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nfox\r\n--x--\r\n", "", "invalid_request", content_type="multipart/form-data"),
    openai("mp-bad-boundary", b"garbage without any boundary", "", "invalid_request", content_type="multipart/form-data; boundary=\x00\x01"),
    openai("mp-headers-never-end", b"--b\r\nContent-Disposition: form-data; name=\"prompt\"", "prompt", content_type="multipart/form-data; boundary=b"),
    openai("mp-part-without-name", b"--b\r\nContent-Type: text/plain\r\n\r\na fox\r\n--b--\r\n", "prompt", content_type="multipart/form-data; boundary=b"),
    openai("text-plain", b"prompt=a fox", "prompt", content_type="text/plain"),
]  # fmt: skip


def _headers(req: Req, secret: str) -> dict[str, str]:
    if req.auth is None:
        return {}
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}" if req.auth == "key" else req.auth}


def _send(client: Client, req: Req, secret: str) -> Any:
    headers = _headers(req, secret)
    if isinstance(req.body, tuple):  # a real multipart form
        _kind, fields = req.body
        data = {
            k: SimpleUploadedFile(v[0], v[1]) if isinstance(v, tuple) else v
            for k, v in fields.items()
        }
        return client.post(req.path, data, **headers)
    raw = req.body if isinstance(req.body, bytes) else json.dumps(req.body).encode()
    return client.generic("POST", req.path, raw, content_type=req.content_type, **headers)


def snapshot() -> tuple[int, ...]:
    """Row counts that any create would change, and the number of stored files.

    Not kept/: a valid frame of a refused web POST is kept there on purpose for the next
    POST (videos/kept_frames.py), and purged after a day.
    """
    kept = os.path.join(django_settings.MEDIA_ROOT, "kept")
    files = sum(
        len(names)
        for root, _dirs, names in os.walk(django_settings.MEDIA_ROOT)
        if not root.startswith(kept)
    )
    return (
        Generation.objects.count(),
        GenerationEvent.objects.count(),
        ApiTask.objects.count(),
        CallbackDelivery.objects.count(),
        files,
    )


@pytest.fixture
def secret(user: Any) -> str:
    _key, secret = issue(user, requests_per_minute=100_000)
    return secret


@pytest.mark.parametrize("req", API_CASES, ids=[c.id for c in API_CASES])
def test_it_refuses_malformed_api_requests_clearly(req: Req, secret: str, settings: Any) -> None:
    settings.STUDIO_ALLOW_LOOPBACK_URLS = False
    before = snapshot()
    response = _send(Client(raise_request_exception=False), req, secret)
    assert response.status_code == req.status, response.content[:500]
    assert response["Content-Type"].startswith("application/json"), response.content[:300]
    body = response.json()
    if req.path == OPENAI:
        error = body["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["code"] == req.code, error
        assert req.names in f"{error['param']} {error['message']}", error
    else:
        assert set(body) == {"code", "message", "request_id"}, body
        assert body["code"] == req.code, body
        assert req.names in body["message"], body
    assert snapshot() == before


def test_the_table_covers_every_create_route_with_at_least_fifty_cases() -> None:
    paths = {c.path for c in API_CASES}
    assert {KLING_T2V, KLING_I2V, ROOT_T2V, GENERIC, OPENAI} <= paths
    multipart = [c for c in API_CASES if c.path == OPENAI and isinstance(c.body, tuple)]
    assert len(API_CASES) + len(FORM_CASES) >= 50 and len(multipart) >= 3


def test_fields_that_try_to_set_server_state_are_ignored(secret: str, other_user: Any) -> None:
    body = {
        **T2V,
        "owner_id": other_user.pk,
        "owner": other_user.pk,
        "status": "succeed",
        "units": "0",
        "video": "../../etc/passwd",
        "id": 1,
        "task_id": "1",
        "provider": 999,
        "api_key": None,
    }
    response = Client().post(
        KLING_T2V, json.dumps(body), content_type=JSON, HTTP_AUTHORIZATION=f"Bearer {secret}"
    )
    assert response.status_code == 200, response.content
    generation = Generation.objects.get()
    assert generation.owner.username == "alice" and generation.status == "queued"
    assert not generation.video and generation.pk != 1 and generation.api_key is not None


def test_legitimate_unicode_prompts_are_kept_exactly(secret: str) -> None:
    prompt = "🦊 a fox שועל in snow \u200d 雪の中の狐 🏔️"
    response = Client().post(
        KLING_T2V,
        json.dumps({**T2V, "prompt": prompt}),
        content_type=JSON,
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 200, response.content
    assert Generation.objects.get().prompt == prompt


# ---- the web form ---------------------------------------------------------------------------
@dataclass(frozen=True)
class FormReq:
    """One malformed web form POST; the form comes back with the error next to the field."""

    id: str
    data: dict[str, Any]
    field: str
    text: str


BASE = {"kind": "text2video", "model_name": "kling-v1", "prompt": "a fox", "duration": "5"}
I2V_FORM = {**BASE, "kind": "image2video", "prompt": ""}


def frame(raw: bytes, name: str = "frame.jpg") -> tuple[str, bytes]:
    return (name, raw)


FORM_CASES = [
    FormReq("form-no-prompt", {**BASE, "prompt": ""}, "prompt", "A prompt is required."),
    FormReq("form-blank-prompt", {**BASE, "prompt": "   \t\n "}, "prompt", "A prompt is required."),
    FormReq("form-zero-width-prompt", {**BASE, "prompt": "\u200b\u2060\ufeff"}, "prompt", "A prompt is required."),
    FormReq("form-nul-prompt", {**BASE, "prompt": "a\x00fox"}, "prompt", "Null characters are not allowed."),
    FormReq("form-prompt-too-long", {**BASE, "prompt": "🦊" * 2501}, "prompt", "at most 2500 characters"),
    FormReq("form-duration-word", {**BASE, "duration": "five"}, "duration", "Enter a whole number."),
    FormReq("form-duration-unlisted", {**BASE, "duration": "7"}, "duration", "supports durations of 5, 10"),
    FormReq("form-cfg-high", {**BASE, "cfg_scale": "5"}, "cfg_scale", "less than or equal to 1"),
    FormReq("form-cfg-nan", {**BASE, "cfg_scale": "NaN"}, "cfg_scale", "Enter a number."),
    FormReq("form-camera-inf", {**BASE, "camera_type": "simple", "camera_zoom": "inf"}, "camera_zoom", "Enter a number."),
    FormReq("form-camera-no-axis", {**BASE, "camera_type": "simple"}, "camera_type", "exactly one non-zero axis"),
    FormReq("form-mode-unknown", {**BASE, "mode": "ultra"}, "mode", "Select a valid choice"),
    FormReq("form-aspect-unknown", {**BASE, "aspect_ratio": "21:9"}, "aspect_ratio", "Select a valid choice"),
    FormReq("form-model-unknown", {**BASE, "model_name": "kling-v9\u202e"}, "model_name", "Unknown model"),
    FormReq("form-kind-unknown", {**BASE, "kind": "video2video"}, "kind", "Select a valid choice"),
    FormReq("form-provider-unknown", {**BASE, "provider": "99999"}, "provider", "Select a valid choice"),
    FormReq("form-provider-word", {**BASE, "provider": "local'--"}, "provider", "Select a valid choice"),
    FormReq("form-i2v-no-frame", I2V_FORM, "image", "needs a first or a last frame"),
    FormReq("form-image-url-js", {**I2V_FORM, "image_url": "javascript:alert(1)"}, "image_url", "Enter a valid URL."),
    FormReq("form-image-text", {**I2V_FORM, "image": frame(IMAGES["text"])}, "image", "not a readable JPEG or PNG"),
    FormReq("form-image-gif", {**I2V_FORM, "image": frame(IMAGES["gif"], "f.png")}, "image", "must be a JPEG or PNG, not GIF"),
    FormReq("form-image-bomb", {**I2V_FORM, "image": frame(IMAGES["bomb"], "f.png")}, "image", "too many pixels"),
    FormReq("form-image-big", {**I2V_FORM, "image": frame(IMAGES["big"], "f.png")}, "image", "too many pixels"),
    FormReq("form-image-truncated", {**I2V_FORM, "image": frame(IMAGES["truncated"])}, "image", "not a readable JPEG or PNG"),
    FormReq("form-image-garbled", {**I2V_FORM, "image": frame(IMAGES["garbled"], "f.png")}, "image", "not a readable JPEG or PNG"),
    FormReq("form-image-tiny", {**I2V_FORM, "image": frame(IMAGES["tiny"], "f.png")}, "image", "at least 300 px"),
    FormReq("form-image-empty", {**I2V_FORM, "image": frame(IMAGES["empty"])}, "image", "empty"),
    FormReq("form-dynamic-masks-json", {**I2V_FORM, "image": frame(JPEG), "dynamic_masks": "{bad"}, "dynamic_masks", "Enter a valid JSON."),
    FormReq("form-dynamic-masks-nan", {**I2V_FORM, "image": frame(JPEG), "dynamic_masks": masks_with_number("NaN")}, "dynamic_masks", "[0].trajectories[0].x must be a finite number"),
    FormReq("form-dynamic-masks-1e400", {**I2V_FORM, "image": frame(JPEG), "dynamic_masks": masks_with_number("1e400")}, "dynamic_masks", "must be a finite number"),
    FormReq("form-dynamic-masks-infinity", {**I2V_FORM, "image": frame(JPEG), "dynamic_masks": masks_with_number("-Infinity", 0, "y")}, "dynamic_masks", "must be a finite number"),
    FormReq("form-dynamic-mask-bomb", {**I2V_FORM, "image": frame(JPEG), "dynamic_masks": json.dumps(masks(b64(bomb_png(30_000, 30_000))))}, "dynamic_masks", "too many pixels"),
    FormReq("form-dynamic-mask-url", {**I2V_FORM, "image": frame(JPEG), "dynamic_masks": json.dumps(masks("https://example.com/m.png"))}, "dynamic_masks", "Base64"),
    FormReq("form-dynamic-mask-any-json", {**I2V_FORM, "image": frame(JPEG), "dynamic_masks": json.dumps(masks({"any": ["json"]}))}, "dynamic_masks", "Base64"),
    FormReq("form-dynamic-mask-aspect", {**I2V_FORM, "image": frame(JPEG), "dynamic_masks": json.dumps(masks(SQUARE_MASK))}, "dynamic_masks", "aspect ratio"),
    FormReq("form-static-mask-aspect", {**I2V_FORM, "image": frame(JPEG), "static_mask": frame(image_bytes(400, 400, fmt="PNG"), "m.png")}, "static_mask", "aspect ratio"),
    FormReq("form-static-mask-text", {**I2V_FORM, "image": frame(JPEG), "static_mask": frame(b"mask")}, "static_mask", "not a readable JPEG or PNG"),
]  # fmt: skip


def field_block(html: str, name: str) -> str:
    """The HTML of one field's wrapper (its input and its errors)."""
    start = html.index(f'id="field-{name}"')
    return html[start : html.index("</div>", start)]


@pytest.mark.parametrize("req", FORM_CASES, ids=[c.id for c in FORM_CASES])
def test_it_refuses_malformed_form_posts_next_to_the_field(
    req: FormReq, alice_client: Client
) -> None:
    before = snapshot()
    data = {
        k: SimpleUploadedFile(v[0], v[1]) if isinstance(v, tuple) else v
        for k, v in req.data.items()
    }
    response = alice_client.post(FORM, data)
    html = response.content.decode()
    assert response.status_code == 200 and 'id="generation-form"' in html
    assert req.field in html and f'id="field-{req.field}"' in html, f"no {req.field} field shown"
    assert req.text in field_block(html, req.field), field_block(html, req.field)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (
            b'--b\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nfox',
            "multipart/form-data; boundary=b",
        ),
        (b"junk", "multipart/form-data"),
        (b"\xff\xfe\x00prompt=\xff", "application/x-www-form-urlencoded"),
        (b'{"prompt": "a fox"}', JSON),
    ],
    ids=["truncated-multipart", "no-boundary", "bad-bytes", "json-to-a-form"],
)
def test_broken_form_bodies_are_a_clear_answer_not_a_crash(
    alice_client: Client, body: bytes, content_type: str
) -> None:
    before = snapshot()
    client = alice_client
    client.raise_request_exception = False
    response = client.generic("POST", FORM, body, content_type=content_type)
    assert response.status_code in (200, 400), response.status_code
    if response.status_code == 200:  # the form again, saying what is wrong
        html = response.content.decode()
        assert 'id="generation-form"' in html and 'class="error" role="alert"' in html
    assert snapshot() == before


def test_a_huge_form_post_is_refused_before_it_is_read(alice_client: Client) -> None:
    before = snapshot()
    response = alice_client.generic(
        "POST", FORM, b"prompt=" + b"x" * HUGE, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413 and b"the limit is" in response.content
    assert snapshot() == before


# ---- images: verified by decoding, bombs refused before any allocation ------------------------------
def test_a_decompression_bomb_is_refused_quickly_without_allocating_it() -> None:
    raw = IMAGES["bomb"]
    assert len(raw) < 2000  # a kilobyte that declares 10 billion pixels (30 GB of RGB)
    started = time.perf_counter()
    with pytest.raises(ValidationError) as caught:
        check_frame(BytesIO(raw), len(raw), "first frame")
    elapsed = time.perf_counter() - started
    assert caught.value.code == "pixels" and "too many pixels" in caught.value.messages[0]
    assert elapsed < 0.5


def test_an_image_just_over_the_pixel_limit_is_refused_from_its_header(monkeypatch: Any) -> None:
    raw = IMAGES["big"]  # 8000 × 8000 = 64 Mpx declared, over the 40 Mpx limit
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("decoded pixels"))
    with pytest.raises(ValidationError) as caught:
        check_frame(BytesIO(raw), len(raw), "first frame")
    assert caught.value.code == "pixels" and "8000×8000" in caught.value.messages[0]


def test_a_real_image_named_like_anything_is_accepted_by_its_content() -> None:
    raw = image_bytes(640, 360, fmt="PNG")
    assert check_frame(BytesIO(raw), len(raw), "first frame") == (640, 360, "png")


# ---- what is accepted is what is sent --------------------------------------------------------
def test_a_valid_dynamic_mask_is_stored_as_plain_base64_with_only_its_known_keys(
    secret: str,
) -> None:
    body = {
        **I2V,
        "dynamic_masks": [
            {
                "mask": "data:image/png;base64," + MASK,
                "trajectories": [{"x": 10, "y": 10, "z": 9}, {"x": 200.5, "y": 120}],
                "note": {"anything": ["at", "all"]},
            }
        ],
    }
    response = Client().post(
        KLING_I2V, json.dumps(body), content_type=JSON, HTTP_AUTHORIZATION=f"Bearer {secret}"
    )
    assert response.status_code == 200, response.content[:300]
    stored = Generation.objects.get().dynamic_masks
    assert stored == [{"mask": MASK, "trajectories": [{"x": 10, "y": 10}, {"x": 200.5, "y": 120}]}]


# ---- the upstream's callback route takes JSON too --------------------------------------------
@pytest.mark.parametrize(
    "raw",
    [b'{"task_id": "1", "a": NaN}', b'{"a": [1e400]}', b'{"msg": "\\ud800"}', b"-Infinity"],
    ids=["nan", "1e400", "lone-surrogate", "bare-infinity"],
)
def test_an_upstream_callback_with_what_json_cannot_store_is_logged_as_text(
    raw: bytes, make_generation: Any
) -> None:
    running = make_generation(status="submitted", callback_token="t0k3n")
    client = Client(raise_request_exception=False)
    url = f"/upstream/callback/{running.pk}/t0k3n/"
    response = client.post(url, raw, content_type=JSON)
    assert response.status_code == 200, response.content[:300]
    event = running.events.get(kind="callback")
    assert event.data == {"unparsed": raw.decode()}
