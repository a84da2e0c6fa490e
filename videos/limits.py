"""Limits on creating generations, as domain errors: the API maps them to HTTP codes, the web
UI shows them beside the form. What is limited (a key's budget and concurrency, a project's
budget, a key's requests per minute) says so here; who checks is the create path's caller."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol


class LimitExceeded(Exception):
    """A create (or request) that a limit refuses; nothing has been written.

    kind: "model" (not allowed for this key), "budget" (units spent), "concurrency"
    (running jobs), "rate" (requests this minute), "project_budget".
    """

    KINDS = ("model", "budget", "concurrency", "rate", "project_budget")

    def __init__(self, kind: str, message: str, *, field: str = "") -> None:
        if kind not in self.KINDS:
            raise ValueError(f"unknown limit kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.field = field


class Limit(Protocol):
    """One limit on a create, checked inside the transaction that inserts the row.

    check() may lock the rows it counts (a key, a project): two creates racing for the
    last unit must be serialised, or both would pass. It raises LimitExceeded.
    """

    def check(self, model_name: str, estimate: Decimal) -> None: ...
