"""One module per kind of generation: how its Kling create body is built, and what it needs.

Generation.kind is the kind's Kling path segment (kling-kinds.md §7), so an upstream builds
/v1/videos/{kind} for every kind alike. Adding a kind: a module here, its entry in KINDS,
its local rendering in videos/rendering/requests.py.
"""

from . import image2video, text2video
from .base import KindSpec

KINDS: dict[str, KindSpec] = {spec.name: spec for spec in (text2video.SPEC, image2video.SPEC)}


def kind_spec(name: str) -> KindSpec:
    """The spec of a kind; KeyError for a kind the studio does not know."""
    return KINDS[name]


__all__ = ["KINDS", "KindSpec", "kind_spec"]
