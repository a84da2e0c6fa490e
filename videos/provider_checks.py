"""Refuse at create time what no provider that could take a job can do (kling-kinds.md §8).

Each adapter class declares the kinds and features it can do (videos/providers); this reads
those declarations for every form alike (the classic form, the kinds' forms, the API through
them), so nothing here tests a provider's kind. A provider chosen by hand must do it all; with
automatic routing, one serving provider that can do it is enough (the jobs route only there,
Provider.objects.serving), and none means a message next to the field, never a dropped field.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Provider

# The form field that carries each feature: where its error is shown (and the API's 1201 names).
FEATURE_FIELDS = {
    "camera_control": "camera_type",
    "sound": "sound",
    "voices": "voice_list",
    "multi_shot": "multi_shot",
    "motion_masks": "static_mask",
    "elements": "element_list",
}
FEATURE_NAMES = {
    "camera_control": _("camera control"),
    "sound": _("sound"),
    "voices": _("voices"),
    "multi_shot": _("several shots"),
    "motion_masks": _("motion masks"),
    "elements": _("elements"),
}


def _field_for(feature: str, data: dict[str, Any]) -> str:
    if feature == "motion_masks" and not data.get("static_mask"):
        return "dynamic_masks"
    return FEATURE_FIELDS.get(feature, "model_name")  # a kind: the model was chosen for it


def _name_of(feature: str) -> str:
    return str(FEATURE_NAMES.get(feature, feature))


def refuse_what_no_provider_can_do(
    form: forms.Form, data: dict[str, Any], kind: str, model_name: str, wanted: set[str]
) -> None:
    """Add an error next to each field asking for what the possible providers cannot do."""
    provider: Provider | None = data.get("provider")
    if provider is not None:
        if not provider.serves(model_name):
            return  # its own error says so
        for feature in sorted(provider.cannot_do(kind, wanted)):
            _add(
                form,
                _field_for(feature, data),
                _("%(name)s (%(kind)s) cannot do %(what)s.")
                % {"name": provider.name, "kind": provider.kind, "what": _name_of(feature)},
            )
        return
    routes = Provider.objects.routes_for(model_name)
    if not routes or any(not p.cannot_do(kind, wanted) for p in routes):
        return  # nothing serves it (the jobs say so), or one can: routing picks that one
    # What at least one provider cannot do; when each could do a part but none the whole,
    # every field asked for is named.
    blocked = set.intersection(*(p.cannot_do(kind, wanted) for p in routes)) or (
        wanted | {kind}
    ) & set.union(*(p.cannot_do(kind, wanted) for p in routes))
    names = ", ".join(sorted(p.name for p in routes))
    for feature in sorted(blocked):
        _add(
            form,
            _field_for(feature, data),
            _("No provider serving %(model)s can do %(what)s (served by %(names)s).")
            % {"model": model_name, "what": _name_of(feature), "names": names},
        )


def _add(form: forms.Form, field: str, message: str) -> None:
    if field in form.errors:
        return  # one message per field: its own rule already refused it
    form.add_error(field if field in form.fields else None, message)
