"""The Kling API and Kling-compatible gateways (kling-api.md §1, §2, §4): one client for both.

What we send is always the strict Kling form; what we accept is any of the four answer
shapes gateways use (§2). Errors become one UpstreamError whose flags tell the jobs what
to do (fail, fail over, back off, or look the task up before creating again).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
import jwt

from .base import (
    FEATURES,
    Face,
    FaceSession,
    ProviderConfig,
    ResourcePack,
    TaskState,
    UpstreamError,
    UpstreamRequest,
)
from .fetch import USER_AGENT

log = logging.getLogger(__name__)

# kling-api.md §4.1: every spelling of a status that upstreams use.
STATUS_WORDS = {
    "submitted": "submitted",
    "queued": "submitted",
    "pending": "submitted",
    "not_start": "submitted",
    "processing": "processing",
    "in_progress": "processing",
    "running": "processing",
    "succeed": "succeeded",
    "succeeded": "succeeded",
    "success": "succeeded",
    "completed": "succeeded",
    "failed": "failed",
    "failure": "failed",
    "error": "failed",
    "cancelled": "failed",
    "timeout": "failed",  # kling-kinds.md §8: a gateway's task that ran out of time
}

# kling-api.md §4.2, by what the studio does about them.
PROVIDER_CODES = {1000, 1001, 1002, 1003, 1004, 1100, 1101, 1102, 1304}
PERMANENT_CODES = {1200, 1201, 1202, 1203, 1300, 1301}
RATE_CODES = {1302, 1303}
SERVER_CODES = {5000, 5001, 5002}
HTTP_STATUS_FOR_CODE = {1103: 403, 1202: 404, 1203: 404}

PAGE_SIZE = 500  # the list endpoint's maximum (§1.2)
# /account/costs (kling-kinds.md §7.8): what a window means is unconfirmed, so ask for a year.
COSTS_PATH = "/account/costs"
COSTS_WINDOW_SECONDS = 365 * 24 * 3600
# The due loop asks inline: a slow account route may hold up the jobs' polls this long at most.
COSTS_TIMEOUT_SECONDS = 10.0
JWT_LIFETIME = 1800
JWT_RENEW_BEFORE = 300


def normalise_status(word: Any) -> str | None:
    """The studio's status for an upstream status word, or None when unknown (§4.1)."""
    if not isinstance(word, str):
        return None
    return STATUS_WORDS.get(word.strip().lower())


def split_credentials(creds: dict[str, str]) -> dict[str, str]:
    """Accept a seed credential written "access_key|secret_key" as an AK/SK pair (§2)."""
    key = creds.get("api_key", "")
    if "|" in key and not creds.get("access_key"):
        access, _, secret = key.partition("|")
        return {"access_key": access.strip(), "secret_key": secret.strip()}
    return creds


def make_jwt(access_key: str, secret_key: str, now: float | None = None) -> str:
    """A Kling API token (§1.1): HS256, iss = AK, exp = now + 1800, nbf = now - 5."""
    now = int(time.time() if now is None else now)
    claims = {"iss": access_key, "exp": now + JWT_LIFETIME, "nbf": now - 5}
    return jwt.encode(claims, secret_key, algorithm="HS256", headers={"typ": "JWT"})


# ---- tolerant parsing of answers -------------------------------------------------------


def _dig(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(obj, list):
            if not obj:
                return None
            obj = obj[0]
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _first(obj: Any, *paths: str) -> Any:
    for path in paths:
        value = _dig(obj, path)
        if value not in (None, ""):
            return value
    return None


def _task_object(body: Any) -> dict[str, Any]:
    """The task inside an answer: the Kling envelope and task records nest it under data."""
    if isinstance(body, dict) and isinstance(body.get("data"), dict):
        return body["data"]
    return body if isinstance(body, dict) else {}


def _progress(value: Any) -> int | None:
    if isinstance(value, str):
        value = value.strip().rstrip("%")
    try:
        return max(0, min(100, int(float(value))))
    except (TypeError, ValueError):
        return None


def _units(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def parse_task(body: Any) -> TaskState:
    """Read a task from any of the four answer shapes of §2 (Kling envelope included)."""
    task = _task_object(body)
    word = _first(task, "task_status", "status", "state")
    status = normalise_status(word)
    message = _first(task, "task_status_msg", "fail_reason", "error.message", "failure_reason")
    if status is None and word is not None:
        message = f"unrecognised upstream status {word!r}; polling again"
    return TaskState(
        task_id=str(_first(task, "task_id", "id") or ""),
        status=status,
        message=str(message or ""),
        video_url=str(
            _first(
                task,
                "task_result.videos.url",
                "result_url",
                "video_url",
                "output.video_url",
                "content.video_url",
                "metadata.url",
                "url",
                "output.url",
                "data.url",
            )
            or ""
        ),
        units=_units(_first(task, "final_unit_deduction")),
        video_id=str(_first(task, "task_result.videos.id") or ""),
        progress=_progress(_first(task, "progress")),
        external_task_id=str(_first(task, "task_info.external_task_id", "external_task_id") or ""),
        tokens=_tokens(_first(task, "usage.completion_tokens")),
        raw=body,
    )


def _tokens(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def is_seedance(model: str) -> bool:
    """A Kling route a gateway maps onto Seedance 2.0 (kling-kinds.md §8c): the model says so."""
    return "seedance" in model.lower()


# §8c: what the Seedance-mapped routes likely ignore (unconfirmed): the timeline warns.
SEEDANCE_LIKELY_IGNORED = ("camera_control", "negative_prompt")
# What they do not take at all: no external id, no callbacks (no envelope, no Kling task).
SEEDANCE_DROPPED = ("external_task_id", "callback_url", "watermark_info")


def parse_list(body: Any) -> list[TaskState]:
    """The tasks of a list answer: data as an array, nested under data.data/items, or bare."""
    items: Any = body
    if isinstance(body, dict):
        items = body.get("data")
        if isinstance(items, dict):
            items = items.get("data") or items.get("items") or items.get("tasks") or []
    if not isinstance(items, list):
        raise UpstreamError("the list answer has no task array", raw=body, retry_after=10)
    return [parse_task(item) for item in items if isinstance(item, dict)]


def _moment(value: Any) -> datetime | None:
    """A Kling time in milliseconds as an aware datetime (0 or missing: none)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        ms = float(value)
    except ValueError:
        return None
    if not ms or ms != ms or not -(10**15) < ms < 10**15:  # 0, NaN, absurd: no time
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def parse_packs(body: Any) -> list[ResourcePack]:
    """The resource packs of an /account/costs answer (kling-kinds.md §7.8)."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise UpstreamError("the account costs answer has no data object", raw=body)
    inner = data.get("code")
    if inner not in (None, 0, "0"):
        raise UpstreamError(
            f"account costs refused: {data.get('msg') or 'no message'} (code {inner})", raw=body
        )
    infos = data.get("resource_pack_subscribe_infos")
    if not isinstance(infos, list):
        raise UpstreamError("the account costs answer lists no resource packs", raw=body)
    packs = []
    for info in infos:
        if not isinstance(info, dict):
            continue
        packs.append(
            ResourcePack(
                name=str(info.get("resource_pack_name") or ""),
                pack_id=str(info.get("resource_pack_id") or ""),
                pack_type=str(info.get("resource_pack_type") or ""),
                total=_units(info.get("total_quantity")) or Decimal(0),
                remaining=_units(info.get("remaining_quantity")) or Decimal(0),
                status=str(info.get("status") or ""),
                purchase_time=_moment(info.get("purchase_time")),
                effective_time=_moment(info.get("effective_time")),
                invalid_time=_moment(info.get("invalid_time")),
            )
        )
    return packs


def _created_ms(state: TaskState) -> int | None:
    task = _task_object(state.raw)
    value = task.get("created_at")
    if isinstance(value, int | float):
        # Kling sends milliseconds, OpenAI-style objects seconds (§6.3).
        return int(value if value > 10**11 else value * 1000)
    return None


def error_for(
    code: int | None,
    http_status: int,
    message: str,
    raw: Any,
    *,
    create: bool,
    retry_after: float | None,
) -> UpstreamError:
    """Map an error answer to what the studio does about it (kling-api.md §4.2)."""
    text = (
        f"{message or 'upstream error'} (code {code}, HTTP {http_status})"
        if code
        else (f"{message or 'upstream error'} (HTTP {http_status})")
    )
    common: dict[str, Any] = {"code": code, "http_status": http_status, "raw": raw}
    quota = "insufficient_quota" in str(raw)[:2000]  # §8c: Seedance gateways' 402, as 1102
    if code in PROVIDER_CODES or (code is None and http_status in (401, 402)) or quota:
        return UpstreamError(text, provider_problem=True, **common)
    if code in PERMANENT_CODES:
        return UpstreamError(text, permanent=True, **common)
    if code in RATE_CODES or (code is None and http_status == 429):
        return UpstreamError(text, retry_after=max(1.0, retry_after or 1.0), **common)
    if code in SERVER_CODES or http_status >= 500:
        # A 5xx after the body was sent may still have created the task (§4.3).
        return UpstreamError(text, retry_after=retry_after or 5.0, ambiguous=create, **common)
    if code == 1103 or http_status == 403:
        return UpstreamError(text, **common)  # no permission here: fail over
    if code is None and http_status == 404:
        return UpstreamError(text, **common)
    if 400 <= http_status < 500:
        return UpstreamError(text, permanent=True, **common)
    return UpstreamError(text, retry_after=retry_after or 10.0, ambiguous=create, **common)


def send(
    http: httpx.Client, name: str, method: str, path: str, *, create: bool, **kwargs: Any
) -> httpx.Response:
    """One request on an upstream's client, its transport failures as UpstreamError.

    Shared by every HTTP adapter (Kling and the gateways): what each failure says about the
    upstream (unreachable, counted toward health) and about a create (ambiguous: it may have
    been accepted) is decided once, here.
    """
    try:
        return http.request(method, path, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        # Nothing was sent: safe to retry, even a create. Several in a row mean the
        # upstream is down (or its address wrong): the jobs count them toward health.
        raise UpstreamError(
            connect_failure(exc, http.base_url.host, http.timeout.connect),
            retry_after=5,
            unreachable=True,
        ) from exc
    except httpx.PoolTimeout as exc:
        # Our own connection pool is busy: says nothing about the upstream.
        raise UpstreamError(f"no free connection to {name}", retry_after=5) from exc
    except httpx.TimeoutException as exc:
        waited = kwargs.get("timeout") or http.timeout.read
        raise UpstreamError(
            f"no answer within {waited:g} s", retry_after=5, ambiguous=create, unreachable=True
        ) from exc
    except httpx.HTTPError as exc:
        # Reset, dropped connection, protocol error: a create may have been accepted.
        raise UpstreamError(f"connection failed: {exc}", retry_after=5, ambiguous=create) from exc


def connect_failure(exc: httpx.TransportError, host: str, connect_timeout: float | None) -> str:
    """Why a connection could not be made, in a few words for the job's card and the admin."""
    if isinstance(exc, httpx.ConnectTimeout):
        return f"no connection within {connect_timeout:g} s"
    cause: BaseException | None = exc
    while cause is not None:  # httpx wraps httpcore's error, which wraps the socket's
        if isinstance(cause, socket.gaierror):
            return f"DNS lookup failed for {host}"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        cause = cause.__cause__ or cause.__context__
    return f"cannot connect: {exc}"


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


def _error_message(body: Any) -> str:
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            return str(err.get("message") or "")
        if isinstance(err, str):
            return err
        return str(body.get("message") or body.get("msg") or body.get("detail") or "")
    return ""


def _error_code(body: Any) -> int | None:
    """A numeric Kling code if the answer carries one (gateways sometimes send strings)."""
    if not isinstance(body, dict):
        return None
    for value in (body.get("code"), _dig(body, "error.code")):
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return None


# ---- the client -------------------------------------------------------------------------


def path_for(kind: str, task_id: str = "") -> str:
    """The one place a kind becomes a Kling path: Generation.kind is the path segment (§7)."""
    return f"/v1/videos/{kind}/{task_id}" if task_id else f"/v1/videos/{kind}"


class KlingClient:
    """Speaks one provider's Kling (or gateway) API: create, query, list, look up, probe."""

    lists_tasks = True
    # Kling's own API does every kind and every feature (kling-kinds.md §7).
    kinds: frozenset[str] | None = None
    features = FEATURES

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.name = config.name
        creds = split_credentials(config.credentials)
        self._access_key = creds.get("access_key", "")
        self._secret_key = creds.get("secret_key", "")
        self._api_key = creds.get("api_key", "")
        self._token = ""
        self._token_renew_at = 0.0
        self._lock = threading.Lock()
        timeout = config.timeout
        # A create may be answered only when the upstream's timeout fires: the job's lease
        # must outlast it, and a lookup before it would miss a create still in progress.
        self.submit_seconds = timeout + 30
        self.lookup_grace = config.lookup_grace
        prefix = "/" + config.path_prefix.strip("/") if config.path_prefix.strip("/") else ""
        # The base URL is set by an admin, not by users, so this client talks to it
        # directly (no private-address guard: a self-hosted gateway may live on the LAN).
        self.http = httpx.Client(
            base_url=config.base_url.rstrip("/") + prefix,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
            transport=httpx.HTTPTransport(retries=0),
        )

    def close(self) -> None:
        self.http.close()

    # ---- auth --------------------------------------------------------------------------
    def _authorization(self) -> str:
        if self._access_key and self._secret_key:
            with self._lock:
                now = time.time()
                if not self._token or now >= self._token_renew_at:
                    self._token = make_jwt(self._access_key, self._secret_key, now)
                    self._token_renew_at = now + JWT_LIFETIME - JWT_RENEW_BEFORE
                return f"Bearer {self._token}"
        if self._api_key:
            return f"Bearer {self._api_key}"
        raise UpstreamError(f"provider {self.name} has no credentials", provider_problem=True)

    # ---- transport -----------------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
        create: bool = False,
        timeout: float | None = None,
    ) -> Any:
        """One request; returns the parsed body of a success or raises UpstreamError."""
        headers = {"Authorization": self._authorization()}
        extra: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
        response = send(
            self.http, self.name, method, path, create=create,
            json=json, params=params, headers=headers, **extra,
        )  # fmt: skip
        try:
            body = response.json()
        except ValueError:
            body = None
        code = _error_code(body)
        # Kling says 0 for success; some gateways say 200.
        if response.status_code >= 400 or code not in (None, 0, 200):
            raise error_for(
                code,
                response.status_code,
                _error_message(body),
                body or response.text[:500],
                create=create,
                retry_after=_retry_after(response),
            )
        # A failed task's query may carry its reason in "error" (Seedance gateways, §8c):
        # only an error without a task status is an unreadable answer.
        if body is None or (
            isinstance(body, dict)
            and isinstance(body.get("error"), dict)
            and not _first(body, "status", "task_status")
        ):
            raise UpstreamError(
                f"{self.name} sent an unreadable answer (HTTP {response.status_code})",
                retry_after=10,
                ambiguous=create,
                raw=response.text[:500],
            )
        return body

    # ---- use cases -------------------------------------------------------------------
    def takes_external_id(self, model: str) -> bool:
        """Kling takes external_task_id; a Seedance-mapped gateway route does not (§8c)."""
        return not (self.config.kind == "kling-gateway" and is_seedance(model))

    def download(self, url: str, target: str, *, max_bytes: int, deadline: float) -> bool:
        return False  # Kling's results are public CDN links: the guarded download fetches them

    def _seedance_body(self, request: UpstreamRequest) -> tuple[dict[str, Any], list[str]]:
        """The body a Seedance-mapped route gets (§8c) and what the timeline should warn."""
        body = {k: v for k, v in request.body.items() if k not in SEEDANCE_DROPPED}
        # The duration stays Kling's string (§8d: "string to Kling"); the route takes both.
        notes = [
            f"{field} is likely ignored by {self.name}'s Seedance route (kling-kinds.md §8c)"
            for field in SEEDANCE_LIKELY_IGNORED
            if body.get(field)
        ]
        if body.get("mode") == "pro":
            notes.append(f"mode pro is likely ignored by {self.name}: the model name sets quality")
        if body.get("aspect_ratio") not in (None, "16:9"):
            notes.append(f"aspect_ratio is likely ignored by {self.name}'s Seedance route")
        return body, notes

    def submit(self, request: UpstreamRequest) -> TaskState:
        """Send a prepared create (external_task_id = the generation's id)."""
        body, notes = request.body, []
        model = str(body.get("model_name") or body.get("model") or "")
        if not self.takes_external_id(model):
            body, notes = self._seedance_body(request)
        answer = self._call("POST", path_for(request.kind), json=body, create=True)
        state = parse_task(answer)
        state.notes = notes
        if not state.task_id:
            # Accepted but unreadable: the task may exist; resolve by lookup, never re-create.
            raise UpstreamError(
                "the create answer has no task id", ambiguous=True, retry_after=5, raw=answer
            )
        if state.status is None:
            state.status = "submitted"
        return state

    def fetch(self, kind: str, task_id: str) -> TaskState:
        """Query one task by the upstream's id."""
        state = parse_task(self._call("GET", path_for(kind, task_id)))
        state.task_id = state.task_id or task_id
        return state

    def list_page(self, kind: str, page: int, page_size: int | None = None) -> list[TaskState]:
        """One page of the account's tasks of a kind, newest first."""
        params = {"pageNum": page, "pageSize": page_size or PAGE_SIZE}
        return parse_list(self._call("GET", path_for(kind), params=params))

    def scan(
        self, kind: str, wanted: Iterable[str], *, oldest_ms: int, max_pages: int
    ) -> dict[str, TaskState]:
        """Find tasks by upstream id in the list; stop once all are seen or the list gets older."""
        missing = set(wanted)
        found: dict[str, TaskState] = {}
        for page in range(1, max_pages + 1):
            try:
                states = self.list_page(kind, page)
            except UpstreamError as exc:
                if exc.http_status == 404 and self.config.kind == "kling-gateway":
                    # A gateway without a list (the Seedance-mapped routes, §8c): stop
                    # listing; the jobs then query each task by its id.
                    self.lists_tasks = False
                    return found
                raise
            for state in states:
                if state.task_id in missing:
                    found[state.task_id] = state
                    missing.discard(state.task_id)
            if not missing or len(states) < PAGE_SIZE:
                break
            created = _created_ms(states[-1])
            if created is not None and created < oldest_ms:
                break
        return found

    def find_by_external_id(
        self, kind: str, external_id: str, *, since: float | None, max_pages: int = 10
    ) -> TaskState | None:
        """Look up the task a possibly-sent create made (§4.3); None only when certainly absent.

        since: when the create was attempted (Unix seconds); older tasks cannot be ours.
        """
        # Minus ten minutes of clock skew between us and the upstream.
        oldest_ms = int((since - 600) * 1000) if since else 0
        for page in range(1, max_pages + 1):
            states = self.list_page(kind, page)
            for state in states:
                if state.external_task_id == external_id:
                    return state
            if len(states) < PAGE_SIZE:
                return None
            created = _created_ms(states[-1])
            if created is not None and created < oldest_ms:
                return None
        raise UpstreamError(
            f"could not finish looking up task {external_id} within {max_pages} pages",
            retry_after=30,
        )

    def balance(self) -> list[ResourcePack] | None:
        """The account's resource packs: GET /account/costs over the last year (§7.8).

        Free upstream but limited to 1 QPS: the jobs call it at most once a minute.
        A 404/1202 (a gateway without the route) reads "balance not available".
        """
        now_ms = int(time.time() * 1000)
        params = {"start_time": now_ms - COSTS_WINDOW_SECONDS * 1000, "end_time": now_ms}
        try:
            answer = self._call(
                "GET",
                COSTS_PATH,
                params=params,
                timeout=min(self.config.timeout, COSTS_TIMEOUT_SECONDS),
            )
        except UpstreamError as exc:
            if exc.code == 1202 or exc.http_status == 404:
                raise UpstreamError(
                    f"balance not available: {exc.message}", code=exc.code,
                    http_status=exc.http_status, permanent=True, raw=exc.raw,
                ) from exc  # fmt: skip
            raise
        return parse_packs(answer)

    def probe(self) -> str:
        """A cheap real call (a list query with pageSize=1) that proves the credentials work.

        A gateway without a list (the Seedance-mapped routes, kling-kinds.md §8c) is asked
        for its /v1/models at the root instead: free, and it needs a valid key too."""
        try:
            answer = self._call("GET", path_for("text2video"), params={"pageNum": 1, "pageSize": 1})
        except UpstreamError as exc:
            if exc.http_status != 404 or self.config.kind != "kling-gateway":
                raise
            models = self._call("GET", self.config.base_url.rstrip("/") + "/v1/models")
            listed = models.get("data") if isinstance(models, dict) else None
            count = len(listed) if isinstance(listed, list) else 0
            return f"no task list here; the key works: /v1/models lists {count} models"
        count = len(parse_list(answer))
        return f"answered a list query ({count} task{'s' if count != 1 else ''} on the first page)"

    def identify_faces(
        self, *, video_id: str = "", video_url: str = "", video_path: str
    ) -> FaceSession:
        """POST /v1/videos/identify-face (kling-kinds.md §7.6): synchronous, faces in ms.

        Not a create (no task, no external id), but it charges units: an ambiguous failure
        is reported, never retried here.
        """
        body = {"video_id": video_id} if video_id else {"video_url": video_url}
        answer = self._call("POST", path_for("identify-face"), json=body)
        data = _task_object(answer)
        session = str(data.get("session_id") or "")
        if not session:
            raise UpstreamError("the identify-face answer has no session_id", raw=answer)
        faces = []
        for item in data.get("face_data") or []:
            if not isinstance(item, dict):
                continue
            try:
                start, end = int(item.get("start_time", 0)), int(item.get("end_time", 0))
            except (TypeError, ValueError):
                continue
            faces.append(
                Face(
                    str(item.get("face_id", "")),
                    start,
                    end,
                    image_url=str(item.get("face_image") or ""),
                )
            )
        return FaceSession(session, faces, _units(data.get("final_unit_deduction")), raw=answer)


class KlingGatewayClient(KlingClient):
    """A Kling-shaped gateway (kind kling-gateway): Kling's routes, but gateways pass on no
    sound, voices or shots (kling-kinds.md §8), so those go only to Kling itself."""

    features = FEATURES - {"sound", "voices", "multi_shot", "elements"}
