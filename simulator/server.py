"""A Kling API simulator: a real HTTP server speaking kling-api.md §1 (and §2 in gateway mode).

Tests start it in-process on port 0; `manage.py kling_simulator` runs it for development.
It checks JWTs and bodies like Kling, keeps tasks that progress over time, serves a real
MP4 for succeeded tasks, posts callbacks, and injects faults on demand.

Test hooks: `add_fault(...)` for one-shot faults, `finish(...)` to end a task now,
`counts` for requests by endpoint, `tasks_for(external_task_id)` to count upstream tasks.
Prompts containing "sim:fail" end failed; "sim:error:NNNN" makes the create answer code NNNN.

Gateway families (kling-kinds.md §8), by shape: "openai-video" (POST /v1/videos, JSON or
multipart; GET /v1/videos/{id} with openai-poll-after-ms; /content serves the MP4, behind the
key; "sim:url" in a prompt puts metadata.url in the answer instead), "video-generations"
(/v1/video/generations; generations_answer picks the query shape: flat, code or seedance) and
"seedance-kling" (Kling routes under /kling mapped onto Seedance: unenveloped answers, no
list). They take a Bearer key, no external id, answer GET /v1/models, refuse what the studio
must never send, and "sim:quota" (or the "quota" fault) answers 402 insufficient_quota.
`counts["create"]` counts create requests: at most one per generation after an ambiguity.
"""

from __future__ import annotations

import base64
import email.policy
import functools
import hashlib
import json
import random
import re
import socket
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

from videos.providers.webhooks import sign

from . import costs
from .clip import clip_bytes
from .rules import KINDS, ModelNotFound, check_create, check_identify
from .rules.common import image_size
from .rules.gateways import check_openai_video, check_seedance, check_video_generations

# kling-api.md §4.2: the HTTP status that goes with each code.
HTTP_FOR_CODE = {
    **dict.fromkeys((1000, 1001, 1002, 1003, 1004), 401),
    **dict.fromkeys((1100, 1101, 1102, 1302, 1303, 1304), 429),
    1103: 403,
    **dict.fromkeys((1200, 1201, 1300, 1301), 400),
    **dict.fromkeys((1202, 1203), 404),
    5000: 500,
    5001: 503,
    5002: 504,
}
FAULTS = {
    "500": (500, 5000, "internal error"),
    "503": (503, 5001, "service under maintenance"),
    "504": (504, 5002, "upstream timeout"),
    "rate_limit": (429, 1302, "rate limit exceeded"),
    "concurrency": (429, 1303, "parallel task count over resource pack limit"),
}
# Also: "quota" (402 insufficient_quota, the gateways' 1102), "slow", "drop" (close without
# answering), "malformed" (200 with a broken body),
# and for creates "drop_after_accept" / "accept_then_500" / "ok_without_id" (the task IS
# created; the last answers 200 with the task but without its task_id).
CREATE_ONLY_FAULTS = ("drop_after_accept", "accept_then_500", "ok_without_id")
RANDOM_FAULTS = ["500", "503", "rate_limit", "slow", "malformed", "drop_after_accept"]
SHAPES = (
    "kling",
    "flat",
    "openai",
    "record",
    "openai-video",
    "video-generations",
    "seedance-kling",
)
# kling-kinds.md §8: gateways with their own routes and answers (a Bearer key, no external
# task id, no list). seedance-kling keeps Kling's routes under /kling (§8c).
GATEWAY_SHAPES = ("openai-video", "video-generations", "seedance-kling")
# How a video-generations gateway answers its queries (§8b): each is seen in the wild.
GENERATIONS_ANSWERS = ("flat", "code", "seedance")
POLL_AFTER_MS = 7000
OPENAI_ROUTE = re.compile(r"^/v1/videos(?:/(task_[^/]+))?(/content)?/?$")
GENERATIONS_ROUTE = re.compile(r"^/v1/video/generations(?:/([^/]+))?/?$")
KLING_TASK_BASE = 831922345719271433
ROUTE = re.compile(r"^/v1/videos/(" + "|".join(map(re.escape, KINDS)) + r")(?:/([^/]+))?/?$")
COSTS_ROUTE = "/account/costs"  # not under /v1 (kling-kinds.md §7.8)
VIDEO_ROUTE = re.compile(r"^/sim/videos/([^/]+)\.mp4$")
FACE_ROUTE = re.compile(r"^/sim/faces/([^/]+)\.jpg$")
IDENTIFY_PATH = "/v1/videos/identify-face"
SESSION_SECONDS = 24 * 3600  # kling-kinds.md §7.6: unconfirmed upstream; tests shorten it


@dataclass
class SimTask:
    """One upstream task and what the simulator knows about it."""

    task_id: str
    kind: str
    external_task_id: str
    body: dict[str, Any]
    created: float
    run_seconds: float
    fail_message: str = ""
    forced: tuple[str, str] | None = None
    callback_url: str = ""
    posted: str = ""
    held: list[dict[str, Any]] = field(default_factory=list)
    # The model that made its video (an extension inherits its parent's) and the video's
    # length; parent: the task whose video this one continues (video-extend, lip-sync).
    model: str = "kling-v1"
    seconds: float = 3.0
    parent: SimTask | None = None


@dataclass
class SimSession:
    """An identify-face session: its video (a task, or None for a video_url) and faces."""

    session_id: str
    task: SimTask | None
    video_ms: int
    faces: dict[str, tuple[int, int]]
    created: float
    lifetime: float
    now: Any = None

    @property
    def expired(self) -> bool:
        return self.now() - self.created >= self.lifetime


@dataclass(frozen=True)
class SimVideo:
    """A finished video this account issued (task_result.videos[0]), as its rules see it."""

    video_id: str
    model: str
    seconds: float
    age_seconds: float
    task: SimTask


class Simulator:
    """The simulated upstream account: configuration, tasks, faults and the HTTP server."""

    def __init__(
        self,
        *,
        access_key: str = "sim-access-key",
        secret_key: str = "sim-secret-key-for-tests-0123456789",
        api_key: str = "",
        gateway: bool = False,
        shape: str = "kling",
        prefix: str | None = None,
        gateway_list: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        fault_rate: float = 0.0,
        min_seconds: float = 0.0,
        max_seconds: float = 0.0,
        max_concurrent: int | None = None,
        webhook_secret: str = "",
        callback_mode: str = "normal",
        slow_seconds: float = 2.0,
        video_mode: str = "ok",
        clock_offset: float = 0.0,
        seed: int | None = None,
        latency: float = 0.0,
        fault_choices: list[str] | None = None,
        generations_answer: str = "flat",
    ) -> None:
        if shape not in SHAPES:
            raise ValueError(f"shape must be one of {SHAPES}")
        if generations_answer not in GENERATIONS_ANSWERS:
            raise ValueError(f"generations_answer must be one of {GENERATIONS_ANSWERS}")
        self.generations_answer = generations_answer
        if shape in GATEWAY_SHAPES:
            gateway = True
            api_key = api_key or "sim-gateway-key"
            if prefix is None:
                prefix = "/kling" if shape == "seedance-kling" else ""
        self.access_key, self.secret_key, self.api_key = access_key, secret_key, api_key
        self.gateway, self.shape = gateway, shape if gateway else "kling"
        self.prefix = ("/kling" if gateway else "") if prefix is None else prefix.rstrip("/")
        self.gateway_list = gateway_list
        self.fault_rate = fault_rate
        self.fault_choices = list(fault_choices or RANDOM_FAULTS)
        self.latency = latency  # seconds every API answer takes (widens race windows)
        self.min_seconds, self.max_seconds = min_seconds, max(min_seconds, max_seconds)
        self.max_concurrent = max_concurrent
        self.webhook_secret, self.callback_mode = webhook_secret, callback_mode
        self.slow_seconds, self.video_mode = slow_seconds, video_mode
        self.clock_offset = clock_offset
        self.random = random.Random(seed)
        self.lock = threading.RLock()
        self.tasks: list[SimTask] = []
        self.by_id: dict[str, SimTask] = {}
        self.by_external: dict[str, SimTask] = {}
        self.create_attempts: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        # (endpoint, task id or kind, start, end) of every finished API request, for
        # checking that no two workers polled one task (or listed one kind) at once.
        self.request_log: list[tuple[str, str, float, float]] = []
        self.faults_served: Counter[str] = Counter()
        self.callback_log: list[tuple[str, int | str, dict[str, Any]]] = []
        self._faults: list[list[Any]] = []  # [fault, endpoint, times_left]
        self._next_id = KLING_TASK_BASE
        self.sessions: dict[str, SimSession] = {}
        self.session_seconds = SESSION_SECONDS
        self._stop = threading.Event()
        self.server = _Server((host, port), _Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False  # keep-alive handler threads must not block stop()
        self.server.simulator = self  # type: ignore[attr-defined]
        self._threads: list[threading.Thread] = []
        # The account's resource packs (/account/costs); tests may replace account.packs.
        self.account = costs.Account()

    # ---- lifecycle -------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        """The base URL to configure a provider with (without the gateway prefix)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Simulator:
        # A short poll interval: stop() returns at once (tests start many simulators).
        serve = functools.partial(self.server.serve_forever, poll_interval=0.05)
        for target in (serve, self._post_callbacks_forever):
            thread = threading.Thread(target=target, daemon=True, name=f"kling-sim-{self.port}")
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def now(self) -> float:
        return time.time() + self.clock_offset

    # ---- test hooks ------------------------------------------------------------------
    def add_fault(self, fault: str, *, on: str = "create", times: int = 1) -> None:
        """Make the next `times` requests to an endpoint (create, query, list, video, any) fail."""
        with self.lock:
            self._faults.append([fault, on, times])

    def finish(self, task_ref: str, status: str = "succeed", message: str = "") -> None:
        """End a task now (by task id or external id) with succeed or failed."""
        with self.lock:
            task = self.by_id.get(task_ref) or self.by_external[task_ref]
            task.forced = (status, message)

    def tasks_for(self, external_task_id: str) -> list[SimTask]:
        with self.lock:
            return [t for t in self.tasks if t.external_task_id == external_task_id]

    def overlapping_polls(self) -> list[str]:
        """Polls that were in flight at the same time: of one task, or two lists of one kind."""
        with self.lock:
            log = sorted(self.request_log, key=lambda entry: entry[2])
        problems, busy_until = [], {}
        for endpoint, ref, start, end in log:
            if endpoint not in ("query", "list"):
                continue
            key = (endpoint, ref)
            if busy_until.get(key, 0.0) > start:
                problems.append(f"two {endpoint} requests for {ref} overlapped at {start:.3f}")
            busy_until[key] = max(busy_until.get(key, 0.0), end)
        return problems

    def reset_counts(self) -> None:
        with self.lock:
            self.counts.clear()

    def seed_tasks(
        self,
        count: int,
        *,
        kind: str = "text2video",
        run_seconds: float = 3600,
        age_seconds: float = 0.0,
    ) -> list[str]:
        """Create running tasks directly, without HTTP (benchmarks, and tests that need more
        than a page of 500 tasks); age_seconds backdates them. Returns their task ids."""
        ids = []
        with self.lock:
            for n in range(count):
                body = {
                    "model_name": "kling-v1",
                    "prompt": "seeded",
                    "mode": "std",
                    "duration": "5",
                    "external_task_id": f"seeded-{self._next_id}-{n}",
                }
                task = self._new_task(kind, body)
                task.run_seconds = run_seconds
                task.created -= age_seconds
                ids.append(task.task_id)
        return ids

    # ---- tasks -------------------------------------------------------------------------
    def _new_task(self, kind: str, body: dict[str, Any]) -> SimTask:
        with self.lock:
            self._next_id += 1 + self.random.randrange(1000)
            task_id = str(self._next_id)
            if self.shape in ("flat", "openai", *GATEWAY_SHAPES):
                task_id = f"task_{task_id}"
            prompt = str(body.get("prompt", ""))
            task = SimTask(
                task_id=task_id,
                kind=kind,
                external_task_id=str(body.get("external_task_id", "")),
                body=body,
                created=self.now(),
                run_seconds=self.random.uniform(self.min_seconds, self.max_seconds),
                fail_message=(
                    "simulated failure: the video could not be generated"
                    if "sim:fail" in prompt
                    else ""
                ),
                callback_url=str(body.get("callback_url", "")),
                model=str(body.get("model_name") or body.get("model") or "kling-v1"),
            )
            self.tasks.append(task)
            self.by_id[task_id] = task
            if task.external_task_id:
                self.by_external[task.external_task_id] = task
            return task

    def status_of(self, task: SimTask) -> tuple[str, str, int]:
        """(Kling status, message, progress %) of a task right now."""
        if task.forced:
            return task.forced[0], task.forced[1], 100
        elapsed = self.now() - task.created
        if elapsed >= task.run_seconds:
            return ("failed", task.fail_message, 100) if task.fail_message else ("succeed", "", 100)
        progress = int(100 * elapsed / task.run_seconds) if task.run_seconds else 0
        if elapsed >= 0.3 * task.run_seconds:
            return "processing", "", progress
        return "submitted", "", progress

    def video(self, video_id: str) -> SimVideo | None:
        """A succeeded task's video by the id this account gave it ("v" + task id), or None."""
        with self.lock:
            task = self.by_id.get(video_id[1:]) if video_id.startswith("v") else None
            if task is None or self.status_of(task)[0] != "succeed":
                return None
            return SimVideo(video_id, task.model, task.seconds, self.now() - task.created, task)

    def session(self, session_id: str) -> SimSession | None:
        with self.lock:
            return self.sessions.get(session_id)

    def identify(self, video: SimVideo | None) -> SimSession:
        """A new session: one face ("0") over the whole video, as the local renderer says."""
        with self.lock:
            session_id = uuid.uuid4().hex
            video_ms = round((video.seconds if video else 5.0) * 1000)
            session = SimSession(
                session_id,
                video.task if video else None,
                video_ms,
                {"0": (0, video_ms)},
                self.now(),
                self.session_seconds,
                self.now,
            )
            self.sessions[session_id] = session
            return session

    def running(self) -> int:
        return sum(1 for t in self.tasks if self.status_of(t)[0] in ("submitted", "processing"))

    def units_of(self, task: SimTask) -> str:
        per_five = Decimal("3.5") if task.body.get("mode") == "pro" else Decimal("1")
        units = per_five * Decimal(str(task.body.get("duration", "5"))) / Decimal(5)
        return format(units.normalize(), "f")

    def task_object(self, task: SimTask, *, fresh: bool = False) -> dict[str, Any]:
        """The Kling task object (§1.6); a create answer (fresh) has no result yet."""
        status, message, _ = ("submitted", "", 0) if fresh else self.status_of(task)
        created_ms = int(task.created * 1000)
        obj: dict[str, Any] = {
            "task_id": task.task_id,
            "task_status": status,
            "task_status_msg": message,
            "task_info": {"external_task_id": task.external_task_id},
            "created_at": created_ms,
            "updated_at": int(self.now() * 1000) if not fresh else created_ms,
        }
        if task.parent is not None:
            # kling-kinds.md §7.5, §7.6: the task names the video it continues.
            obj["task_info"]["parent_video"] = {
                "id": f"v{task.parent.task_id}",
                "url": self.video_url(task.parent),
                "duration": f"{task.parent.seconds:.1f}",
            }
        if status == "succeed":
            obj["task_result"] = {
                "videos": [
                    {
                        "id": f"v{task.task_id}",
                        "url": self.video_url(task),
                        "duration": f"{task.seconds:.1f}",
                    }
                    if task.kind != "effects"
                    # kling-kinds.md §7.7: effects results carry no duration.
                    else {"id": f"v{task.task_id}", "url": self.video_url(task)}
                ]
            }
        if task.kind == "multi-image2video":
            # kling-kinds.md §7.4: its answers may come without task_info; clients tolerate it.
            del obj["task_info"]
        if status in ("succeed", "failed"):
            obj["final_unit_deduction"] = self.units_of(task) if status == "succeed" else "0"
        return obj

    def video_url(self, task: SimTask) -> str:
        return f"{self.url}/sim/videos/{task.task_id}.mp4"

    def shaped(self, task: SimTask, *, fresh: bool = False) -> Any:
        """A task in this gateway's answer shape (kling-api.md §2)."""
        obj = self.task_object(task, fresh=fresh)
        status, message, progress = ("submitted", "", 0) if fresh else self.status_of(task)
        url = obj.get("task_result", {}).get("videos", [{}])[0].get("url", "")
        if self.shape in GATEWAY_SHAPES:
            return self.gateway_shaped(task, status, message, progress, url, fresh=fresh)
        if self.shape == "kling":
            return envelope(obj)
        if self.shape == "flat":
            words = {"submitted": "queued", "succeed": "succeeded"}
            answer = {
                "id": task.task_id,
                "task_id": task.task_id,
                "status": words.get(status, status),
            }
            if not fresh:
                answer.update({"url": url, "format": "mp4", "fail_reason": message})
            return answer
        if self.shape == "openai":
            words = {"submitted": "queued", "processing": "in_progress", "succeed": "completed"}
            return {
                "id": task.task_id,
                "task_id": task.task_id,
                "object": "video",
                "model": task.body.get("model_name", "kling-v1"),
                "status": words.get(status, status),
                "progress": progress,
                "created_at": int(task.created),
                "completed_at": int(self.now()) if status in ("succeed", "failed") else None,
                "metadata": {"url": url} if url else {},
                "error": {"message": message} if status == "failed" else None,
            }
        words = {
            "submitted": "NOT_START",
            "processing": "IN_PROGRESS",
            "succeed": "SUCCESS",
            "failed": "FAILURE",
        }
        return {
            "code": "success",
            "message": "",
            "data": {
                "task_id": task.task_id,
                "status": words[status],
                "progress": f"{progress}%",
                "fail_reason": message,
                "result_url": url,
                "submit_time": int(task.created),
            },
        }

    def tokens_of(self, task: SimTask) -> int:
        """Seedance bills tokens (§8c): deterministic from the duration."""
        duration = int(float(str(task.body.get("duration") or task.body.get("seconds") or 5)))
        return 10800 * duration

    def gateway_shaped(
        self, task: SimTask, status: str, message: str, progress: int, url: str, *, fresh: bool
    ) -> Any:
        """A task as the §8 gateways answer: create answers, then each shape's query answer."""
        if self.shape == "openai-video":
            words = {"submitted": "queued", "processing": "in_progress", "succeed": "completed"}
            video: dict[str, Any] = {
                "id": task.task_id,
                "object": "video",
                "model": task.body.get("model"),
                "status": words.get(status, status),
                "progress": progress,
                "created_at": int(task.created),
                "completed_at": int(self.now()) if status in ("succeed", "failed") else None,
                "seconds": task.body.get("seconds"),
                "size": task.body.get("size"),
                "error": {"message": message, "code": "generation_failed"}
                if status == "failed"
                else None,
                "metadata": {},
            }
            # Most answer without a URL (the content endpoint serves it); some put one here.
            if url and "sim:url" in str(task.body.get("prompt", "")):
                video["metadata"] = {"url": url}
            return video
        if fresh:
            if self.shape == "video-generations" and self.generations_answer == "flat":
                return {"task_id": task.task_id}
            return {"id": task.task_id, "task_id": task.task_id, "status": "queued"} | (
                {"object": "video"} if self.shape == "video-generations" else {}
            )
        answer = "seedance" if self.shape == "seedance-kling" else self.generations_answer
        if answer == "flat":
            words = {"submitted": "queued", "succeed": "succeeded"}
            width, height = (int(x) for x in str(task.body.get("size", "1280x720")).split("x"))
            return {
                "task_id": task.task_id,
                "status": words.get(status, status),
                "url": url,
                "format": "mp4",
                "metadata": {"duration": 3.0, "fps": 24, "width": width, "height": height},
                "error": {"message": message} if status == "failed" else None,
            }
        if answer == "code":
            words = {
                "submitted": "NOT_START",
                "processing": "IN_PROGRESS",
                "succeed": "SUCCESS",
                "failed": "FAILURE",
            }
            return {
                "code": "success",
                "message": "",
                "data": {
                    "task_id": task.task_id,
                    "status": words[status],
                    "progress": f"{progress}%",
                    "fail_reason": message,
                    "result_url": url,
                    "submit_time": int(task.created * 1000),  # ms: §8 "times > 10^11 are ms"
                    "data": {},
                },
            }
        words = {"submitted": "queued", "processing": "running", "succeed": "completed"}
        obj: dict[str, Any] = {
            "id": task.task_id,
            "status": words.get(status, status),
            "progress": progress,
        }
        if status == "succeed":
            obj["output"] = {"video_url": url}
            obj["usage"] = {"completion_tokens": self.tokens_of(task)}
        if status == "failed":
            obj["error"] = {"message": message}
        return obj

    # ---- faults ------------------------------------------------------------------------
    def take_fault(self, endpoint: str) -> str | None:
        with self.lock:
            for entry in self._faults:
                fault, on, left = entry
                if left > 0 and on in (endpoint, "any"):
                    entry[2] -= 1
                    self.faults_served[fault] += 1
                    return fault
            if self.fault_rate and endpoint != "video" and self.random.random() < self.fault_rate:
                choices = [
                    f
                    for f in self.fault_choices
                    if endpoint == "create" or f not in CREATE_ONLY_FAULTS
                ]
                fault = self.random.choice(choices)
                self.faults_served[fault] += 1
                return fault
        return None

    def take_costs_fault(self) -> str | None:
        with self.lock:
            for entry in self._faults:
                if entry[2] > 0 and entry[1] == "costs":
                    entry[2] -= 1
                    self.faults_served[entry[0]] += 1
                    return entry[0]
        return None

    # ---- auth (§1.1) ---------------------------------------------------------------------
    def check_auth(self, header: str) -> tuple[int, str] | None:
        """None when authorised, else (code, message) for a 401."""
        if not header.startswith("Bearer ") or not header[7:].strip():
            return 1001, "Authorization header is empty"
        token = header[7:].strip()
        if self.api_key and token == self.api_key:
            return None
        if self.gateway:
            return 1002, "invalid API key"
        try:
            if jwt.get_unverified_header(token).get("alg") != "HS256":
                return 1002, "token algorithm must be HS256"
            # Times are checked below against the simulator's own (possibly skewed) clock.
            claims = jwt.decode(
                token,
                self.secret_key,
                algorithms=["HS256"],
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "require": ["iss", "exp", "nbf"],
                },
            )
        except jwt.PyJWTError as exc:
            return 1002, f"token invalid: {exc}"
        if claims["iss"] != self.access_key:
            return 1002, "access key not found"
        now = self.now()
        if claims["nbf"] > now:
            return 1003, "token not yet valid"
        if claims["exp"] < now:
            return 1004, "token expired"
        return None

    # ---- callbacks (§5) ------------------------------------------------------------------
    def _post_callbacks_forever(self) -> None:
        while not self._stop.wait(0.05):
            with self.lock:
                due = []
                for task in self.tasks:
                    if not task.callback_url:
                        continue
                    status = self.status_of(task)[0]
                    if status == task.posted:
                        continue
                    task.posted = status
                    due.extend(self._callbacks_for(task, status))
            for url, body in due:
                self._post(url, body)

    def _callbacks_for(self, task: SimTask, status: str) -> list[tuple[str, dict[str, Any]]]:
        body = self.task_object(task)
        if self.callback_mode == "twice":
            return [(task.callback_url, body), (task.callback_url, body)]
        if self.callback_mode == "out_of_order":
            if status in ("submitted", "processing"):
                task.held.append(body)  # delivered late, after the final one
                return []
            late, task.held = task.held[::-1], []
            return [(task.callback_url, body)] + [(task.callback_url, b) for b in late]
        return [(task.callback_url, body)]

    def _post(self, url: str, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.webhook_secret:
            msg_id, stamp = uuid.uuid4().hex, str(int(time.time()))
            headers.update(
                {
                    "webhook-id": msg_id,
                    "webhook-timestamp": stamp,
                    "webhook-signature": sign(self.webhook_secret, msg_id, stamp, raw),
                }
            )
        request = urllib.request.Request(url, data=raw, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                result: int | str = response.status
        except urllib.error.HTTPError as exc:
            result = exc.code
        except OSError as exc:
            result = str(exc)
        with self.lock:
            self.callback_log.append((url, result, body))


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (its timeout fired on a slow answer) is normal here: no trace."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def without_task_id(answer: Any) -> Any:
    """A create answer with every task id removed, wherever the answer shape keeps it."""
    if isinstance(answer, dict):
        return {k: without_task_id(v) for k, v in answer.items() if k not in ("task_id", "id")}
    return answer


@functools.cache
def face_jpeg() -> bytes:
    """The picture every simulated face has: a small skin-coloured square."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (96, 96), (224, 178, 142)).save(out, "JPEG")
    return out.getvalue()


def parse_multipart(ctype: str, raw: bytes) -> tuple[dict[str, str], dict[str, bytes]]:
    """(text fields, file parts) of a multipart/form-data body; ValueError when broken."""
    message = BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {ctype}\r\n\r\n".encode() + raw
    )
    if not message.is_multipart():
        raise ValueError("not multipart")
    fields, files = {}, {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            raise ValueError("a part without a name")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename():
            files[str(name)] = payload
        else:
            fields[str(name)] = payload.decode()
    return fields, files


def envelope(data: Any, code: int = 0, message: str = "SUCCEED") -> dict[str, Any]:
    return {"code": code, "message": message, "request_id": uuid.uuid4().hex, "data": data}


class _Handler(BaseHTTPRequestHandler):
    """Routes one request; answers JSON with a Content-Length so connections stay open."""

    protocol_version = "HTTP/1.1"
    timeout = 30
    server_version = "KlingSimulator/1.0"

    @property
    def sim(self) -> Simulator:
        return self.server.simulator  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # quiet: tests and benchmarks make thousands of requests

    # ---- answers ---------------------------------------------------------------------
    def _send(
        self,
        status: int,
        payload: bytes,
        ctype: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(body).encode(), headers=headers)

    def _error(self, code: int, message: str, status: int | None = None) -> None:
        status = status or HTTP_FOR_CODE.get(code, 400)
        if self.sim.shape == "kling":
            self._json(status, {"code": code, "message": message, "request_id": uuid.uuid4().hex})
        else:
            self._json(
                status, {"error": {"message": message, "type": "upstream_error", "code": code}}
            )

    def _drop(self) -> None:
        """Close the connection without answering (a reset, from the client's side)."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _quota(self) -> None:
        """§8c: a gateway account out of credit answers 402 insufficient_quota."""
        error = {
            "message": "insufficient quota on this account",
            "type": "insufficient_quota",
            "param": None,
            "code": "insufficient_quota",
        }
        self._json(402, {"error": error})

    def _apply_fault(self, fault: str | None) -> bool:
        """Answer with a fault; True when the request is finished."""
        if fault is None or fault in CREATE_ONLY_FAULTS:
            return False
        if fault == "slow":
            time.sleep(self.sim.slow_seconds)
            return False
        if fault == "drop":
            self._drop()
        elif fault == "quota":
            self._quota()
        elif fault == "malformed":
            self._send(200, b'{"code": 0, "data": {"task_id": ')
        elif fault.startswith("code:"):
            self._error(int(fault[5:]), f"simulated error {fault[5:]}")
        else:
            status, code, message = FAULTS[fault]
            self._error(code, message, status)
        return True

    # ---- routing -----------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        video = VIDEO_ROUTE.match(parts.path)
        if video:
            self._video(video.group(1))
            return
        if FACE_ROUTE.match(parts.path):
            self._send(200, face_jpeg(), "image/jpeg")
            return
        self._api("GET", parts.path, parse_qs(parts.query))

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        self._api("POST", urlsplit(self.path).path, {}, raw)

    def _gateway_route(self, method: str, path: str) -> tuple[str, str | None] | None:
        """(endpoint, task id) of an openai-video or video-generations request, or None."""
        sim = self.sim
        pattern = OPENAI_ROUTE if sim.shape == "openai-video" else GENERATIONS_ROUTE
        match = pattern.match(path)
        if match is None:
            return None
        task_ref = match.group(1)
        if method == "POST":
            return ("create", None) if task_ref is None else None
        if task_ref is None:
            return None
        content = sim.shape == "openai-video" and match.group(2)
        return ("content" if content else "query"), task_ref

    def _api(self, method: str, path: str, query: dict[str, list[str]], raw: bytes = b"") -> None:
        sim = self.sim
        if path.startswith(sim.prefix) and path.removeprefix(sim.prefix) == COSTS_ROUTE:
            self._costs(method, query)
            return
        if method == "POST" and path == sim.prefix + IDENTIFY_PATH:
            with sim.lock:
                sim.counts["identify"] += 1
                sim.counts["total"] += 1
            self._identify(raw)
            return
        if sim.shape in GATEWAY_SHAPES and (method, path) == ("GET", "/v1/models"):
            with sim.lock:
                sim.counts["models"] += 1
            self._answer("models", "text2video", None, query, raw)
            return
        if sim.shape in ("openai-video", "video-generations"):
            found = self._gateway_route(method, path)
            if found is None:
                self._error(1202, f"no route for {method} {path}", 404)
                return
            endpoint, task_ref = found
            with sim.lock:
                sim.counts[endpoint] += 1
                sim.counts["total"] += 1
            start = time.monotonic()
            try:
                self._answer(endpoint, "text2video", task_ref, query, raw)
            finally:
                with sim.lock:
                    sim.request_log.append((endpoint, task_ref or "", start, time.monotonic()))
            return
        route = ROUTE.match(path.removeprefix(sim.prefix)) if path.startswith(sim.prefix) else None
        if route is None or (method == "POST" and route.group(2)):
            self._error(1202, f"no route for {method} {path}", 404)
            return
        kind, task_ref = route.groups()
        endpoint = "create" if method == "POST" else ("query" if task_ref else "list")
        with sim.lock:
            sim.counts[endpoint] += 1
            sim.counts["total"] += 1
        start = time.monotonic()
        try:
            self._answer(endpoint, kind, task_ref, query, raw)
        finally:
            with sim.lock:
                sim.request_log.append((endpoint, task_ref or kind, start, time.monotonic()))

    def _answer(
        self,
        endpoint: str,
        kind: str,
        task_ref: str | None,
        query: dict[str, list[str]],
        raw: bytes,
    ) -> None:
        sim = self.sim
        if sim.latency:
            time.sleep(sim.latency)
        fault = sim.take_fault(endpoint)
        if self._apply_fault(fault):
            return
        denied = sim.check_auth(self.headers.get("Authorization", ""))
        if denied:
            self._error(denied[0], denied[1], 401)
            return
        if endpoint == "models":
            self._json(
                200,
                {
                    "object": "list",
                    "data": [
                        {"id": m, "object": "model"}
                        for m in ("doubao-seedance-2-0-fast-480p", "MiniMax-Hailuo-02", "kling-v1")
                    ],
                },
            )
        elif endpoint == "content":
            self._content(task_ref or "")
        elif endpoint == "create":
            self._create(kind, raw, fault)
        elif endpoint == "query":
            self._query(kind, task_ref)
        else:
            self._list(kind, query)

    def _gateway_body(self, raw: bytes) -> tuple[Any, bool]:
        """The create body of an openai-video request: JSON, or multipart with a file part."""
        ctype = self.headers.get("Content-Type", "")
        if self.sim.shape != "openai-video" or not ctype.startswith("multipart/form-data"):
            return json.loads(raw or b"null"), False
        fields, files = parse_multipart(ctype, raw)
        body: dict[str, Any] = dict(fields)
        if "metadata" in body:
            try:
                body["metadata"] = json.loads(body["metadata"])
            except ValueError:
                body["metadata"] = "not JSON"
        for name, data in files.items():
            body[name] = base64.b64encode(data).decode()
        return body, "input_reference" in files

    def _create(self, kind: str, raw: bytes, fault: str | None) -> None:
        sim = self.sim
        try:
            body, has_file = self._gateway_body(raw)
        except ValueError:
            self._error(1200, "the request body is not valid JSON")
            return
        try:
            if sim.shape == "openai-video":
                problem = (
                    check_openai_video(body, has_file=has_file)
                    if isinstance(body, dict)
                    else "the request body must be a JSON object"
                )
                if (
                    has_file
                    and not problem
                    and isinstance(
                        size := image_size(body["input_reference"], "input_reference"), str
                    )
                ):
                    problem = size
            elif sim.shape == "video-generations":
                problem = (
                    check_video_generations(body)
                    if isinstance(body, dict)
                    else "the request body must be a JSON object"
                )
            elif sim.shape == "seedance-kling":
                problem = check_seedance(kind, body)
            else:
                problem = check_create(kind, body, gateway=sim.gateway, account=sim)
        except ModelNotFound as exc:
            self._error(1203, str(exc))
            return
        if problem:
            self._error(1201, f"invalid parameter: {problem}")
            return
        if "sim:quota" in str(body.get("prompt", "")) and sim.shape in GATEWAY_SHAPES:
            self._quota()
            return
        forced = re.search(r"sim:error:(\d{4})", str(body.get("prompt", "")))
        if forced:
            self._error(int(forced.group(1)), f"simulated error {forced.group(1)}")
            return
        external = body.get("external_task_id", "")
        with sim.lock:
            if external:
                sim.create_attempts[external] += 1
                if external in sim.by_external:
                    self._error(1201, "invalid parameter: external_task_id already exists")
                    return
            if sim.max_concurrent is not None and sim.running() >= sim.max_concurrent:
                self._error(1303, "parallel task count over resource pack limit")
                return
            task = sim._new_task(kind, body)
            if kind == "advanced-lip-sync":
                session = sim.sessions[body["session_id"]]
                task.parent = session.task
                task.seconds = session.video_ms / 1000
                task.model = session.task.model if session.task else "kling-v1"
            if kind == "video-extend":
                parent = sim.by_id[str(body["video_id"])[1:]]
                # Model inherited; the result is the whole video, 4-5 s longer (§7.5).
                task.model, task.parent = parent.model, parent
                task.seconds = round(parent.seconds + sim.random.uniform(4, 5), 1)
        if fault == "drop_after_accept":
            self._drop()
        elif fault == "accept_then_500":
            self._error(5000, "internal error", 500)
        elif fault == "ok_without_id":
            self._json(200, without_task_id(sim.shaped(task, fresh=True)))
        else:
            self._json(200, sim.shaped(task, fresh=True))

    def _identify(self, raw: bytes) -> None:
        """identify-face (kling-kinds.md §7.6): synchronous, face_data in ms."""
        sim = self.sim
        if self._apply_fault(sim.take_fault("identify")):
            return
        denied = sim.check_auth(self.headers.get("Authorization", ""))
        if denied:
            self._error(denied[0], denied[1], 401)
            return
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            self._error(1200, "the request body is not valid JSON")
            return
        problem, video = check_identify(body, sim)
        if problem:
            self._error(1201, f"invalid parameter: {problem}")
            return
        session = sim.identify(video)
        faces = [
            {
                "face_id": face_id,
                "face_image": f"{sim.url}/sim/faces/{session.session_id}-{face_id}.jpg",
                "start_time": start,
                "end_time": end,
            }
            for face_id, (start, end) in session.faces.items()
        ]
        data = {"session_id": session.session_id, "final_unit_deduction": "0.2", "face_data": faces}
        self._json(200, envelope(data))

    def _query(self, kind: str, task_ref: str) -> None:
        with self.sim.lock:
            task = self.sim.by_id.get(task_ref)
        if task is None or task.kind != kind:
            self._error(1203, f"task {task_ref} does not exist", 404)
            return
        # §8a: OpenAI-style gateways say when to ask again.
        headers = {"openai-poll-after-ms": str(POLL_AFTER_MS)}
        self._json(
            200, self.sim.shaped(task), headers if self.sim.shape == "openai-video" else None
        )

    def _content(self, task_id: str) -> None:
        """GET /v1/videos/{id}/content?variant=video (§8a): the MP4 itself, behind the key."""
        with self.sim.lock:
            task = self.sim.by_id.get(task_id)
        if task is None or self.sim.status_of(task)[0] != "succeed":
            self._error(1203, f"video {task_id} is not ready", 404)
            return
        self._send(200, clip_bytes(), "video/mp4")

    def _list(self, kind: str, query: dict[str, list[str]]) -> None:
        sim = self.sim
        if sim.shape == "seedance-kling" or (sim.gateway and not sim.gateway_list):
            self._error(1202, "this gateway has no list endpoint", 404)
            return
        try:
            page = int(query.get("pageNum", ["1"])[0])
            size = int(query.get("pageSize", ["30"])[0])
        except ValueError:
            self._error(1201, "invalid parameter: pageNum and pageSize must be integers")
            return
        if not 1 <= page <= 1000:
            self._error(1201, "invalid parameter: pageNum must be 1..1000")
            return
        if not 1 <= size <= 500:
            self._error(1201, "invalid parameter: pageSize must be 1..500")
            return
        with sim.lock:
            newest_first = [t for t in reversed(sim.tasks) if t.kind == kind]
            chosen = newest_first[(page - 1) * size : page * size]
            data = [sim.task_object(t) for t in chosen]
        self._json(200, envelope(data))

    def _costs(self, method: str, query: dict[str, list[str]]) -> None:
        """GET /account/costs: the packs; gateways have no such route (1202, 404)."""
        sim = self.sim
        with sim.lock:
            sim.counts["costs"] += 1
        # Only faults aimed at this route: random ones and "any" stay with the task routes,
        # so the due loop's balance refresh does not change what seeded fault runs see.
        if self._apply_fault(sim.take_costs_fault()):
            return
        if sim.gateway or method != "GET":
            self._error(1202, f"no route for {method} {COSTS_ROUTE}", 404)
            return
        denied = sim.check_auth(self.headers.get("Authorization", ""))
        if denied:
            self._error(denied[0], denied[1], 401)
            return
        problem = costs.check_query(query)
        if problem:
            self._error(1201, f"invalid parameter: {problem}")
            return
        with sim.lock:
            # At most one query a second (§9, unconfirmed), on the simulator's own clock.
            now, last = sim.now(), sim.account.last_request
            sim.account.last_request = now
            if last is not None and now - last < 1.0:
                self._error(1302, "account costs: at most one request per second")
                return
            data = costs.answer(sim, query)
        self._json(200, envelope(data))

    def _video(self, task_id: str) -> None:
        sim = self.sim
        with sim.lock:
            sim.counts["video"] += 1
            task = sim.by_id.get(task_id)
        fault = sim.take_fault("video")
        mode = fault or sim.video_mode
        if task is None or mode == "missing":
            self._send(404, b"not found", "text/plain")
            return
        payload = clip_bytes()
        if mode == "wrong_type":
            self._send(200, b"<html>a login page, not a video</html>", "text/html")
            return
        if mode == "slow":
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            for start in range(0, len(payload), 8192):
                self.wfile.write(payload[start : start + 8192])
                self.wfile.flush()
                time.sleep(self.sim.slow_seconds)
            return
        if mode == "corrupt":
            payload = hashlib.sha256(payload).digest() * 64
        self._send(200, payload, "video/mp4")
