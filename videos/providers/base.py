"""What every upstream module offers the jobs: submit, fetch status, and one error type."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..models import Generation, Provider


@dataclass
class TaskState:
    """An upstream's answer about one task, normalised to the studio's words (kling-api.md §4.1)."""

    task_id: str
    status: str | None  # "submitted", "processing", "succeeded", "failed" or None when unknown
    message: str = ""
    video_url: str = ""
    units: Decimal | None = None
    progress: int | None = None
    external_task_id: str = ""
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
    """One module per upstream implements this (see local.py, kling.py)."""

    #: True when the provider renders in our own worker (no download, no polling over HTTP).
    in_process: bool

    def submit(self, generation: Generation) -> TaskState: ...

    def fetch_status(self, generation: Generation) -> TaskState: ...


def get_upstream(provider: Provider) -> Upstream:
    """The module that speaks this provider's protocol."""
    from . import kling, local  # they import this module's types

    if provider.kind == "local":
        return local.LocalUpstream(provider)
    return kling.client_for(provider)
