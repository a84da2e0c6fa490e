"""The one way a generation comes into being, whoever asks: the web form, a re-run, a remix,
a recipe, an admin's retry or any API family.

A validated form stages the new input files (storage may be a network service, so never
inside a transaction), then one transaction checks the limits, inserts the row and
whatever the caller records with it, and queues the submission once committed. On any
error nothing is left: no row, no staged file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction

from .limits import Limit, LimitExceeded, ProjectLimit
from .models import Generation, Project
from .tasks import enqueue_submit

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from .forms import GenerationForm


@dataclass
class Origin:
    """Who creates, and what comes with the row.

    limits: checked in the create's transaction (an API key's); a project's budget is added
      by create_generation itself, so no caller can forget it.
    project: the board the new generation goes on.
    record: writes what the caller keeps beside the row (the API's task record), in the same
      transaction, so a refused record (a duplicate external_task_id) leaves no row behind.
    """

    owner: AbstractBaseUser
    api_key: Any = None
    parent: Generation | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    client_callback_url: str = ""
    limits: Sequence[Limit] = ()
    project: Project | None = None
    record: Callable[[Generation], None] | None = None


def create_generation(form: GenerationForm, origin: Origin) -> Generation:
    """Stage the inputs, then insert and queue the generation within every limit; all or nothing."""
    generation = form.stage_generation(
        origin.owner,
        api_key=origin.api_key,
        parent=origin.parent,
        client_callback_url=origin.client_callback_url,
        extra=origin.extra,
    )
    estimate = generation.estimated_units or Decimal(0)
    limits = list(origin.limits)
    if origin.project is not None:
        generation.project = origin.project
        limits.append(ProjectLimit(origin.project))
    with discard_staged_on_error(generation), transaction.atomic():
        for limit in limits:
            limit.check(generation.model_name, estimate)
        generation.save(force_insert=True)
        form.save_inputs(generation)
        parent = generation.parent_id
        generation.record("info", "created" + (f" as a remix of {parent}" if parent else ""))
        if origin.record is not None:
            origin.record(generation)
        enqueue_submit(generation.pk)
    return generation


@contextmanager
def discard_staged_on_error(generation: Generation) -> Iterator[None]:
    """Delete the files staged for a generation whose row was not written after all."""
    try:
        yield
    except BaseException:
        for name in getattr(generation, "staged_files", []):
            default_storage.delete(name)
        raise


def rerun(parent: Generation, owner: AbstractBaseUser) -> Generation:
    """Queue a generation's parameters again, linked to it as its parent.

    The parameters go through the form as new input, so a model since disabled or a
    rule since tightened is refused (ValidationError) rather than sent upstream; so is a
    copy its project's budget no longer covers.
    """
    from .forms import GenerationForm, initial_from

    data = {k: v for k, v in initial_from(parent).items() if v is not None}
    form = GenerationForm(data, inherit_frames_from=parent)
    if not form.is_valid():
        raise ValidationError(form.errors.as_text())
    # The copy goes on the original's board, within that board's budget.
    origin = Origin(owner=owner, parent=parent, extra=parent.extra, project=parent.project)
    try:
        return create_generation(form, origin)
    except LimitExceeded as exc:
        raise ValidationError(exc.message) from exc
