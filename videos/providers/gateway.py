"""What the non-Kling gateways share (kling-kinds.md §8): Bearer auth, their error shape, and
the tolerant reading of every answer shape they send. openai_video.py and
video_generations.py build on it; each only knows its own routes and bodies.

None of these gateways takes an external task id, and none lists tasks: a create that may
have reached them cannot be looked up, so the jobs never send it again (takes_external_id).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from .base import (
    FaceSession,
    ProviderConfig,
    ResourcePack,
    TaskState,
    UpstreamError,
    UpstreamRequest,
)
from .fetch import USER_AGENT, FetchError
from .kling import (
    _first,
    _progress,
    _retry_after,
    _units,
    normalise_status,
    send,
    split_credentials,
)

# The kinds these gateways serve (§8): §7 kinds are refused locally, never sent.
GATEWAY_KINDS = ("text2video", "image2video")
# Kling body fields a gateway cannot take at all: refused, naming the field, never dropped.
REFUSED_FIELDS = {
    "static_mask": "motion masks (static_mask)",
    "dynamic_masks": "motion masks (dynamic_masks)",
    "voice_list": "voices (voice_list)",
    "multi_prompt": "multi-shot storyboards (multi_prompt)",
    "multi_shot": "multi-shot storyboards (multi_shot)",
}
# §8a: what new-api-style gateways lay from metadata over their Kling body. Never model,
# model_name (a billing bypass) or callback_url (§6.9); unknown keys are dropped there.
METADATA_FIELDS = (
    "negative_prompt",
    "image_tail",
    "camera_control",
    "sound",
    "mode",
    "aspect_ratio",
    "duration",
    "cfg_scale",
)
# §8a: the sizes OpenAI-style gateways know; any other becomes 1:1 there, so the aspect
# ratio always rides in metadata too.
SIZES = {
    ("16:9", "std"): (1280, 720),
    ("16:9", "pro"): (1920, 1080),
    ("9:16", "std"): (720, 1280),
    ("9:16", "pro"): (1080, 1920),
    ("1:1", "std"): (1024, 1024),
    ("1:1", "pro"): (1024, 1024),
}
# §8: "timeout" ends a task, "unknown" leaves it as it was.
EXTRA_STATUS = {"timeout": "failed", "expired": "failed"}


def gateway_status(word: Any) -> str | None:
    if isinstance(word, str) and word.strip().lower() in EXTRA_STATUS:
        return EXTRA_STATUS[word.strip().lower()]
    return normalise_status(word)


def size_for(aspect_ratio: str, mode: str) -> tuple[int, int]:
    """WxH for an aspect ratio: the gateway's own sizes, else 720 on the short side."""
    if (aspect_ratio, mode) in SIZES:
        return SIZES[(aspect_ratio, mode)]
    try:
        w, h = (int(x) for x in aspect_ratio.split(":"))
    except ValueError:
        return SIZES[("16:9", "std")]
    short = 1080 if mode == "pro" else 720
    scale = short / min(w, h)
    return (round(w * scale / 2) * 2, round(h * scale / 2) * 2)


def seconds_of(value: Any) -> float | None:
    """A time in seconds; values above 10^11 are milliseconds (§8 "Times > 10^11 are ms")."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number / 1000 if number > 1e11 else number


def _tokens(task: Any) -> int | None:
    value = _first(task, "usage.completion_tokens", "data.usage.completion_tokens")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def parse_answer(body: Any) -> TaskState:
    """Read a task from any answer shape of §8: flat, {"code": "success", "data": …}, Seedance's
    output.video_url, OpenAI's Video object, the Kling task record inside data."""
    task = body if isinstance(body, dict) else {}
    inner = task.get("data") if isinstance(task.get("data"), dict) else {}
    word = _first(task, "status", "data.status", "task_status", "data.task_status")
    status = gateway_status(word)
    message = _first(
        task,
        "error.message",
        "fail_reason",
        "data.fail_reason",
        "task_status_msg",
        "data.task_status_msg",
        "data.error.message",
    )
    if isinstance(task.get("error"), str):
        message = message or task["error"]
    if status is None and word is not None and str(word).lower() != "unknown":
        message = f"unrecognised upstream status {word!r}; polling again"
    url = _first(
        task,
        "url",
        "result_url",
        "data.result_url",
        "output.video_url",
        "content.video_url",
        "metadata.url",
        "data.url",
        "data.output.video_url",
        "data.task_result.videos.url",
        "task_result.videos.url",
    )
    return TaskState(
        task_id=str(_first(task, "task_id", "id", "data.task_id", "data.id") or ""),
        status=status,
        message=str(message or ""),
        video_url=str(url or ""),
        units=_units(_first(task, "final_unit_deduction", "data.final_unit_deduction")),
        video_id=str(_first(inner, "task_result.videos.id") or ""),
        progress=_progress(_first(task, "progress", "data.progress")),
        tokens=_tokens(task),
        raw=body,
    )


def gateway_error(
    http_status: int, body: Any, text: str, *, create: bool, retry_after: float | None
) -> UpstreamError:
    """§8 errors {"error": {message, type, param, code}}: 401 credentials; 402 or
    insufficient_quota as Kling's 1102 (the account, fail over); 429 as 1302; other 4xx
    permanent; 5xx a retry, and after a create an unknown outcome."""
    body_dict = body if isinstance(body, dict) else {}
    err = body_dict.get("error") if isinstance(body_dict.get("error"), dict) else {}
    plain = body_dict.get("error") if isinstance(body_dict.get("error"), str) else ""
    message = str(
        err.get("message") or body_dict.get("message") or plain or text[:200] or "upstream error"
    )
    code = err.get("code") if err else body_dict.get("code")
    kind = str(err.get("type") or "")
    shown = f"{message} (HTTP {http_status}{f', {code}' if code not in (None, '') else ''})"
    raw = body if body is not None else text[:500]
    common: dict[str, Any] = {"http_status": http_status, "raw": raw}
    quota = "insufficient_quota" in (str(code), kind)
    if http_status in (401, 402) or quota:
        return UpstreamError(shown, provider_problem=True, **common)
    if http_status == 403:
        return UpstreamError(shown, **common)  # no permission for this: another may have it
    if http_status == 429:
        return UpstreamError(shown, retry_after=max(1.0, retry_after or 1.0), **common)
    if http_status >= 500:
        return UpstreamError(shown, retry_after=retry_after or 5.0, ambiguous=create, **common)
    if http_status == 404 and not create:
        return UpstreamError(shown, **common)
    return UpstreamError(shown, permanent=True, **common)


class GatewayClient:
    """The transport of one §8 gateway: Bearer key, JSON or multipart, tolerant answers."""

    lists_tasks = False
    lookup_grace = 0.0
    label = "gateway"
    # What these gateways can do (§8): plain text2video/image2video; camera control and sound
    # ride in metadata (§8a), masks, voices and shots have no field there.
    kinds: frozenset[str] | None = frozenset(GATEWAY_KINDS)
    features = frozenset({"camera_control", "sound"})

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.name = config.name
        creds = split_credentials(config.credentials)
        self._api_key = creds.get("api_key", "")
        timeout = config.timeout
        self.submit_seconds = timeout + 30
        prefix = "/" + config.path_prefix.strip("/") if config.path_prefix.strip("/") else ""
        self.base = config.base_url.rstrip("/") + prefix
        # The base URL is the admin's, so no private-address guard (a LAN gateway is fine).
        self.http = httpx.Client(
            base_url=self.base,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
            transport=httpx.HTTPTransport(retries=0),
        )

    def close(self) -> None:
        self.http.close()

    def _authorization(self) -> str:
        if not self._api_key:
            raise UpstreamError(f"provider {self.name} has no API key", provider_problem=True)
        # §8d: one guide shows the bare key; every other doc (and every gateway) takes Bearer.
        return f"Bearer {self._api_key}"

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Any = None,
        files: Any = None,
        params: Any = None,
        create: bool = False,
    ) -> tuple[Any, httpx.Response]:
        """One request; the parsed body of a success (and the response), or UpstreamError."""
        headers = {"Authorization": self._authorization()}
        response = send(
            self.http, self.name, method, path, create=create,
            json=json, data=data, files=files, params=params, headers=headers,
        )  # fmt: skip
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            raise gateway_error(
                response.status_code,
                body,
                response.text,
                create=create,
                retry_after=_retry_after(response),
            )
        if not isinstance(body, dict):
            # A 2xx we cannot read: after a create the task may exist all the same.
            raise UpstreamError(
                f"{self.name} sent an unreadable answer (HTTP {response.status_code})",
                retry_after=10,
                ambiguous=create,
                raw=response.text[:500],
            )
        if body.get("code") not in (None, 0, 200, "success", "0", "200", ""):
            # new-api's {"code": "...", "message": "..."} with HTTP 200: a refusal.
            raise gateway_error(400, body, "", create=create, retry_after=None)
        return body, response

    # ---- what every §8 adapter shares ---------------------------------------------------
    def check_request(self, request: UpstreamRequest) -> None:
        """Refuse what this kind of upstream cannot do, naming it (§8: never silently dropped).

        Not permanent: another provider serving the model may do it (the jobs fail over)."""
        if request.kind not in GATEWAY_KINDS:
            raise UpstreamError(
                f"{self.name} ({self.label}) does only text2video and image2video, "
                f"not {request.kind}"
            )
        for field, what in REFUSED_FIELDS.items():
            if request.body.get(field):
                raise UpstreamError(f"{self.name} ({self.label}) cannot do {what}")

    def metadata(self, request: UpstreamRequest) -> dict[str, Any]:
        """The vendor extras of §8a, from the Kling body: duration a string, aspect always."""
        body = request.body
        meta = {key: body[key] for key in METADATA_FIELDS if body.get(key) not in (None, "")}
        meta["aspect_ratio"] = body.get("aspect_ratio") or request.aspect_ratio or "16:9"
        meta["duration"] = str(body.get("duration") or "5")
        meta["mode"] = body.get("mode") or "std"
        return meta

    def accepted(self, answer: Any) -> TaskState:
        """The task a create answer names (§8d: task_id, else id); a 2xx without one is an
        unknown outcome, never a reason to send it again."""
        state = parse_answer(answer)
        if not state.task_id:
            raise UpstreamError(
                "the create answer has no task id", ambiguous=True, retry_after=5, raw=answer
            )
        if state.status is None:
            state.status = "submitted"
        return state

    def scan(
        self, kind: str, wanted: Iterable[str], *, oldest_ms: int, max_pages: int
    ) -> dict[str, TaskState]:
        return {}  # no list endpoint: every task is queried by its id

    def find_by_external_id(
        self, kind: str, external_id: str, *, since: float | None
    ) -> TaskState | None:
        raise UpstreamError(
            f"{self.name} ({self.label}) takes no external task id: a create cannot be looked up"
        )

    def identify_faces(
        self, *, video_id: str = "", video_url: str = "", video_path: str
    ) -> FaceSession:
        """§8: these gateways make plain clips only; identify-face is not among them."""
        raise UpstreamError(f"{self.name} ({self.label}) does not do identify-face", permanent=True)

    def takes_external_id(self, model: str) -> bool:
        return False

    def balance(self) -> list[ResourcePack] | None:
        """These gateways publish no resource packs (/account/costs is Kling's, §7.8)."""
        raise UpstreamError(
            f"balance not available: {self.name} ({self.label}) has no /account/costs",
            permanent=True,
        )

    def probe(self) -> str:
        """GET /v1/models: free on every gateway, and it needs a valid key."""
        answer, _ = self.call("GET", "/v1/models")
        models = answer.get("data") if isinstance(answer, dict) else None
        count = len(models) if isinstance(models, list) else 0
        return f"the key works: /v1/models lists {count} model{'s' if count != 1 else ''}"

    def download(self, url: str, target: str, *, max_bytes: int, deadline: float) -> bool:
        """A result on the gateway itself (its content endpoint) needs the key: fetch it here."""
        if not url.startswith(self.base + "/"):
            return False
        headers = {"Authorization": self._authorization(), "Accept": "video/mp4, */*"}
        try:
            with self.http.stream("GET", url, headers=headers) as response:
                if response.status_code != 200:
                    raise FetchError(
                        f"{self.name} answered HTTP {response.status_code} for the video"
                    )
                ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if ctype and not (ctype.startswith("video/") or "octet-stream" in ctype):
                    raise FetchError(f"{self.name} sent {ctype}, not a video")
                seen = 0
                with open(Path(target), "wb") as out:
                    for chunk in response.iter_bytes(1 << 16):
                        seen += len(chunk)
                        if seen > max_bytes:
                            raise FetchError(f"the video is larger than {max_bytes} bytes")
                        if time.monotonic() > deadline:
                            raise FetchError("the download took longer than allowed")
                        out.write(chunk)
        except httpx.HTTPError as exc:
            raise FetchError(f"downloading from {self.name} failed: {exc}") from exc
        return True


def poll_after(response: httpx.Response) -> float | None:
    """openai-poll-after-ms (§8a), in seconds, within sane bounds."""
    value = response.headers.get("openai-poll-after-ms", "")
    try:
        return min(300.0, max(0.5, float(value) / 1000))
    except ValueError:
        return None
