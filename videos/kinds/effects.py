"""effects (kling-kinds.md §7.7): a named scene applied to one photo, or to two side by side.

No model, mode or duration on the wire; the scenes are data (EffectScene), so a new scene
needs no code: names the studio does not list pass through, retired ones are refused with
their successor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ..forms import TextField
from ..models import EffectScene
from .base import KindSpec, base64_of
from .forms import KindForm

if TYPE_CHECKING:
    from ..models import Generation

EFFECT_SECONDS = 5  # what an effect produces (and what it is priced as)


class EffectsForm(KindForm):
    """A scene and its image(s): `input` as the API sends it, or uploads from the web form."""

    # The web form's photo fields are the API's input object.
    api_names = {"image": "input", "image_2": "input"}
    kind = "effects"
    default_model = "kling-effects"
    takes_duration = False
    takes_watermark = False
    remix_params = {"effect_scene": "effect_scene"}
    remix_slots = {("image", 0): "image", ("image", 1): "image_2"}

    effect_scene = TextField(max_length=64, label=_("Effect"))
    # The wire's {"image": …} or {"images": [left, right]}; an older "duration" is dropped.
    input = forms.JSONField(required=False, widget=forms.HiddenInput)
    image = forms.Field(required=False, label=_("Photo"), widget=forms.ClearableFileInput)
    image_2 = forms.Field(
        required=False, label=_("Second photo (two-person scenes)"), widget=forms.ClearableFileInput
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scene: EffectScene | None = None
        # Effects take no prompt: hide the shared prompt fields.
        for name in ("prompt", "negative_prompt", "duration", "sound", "mode"):
            self.fields.pop(name, None)

    def clean_image(self) -> Any:
        return self.files.get("image") or self.cleaned_data.get("image")

    def clean_image_2(self) -> Any:
        return self.files.get("image_2") or self.cleaned_data.get("image_2")

    def clean_effect_scene(self) -> str:
        name = self.cleaned_data["effect_scene"].strip()
        scene = EffectScene.objects.filter(name=name).first()
        if scene is not None and scene.is_retired:
            since = scene.retired_on.isoformat() if scene.retired_on else ""
            if scene.successor:
                message = _(
                    "The effect %(name)s was retired on %(since)s; use %(successor)s instead."
                )
            else:
                message = _("The effect %(name)s was retired on %(since)s.")
            raise ValidationError(
                message,
                code="retired",
                params={"name": name, "since": since, "successor": scene.successor},
            )
        self.scene = scene
        return name

    def clean_input(self) -> dict[str, Any]:
        value = self.cleaned_data.get("input") or {}
        if not isinstance(value, dict):
            raise ValidationError(_("input must be an object with image or images."))
        unknown = set(value) - {"image", "images", "duration"}
        if unknown:
            raise ValidationError(
                _("input has unknown fields: %(fields)s.") % {"fields": ", ".join(sorted(unknown))}
            )
        images = value.get("images")
        if images is not None and (not isinstance(images, list) or len(images) != 2):
            raise ValidationError(_("input.images must be a list of two images."))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["mode"], data["duration"] = "std", EFFECT_SECONDS
        images = self._images(data)
        if "effect_scene" not in data or "input" in self.errors:
            return data
        name = data["effect_scene"]
        wanted = (2 if self.scene.dual else 1) if self.scene is not None else len(images) or 1
        if len(images) != wanted:
            self.add_error(
                "image" if not images else "image_2",
                ValidationError(
                    _("The effect %(name)s takes two photos.")
                    if wanted == 2
                    else _("The effect %(name)s takes one photo."),
                    params={"name": name},
                    code="images",
                ),
            )
            return data
        for position, value in enumerate(images):
            try:
                self.add_input("image", position, value, label=f"photo {position + 1}")
            except ValidationError as exc:
                self.add_error("image" if position == 0 else "image_2", exc)
        return data

    def _images(self, data: dict[str, Any]) -> list[Any]:
        given = data.get("input") or {}
        if given.get("images"):
            return list(given["images"])
        if given.get("image"):
            return [given["image"]]
        return [value for value in (data.get("image"), data.get("image_2")) if value]

    def billed_duration(self) -> int:
        return EFFECT_SECONDS

    def params(self) -> dict[str, Any]:
        dual = len(self.pending_inputs) == 2
        return {"effect_scene": self.cleaned_data["effect_scene"], "dual": dual}


def build_body(generation: Generation, files: dict[str, str], model_name: str) -> dict[str, Any]:
    """{"effect_scene", "input": {"image"} | {"images": [left, right]}}: no model, no duration."""
    images = [base64_of(files[key]) for key in sorted(files) if key.startswith("image.")]
    scene = generation.params.get("effect_scene", "")
    if len(images) == 2:
        return {"effect_scene": scene, "input": {"images": images}}
    return {"effect_scene": scene, "input": {"image": images[0] if images else ""}}


def page_context() -> dict[str, Any]:
    """The scene picker: the offered scenes, one-photo and two-photo scenes apart."""
    scenes = list(EffectScene.objects.filter(enabled=True))
    return {
        "single_scenes": [s for s in scenes if not s.dual],
        "dual_scenes": [s for s in scenes if s.dual],
    }


SPEC = KindSpec(
    name="effects",
    label=_("Effect"),
    input_fields=(),
    build_body=build_body,
    form_class=EffectsForm,
    page_context=page_context,
)
