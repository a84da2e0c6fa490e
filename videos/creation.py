"""The one way a generation comes into being, whoever asks: the web form, a re-run, a remix,
a recipe, an admin's retry or any API family.

A validated form stages the new input files (storage may be a network service, so never
inside a transaction), then one transaction checks the limits, inserts the row and
whatever the caller records with it, and queues the submission once committed. On any
error nothing is left: no row, no staged file.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import FileField

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
    return create_generations(form, origin)[0]


def create_generations(
    form: GenerationForm, origin: Origin, prompts: Sequence[str] = ()
) -> list[Generation]:
    """One job per prompt (a web batch), or the form's one job; all in one transaction.

    The inputs are staged once and shared by the batch's rows (delete_with_files keeps a
    file while another row uses it). Every row passes every limit inside the same
    transaction, each seeing the rows before it, so a budget that covers three of four
    jobs refuses the submission: none is created, nothing is queued, no file is left.
    """
    first = form.stage_generation(
        origin.owner,
        api_key=origin.api_key,
        parent=origin.parent,
        client_callback_url=origin.client_callback_url,
        extra=origin.extra,
    )
    if len(prompts) == 1:
        first.prompt = prompts[0]  # its escapes resolved: \{ is sent as {
    limits = list(origin.limits)
    if origin.project is not None:
        first.project = origin.project  # before the batch copies the row's values
        limits.append(ProjectLimit(origin.project))
    rows = [first] if len(prompts) < 2 else _batch_rows(first, prompts)
    estimate = first.estimated_units or Decimal(0)
    with discard_staged_on_error(first), transaction.atomic():
        for generation in rows:
            for limit in limits:
                limit.check(generation.model_name, estimate)
            generation.save(force_insert=True)
            form.save_inputs(generation)
            parent = generation.parent_id
            generation.record("info", "created" + (f" as a remix of {parent}" if parent else ""))
            if origin.record is not None:
                origin.record(generation)
            enqueue_submit(generation.pk)
    return rows


def _batch_rows(first: Generation, prompts: Sequence[str]) -> list[Generation]:
    """The unsaved rows of a batch: the staged one's values, each with its prompt and place."""
    batch_id = uuid.uuid4()
    values = {
        f.attname: (
            getattr(first, f.attname).name
            if isinstance(f, FileField)
            else getattr(first, f.attname)
        )
        for f in Generation._meta.concrete_fields
        if not f.primary_key
    }
    rows = []
    for index, prompt in enumerate(prompts):
        row = first if index == 0 else Generation(**values)
        row.prompt, row.batch_id, row.batch_index, row.batch_size = (
            prompt,
            batch_id,
            index,
            len(prompts),
        )
        rows.append(row)
    return rows


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
    from .kinds import KINDS

    spec = KINDS.get(parent.kind)
    form: Any
    if spec is not None and spec.form_class is not None:
        # A kind with its own form: its values, and every stored input kept (shared).
        form = spec.form_class(spec.form_class.initial_from(parent), remix_of=parent)
    else:
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
