"""Prompt alternatives and variants: one web submission becomes up to MAX_JOBS jobs.

`{red|blue} kite` is two prompts, `{red|blue} {kite|boat}` four; `\\{`, `\\}`, `\\|` and
`\\\\` write the character itself. The count is worked out before any prompt is built, so
a template that would expand to millions is refused without building them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MAX_VARIANTS = 4
MAX_JOBS = 16
ESCAPABLE = "{}|\\"


@dataclass(frozen=True)
class PromptTemplate:
    """A prompt split into literal text and groups of alternatives, in order."""

    parts: tuple[str | tuple[str, ...], ...]

    @property
    def count(self) -> int:
        return math.prod(len(part) for part in self.parts if isinstance(part, tuple))

    @property
    def has_alternatives(self) -> bool:
        return any(isinstance(part, tuple) for part in self.parts)

    def expand(self) -> list[str]:
        """Every combination, the first group varying slowest (reading order)."""
        prompts = [""]
        for part in self.parts:
            choices = part if isinstance(part, tuple) else (part,)
            prompts = [done + choice for done in prompts for choice in choices]
        return [prompt.strip() for prompt in prompts]


def parse_prompt(text: str) -> PromptTemplate:
    """Split a prompt into text and {a|b} groups; ValidationError says where a brace is wrong."""
    parts: list[str | tuple[str, ...]] = []
    literal: list[str] = []
    group: list[str] | None = None  # the alternatives of the open group, the last one growing
    opened_at = 0
    i = 0
    while i < len(text):
        char = text[i]
        escaped = char == "\\" and i + 1 < len(text) and text[i + 1] in ESCAPABLE
        if escaped:
            char = text[i + 1]
            i += 1
        if escaped or char not in "{}|" or (char == "|" and group is None):
            if group is None:
                literal.append(char)
            else:
                group[-1] += char
        elif char == "{":
            if group is not None:
                raise ValidationError(
                    _(
                        "A “{” at character %(at)d opens a group inside the group opened at "
                        "character %(opened)d; groups cannot nest. Write \\{ for a literal brace."
                    )
                    % {"at": i + 1, "opened": opened_at + 1},
                    code="nested_braces",
                )
            parts.append("".join(literal))
            literal, group, opened_at = [], [""], i
        elif char == "}":
            if group is None:
                raise ValidationError(
                    _(
                        "The “}” at character %(at)d closes no group. Write \\} for a literal "
                        "brace, or open the group with “{”."
                    )
                    % {"at": i + 1},
                    code="unbalanced_braces",
                )
            parts.append(tuple(group))
            group = None
        else:  # "|" inside a group
            group.append("")
        i += 1
    if group is not None:
        raise ValidationError(
            _(
                "The “{” at character %(at)d is never closed: end the alternatives with “}”, "
                "or write \\{ for a literal brace."
            )
            % {"at": opened_at + 1},
            code="unbalanced_braces",
        )
    parts.append("".join(literal))
    return PromptTemplate(tuple(part for part in parts if part != ""))


def job_count_error(prompts: int, variants: int) -> ValidationError | None:
    """Why a submission of prompts × variants jobs is too large, or None."""
    total = prompts * variants
    if total <= MAX_JOBS:
        return None
    return ValidationError(
        _(
            "This makes %(total)d jobs (%(prompts)d prompts × %(variants)d variants); "
            "at most %(max)d are sent per submission. Remove some alternatives or variants."
        )
        % {"total": total, "prompts": prompts, "variants": variants, "max": MAX_JOBS},
        code="too_many_jobs",
    )
