"""Parameter diffs between generations: the prompt word by word, every other field as a whole."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from django.utils.translation import gettext_lazy as _

from videos.models import Generation

# The rows of a comparison, in display order: (label, how to read it from a generation).
COMPARED_FIELDS: list[tuple[Any, str]] = [
    (_("Model"), "model_name"),
    (_("Kind"), "kind"),
    (_("Sound"), "sound"),
    (_("Shots"), "shots"),
    (_("Effect scene"), "effect_scene"),
    (_("Mode"), "mode"),
    (_("Duration (s)"), "duration"),
    (_("Aspect ratio"), "aspect_ratio"),
    (_("CFG scale"), "cfg_scale"),
    (_("Camera"), "camera_control"),
    (_("Negative prompt"), "negative_prompt"),
    (_("First frame"), "image"),
    (_("Last frame"), "image_tail"),
    (_("Kind settings"), "params"),
    (_("Status"), "status"),
    (_("Provider"), "provider"),
    (_("Author"), "owner"),
    (_("Units"), "units"),
]


@dataclass
class WordOp:
    op: str  # equal, insert, delete
    text: str


@dataclass
class FieldRow:
    label: str
    values: list[str]
    differs: bool


@dataclass
class Comparison:
    generations: list[Generation]
    prompts: list[list[WordOp]] = field(default_factory=list)
    rows: list[FieldRow] = field(default_factory=list)

    @property
    def differing(self) -> list[FieldRow]:
        return [row for row in self.rows if row.differs]


def word_diff(base: str, other: str) -> list[WordOp]:
    """How `other` differs from `base`, word by word (insertions and deletions marked)."""
    a, b = base.split(), other.split()
    ops: list[WordOp] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            ops.append(WordOp("equal", " ".join(a[i1:i2])))
            continue
        if tag in ("delete", "replace"):
            ops.append(WordOp("delete", " ".join(a[i1:i2])))
        if tag in ("insert", "replace"):
            ops.append(WordOp("insert", " ".join(b[j1:j2])))
    return ops


def display_value(generation: Generation, name: str) -> str:
    """A field as people read it (JSON compact, empty shown as an em dash)."""
    params = generation.parameters()
    if name in params:
        value = params[name]
    elif name == "owner":
        value = generation.owner.get_username()
    elif name == "provider":
        value = generation.provider.name if generation.provider else ""
    else:
        value = getattr(generation, name)
    if isinstance(value, dict | list):
        value = json.dumps(value, sort_keys=True)
    return "—" if value in (None, "") else str(value)


def compare(generations: list[Generation]) -> Comparison:
    """Diff 2-4 generations against the first one (the baseline)."""
    base = generations[0]
    result = Comparison(generations=generations)
    result.prompts = [[WordOp("equal", base.prompt)]] + [
        word_diff(base.prompt, other.prompt) for other in generations[1:]
    ]
    for label, name in COMPARED_FIELDS:
        values = [display_value(g, name) for g in generations]
        result.rows.append(FieldRow(label, values, differs=len(set(values)) > 1))
    return result
