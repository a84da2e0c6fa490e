"""Limits on creating generations, as domain errors: the API maps them to HTTP codes, the web
UI shows them beside the form. What is limited (a key's budget and concurrency, a project's
budget, a key's requests per minute) says so here; who checks is the create path's caller."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from .models import Project


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


class ProjectLimit:
    """A project's unit budget: a job whose estimate would take it past is refused."""

    def __init__(self, project: Project) -> None:
        self.project = project

    def check(self, model_name: str, estimate: Decimal) -> None:
        """Lock the project row, then count: two creates racing for its last units queue up."""
        from .models import Project

        project = Project.objects.select_for_update().get(pk=self.project.pk)
        if project.budget_units is None:
            return
        spent = project.units_committed().quantize(Decimal("0.01"))
        if spent + estimate > project.budget_units:
            left = max(project.budget_units - spent, Decimal(0))
            raise LimitExceeded(
                "project_budget",
                _(
                    "project %(name)s has %(left)s of %(budget)s units left; "
                    "this job needs %(estimate)s"
                )
                % {
                    "name": repr(project.name),
                    "left": left,
                    "budget": project.budget_units,
                    "estimate": estimate,
                },
                field="project",
            )
