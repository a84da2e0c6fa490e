"""One module per kind of generation: how its Kling create body is built, and what it needs.

Generation.kind is the kind's Kling path segment (kling-kinds.md §7), so an upstream builds
/v1/videos/{kind} for every kind alike. Adding a kind touches: a module here (its form with
its rules, its body, and how a generation maps back onto the form for remix and re-run:
KindForm.remix_params/remix_slots) and its entry in KINDS; its local rendering in
videos/rendering/requests.py; its simulator rules in simulator/rules/; its published body in
api/bodies.py; its catalogue rows (a data migration); its page in templates/videos/kinds/.
"""

from typing import Any

from . import (
    effects,
    image2video,
    lip_sync,
    multi_image2video,
    omni_video,
    text2video,
    video_extend,
)
from .base import KindSpec

KINDS: dict[str, KindSpec] = {
    spec.name: spec
    for spec in (
        text2video.SPEC,
        image2video.SPEC,
        effects.SPEC,
        multi_image2video.SPEC,
        omni_video.SPEC,
        video_extend.SPEC,
        lip_sync.SPEC,
    )
}


def kind_spec(name: str) -> KindSpec:
    """The spec of a kind; KeyError for a kind the studio does not know."""
    return KINDS[name]


# The kinds with a page of their own (text2video and image2video share the classic form).
PAGE_KINDS = [name for name, spec in KINDS.items() if spec.form_class is not None]


def kind_page_context(name: str) -> dict[str, Any]:
    """What a kind's page shows besides its form (the effect scenes, the models...)."""
    spec = KINDS[name]
    extra = spec.page_context() if spec.page_context is not None else {}
    return {"page_kinds": [KINDS[k] for k in PAGE_KINDS], **extra}


__all__ = ["KINDS", "PAGE_KINDS", "KindSpec", "kind_page_context", "kind_spec"]
