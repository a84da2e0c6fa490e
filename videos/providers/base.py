"""The seam between the jobs and the upstreams: what every upstream module offers, in plain data.

Upstream modules are pure adapters. They get a provider's settings (ProviderConfig) and a
request that the jobs prepared (UpstreamRequest: the strict Kling body with frames already
in Base64, the callback URL, the input files), and answer TaskStates. Nothing under
providers/ reads or writes the database or the studio's storage: preparing a request and
acting on the answer are the jobs' work (videos/tasks.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

# The optional features a create may ask for (kling-kinds.md §7.1, §7.2, §8). Each adapter
# class declares the ones it can do (features) and the kinds it serves (kinds, None: all),
# so the forms and the routing ask the adapter, never test a provider's kind.
FEATURES = frozenset(
    {"camera_control", "sound", "voices", "multi_shot", "motion_masks", "elements"}
)


def wanted_features(
    *,
    camera_control: object = None,
    sound: object = False,
    voice_list: object = None,
    multi_shot: object = False,
    static_mask: object = None,
    dynamic_masks: object = None,
    element_list: object = None,
) -> set[str]:
    """The optional features a create asks for, from the fields that carry them."""
    wanted = set()
    if camera_control:
        wanted.add("camera_control")
    if sound and sound != "off":
        wanted.add("sound")
    if voice_list:
        wanted.add("voices")
    if multi_shot:
        wanted.add("multi_shot")
    if static_mask or dynamic_masks:
        wanted.add("motion_masks")
    if element_list:
        wanted.add("elements")
    return wanted


def cannot_do(adapter: object, kind: str, wanted: set[str]) -> set[str]:
    """What of a create (its kind, its features) an adapter class does not declare it can do."""
    kinds = getattr(adapter, "kinds", None)
    missing = set(wanted) - set(getattr(adapter, "features", FEATURES))
    if kinds is not None and kind not in kinds:
        missing.add(kind)
    return missing


@dataclass(frozen=True)
class ProviderConfig:
    """What an upstream module needs to know about a provider: no model, no database."""

    pk: int
    name: str
    kind: str
    base_url: str = ""
    path_prefix: str = ""
    credentials: dict[str, str] = field(default_factory=dict)
    timeout: float = 30.0
    # Seconds after an ambiguous create before a lookup is believed (STUDIO_LOOKUP_GRACE_SECONDS).
    lookup_grace: float = 35.0

    def cache_key(self) -> tuple[Any, ...]:
        return (
            self.pk,
            self.kind,
            self.base_url,
            self.path_prefix,
            tuple(sorted(self.credentials.items())),
            self.timeout,
            self.lookup_grace,
        )


@dataclass
class UpstreamRequest:
    """One create, prepared by the jobs: everything an upstream module sends or renders.

    body is the strict Kling create body for the kind (kling-api.md §1.3-1.5,
    kling-kinds.md §7): model_name already mapped to the provider's name, images as raw
    Base64, external_task_id and callback_url set. Other protocols translate from it.
    files holds the same inputs as local paths (the local renderer draws from them).
    """

    kind: str
    body: dict[str, Any]
    external_id: str
    files: dict[str, str] = field(default_factory=dict)
    workdir: str = ""
    estimated_units: Decimal | None = None
    # The generation's aspect ratio: image2video's Kling body has none (the frame decides),
    # but the gateways' sizes need one (kling-kinds.md §8a: always send it).
    aspect_ratio: str = ""


@dataclass
class TaskState:
    """An upstream's answer about one task, normalised to the studio's words (kling-api.md §4.1)."""

    task_id: str
    status: str | None  # "submitted", "processing", "succeeded", "failed" or None when unknown
    message: str = ""
    video_url: str = ""
    # A finished video that is already a local file (the local renderer): nothing to download.
    video_path: str = ""
    poster_path: str = ""
    units: Decimal | None = None
    progress: int | None = None
    external_task_id: str = ""
    # task_result.videos[0].id: the upstream's id of the video (video-extend, lip-sync need it).
    video_id: str = ""
    # Gateways that bill in tokens (Seedance, kling-kinds.md §8c) report usage.completion_tokens.
    tokens: int | None = None
    # Seconds the upstream asks us to wait before the next poll (openai-poll-after-ms, §8a).
    poll_after: float | None = None
    # Things the job's timeline should say about this create (fields a gateway likely ignores).
    notes: list[str] = field(default_factory=list)
    raw: Any = field(default=None, repr=False)


@dataclass(frozen=True)
class ResourcePack:
    """One resource pack of an upstream account, as /account/costs lists it (kling-kinds.md §7.8).

    Quantities are units; remaining lags the account's real spend by up to 12 hours.
    """

    name: str
    pack_id: str
    pack_type: str  # decreasing_total | constant_period
    total: Decimal
    remaining: Decimal
    status: str  # toBeOnline | online | expired | runOut
    purchase_time: datetime | None = None
    effective_time: datetime | None = None
    invalid_time: datetime | None = None


@dataclass
class Face:
    """One face identify-face found (kling-kinds.md §7.6): times in ms of the video.

    The picture is a URL on the upstream (Kling) or JPEG bytes (the local renderer).
    """

    face_id: str
    start_time: int
    end_time: int
    image_url: str = ""
    image: bytes = field(default=b"", repr=False)


@dataclass
class FaceSession:
    """identify-face's synchronous answer: the upstream's session id and the faces."""

    session_id: str
    faces: list[Face]
    units: Decimal | None = None
    raw: Any = field(default=None, repr=False)


class UpstreamError(Exception):
    """Any failed upstream call.

    permanent: the job itself is bad (fail it with the message).
    provider_problem: the credential/account is unusable (mark the provider unhealthy, fail over).
    retry_after: seconds to wait before trying again (rate or concurrency limits, 5xx).
    ambiguous: the create may have reached the upstream (look it up before re-creating).
    unreachable: no answer at all (refused, DNS, timeout): counts toward the provider's health.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        permanent: bool = False,
        provider_problem: bool = False,
        retry_after: float | None = None,
        ambiguous: bool = False,
        unreachable: bool = False,
        raw: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.permanent = permanent
        self.provider_problem = provider_problem
        self.retry_after = retry_after
        self.ambiguous = ambiguous
        self.unreachable = unreachable
        self.raw = raw


class Upstream(Protocol):
    """The one interface every upstream implements (kling.py, local.py, ...).

    lists_tasks: whether scan() can read many tasks in a few list requests (§6.7).
    lookup_grace: seconds after an ambiguous create before find_by_external_id is believed
      (longer than the upstream's own timeout, so a create it was still processing is listed).
    submit_seconds: how long one submit may take (the job's lease must outlast it).
    takes_external_id(model): whether a create of this upstream model carries our external
      task id, so an ambiguous create can be looked up (§4.3). Where it cannot (the gateways
      of kling-kinds.md §8), an ambiguous create is never retried: its outcome is unknown.
    download(url, target, ...): fetch a result the upstream itself serves (its content
      endpoint, behind its key) into target; False when the URL is not the upstream's own.
    """

    config: ProviderConfig
    lists_tasks: bool
    lookup_grace: float
    submit_seconds: float

    def submit(self, request: UpstreamRequest) -> TaskState: ...

    def fetch(self, kind: str, task_id: str) -> TaskState: ...

    def scan(
        self, kind: str, wanted: Iterable[str], *, oldest_ms: int, max_pages: int
    ) -> dict[str, TaskState]: ...

    def find_by_external_id(
        self, kind: str, external_id: str, *, since: float | None
    ) -> TaskState | None: ...

    def probe(self) -> str: ...

    def identify_faces(
        self, *, video_id: str = "", video_url: str = "", video_path: str
    ) -> FaceSession:
        """identify-face (kling-kinds.md §7.6), synchronous: the faces of one of this
        account's videos (video_id: its upstream id) or of a video at video_url; video_path
        is the studio's copy either way, for renderers that look at the file. It has no
        external id: never retried blindly."""
        ...

    def takes_external_id(self, model: str) -> bool: ...

    def balance(self) -> list[ResourcePack] | None:
        """The account's resource packs (§7.8); None when the upstream is not metered."""
        ...

    def download(self, url: str, target: str, *, max_bytes: int, deadline: float) -> bool: ...
