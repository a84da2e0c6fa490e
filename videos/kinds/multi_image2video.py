"""multi-image2video (kling-kinds.md §7.4): one to four images of a subject become one clip.

Only kling-v1-6 does it; any other model is refused as unknown (1203), as Kling does. No
cfg_scale, camera or sound. The images are GenerationInput rows (role "image", list order),
staged as "image.0" ... "image.3" before the body is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .base import KindSpec, base64_of
from .forms import JSONListField, KindForm

if TYPE_CHECKING:
    from ..models import Generation

MAX_IMAGES = 4
ASPECT_RATIOS = ("16:9", "9:16", "1:1")
UPLOADS = tuple(f"image_{n}" for n in range(1, MAX_IMAGES + 1))


class MultiImageForm(KindForm):
    """1..4 images (the API's image_list, or the web form's uploads), a prompt and the clip's
    shape; the chosen model's catalogue entry rules mode and duration."""

    kind = "multi-image2video"
    default_model = "kling-v1-6"
    # The web form's uploads are the API's image_list.
    api_names = dict.fromkeys(UPLOADS, "image_list")
    remix_params = {"aspect_ratio": "aspect_ratio"}
    remix_slots = {("image", n): name for n, name in enumerate(UPLOADS)}

    image_list = JSONListField(max_items=MAX_IMAGES, widget=forms.HiddenInput)
    aspect_ratio = forms.ChoiceField(
        choices=[(r, r) for r in ASPECT_RATIOS], required=False, label=_("Aspect ratio")
    )
    image_1 = forms.Field(required=False, label=_("Image 1"), widget=forms.ClearableFileInput)
    image_2 = forms.Field(required=False, label=_("Image 2"), widget=forms.ClearableFileInput)
    image_3 = forms.Field(required=False, label=_("Image 3"), widget=forms.ClearableFileInput)
    image_4 = forms.Field(required=False, label=_("Image 4"), widget=forms.ClearableFileInput)

    def __init__(self, *args: Any, api: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, api=api, **kwargs)
        self.api = api
        self.fields.pop("sound")  # §7.4: no sound on this kind
        self.fields["prompt"].required = True

    def clean_model_name(self) -> str:
        try:
            return super().clean_model_name()
        except ValidationError as exc:
            # §7.4/§9: Kling answers 1203 (model not found) for any model but kling-v1-6.
            raise ValidationError(
                _("%(model)s does not do multi-image2video; use %(default)s.")
                % {
                    "model": self.cleaned_data.get("model_name") or self.default_model,
                    "default": self.default_model,
                },
                code="unknown_model",
            ) from exc

    def clean_prompt(self) -> str:
        prompt = super().clean_prompt()
        if not prompt:
            raise ValidationError(_("Describe the video: a prompt is required."), code="required")
        return prompt

    def clean_image_list(self) -> list[Any]:
        items = self.cleaned_data.get("image_list") or []
        for n, item in enumerate(items):
            if not isinstance(item, dict) or set(item) != {"image"}:
                raise ValidationError(
                    f'image_list[{n}] must be {{"image": a URL or Base64}}.', code="invalid"
                )
        return [item["image"] for item in items]

    def _upload(self, name: str) -> Any:
        return self.files.get(name) or self.cleaned_data.get(name)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["aspect_ratio"] = data.get("aspect_ratio") or "16:9"
        if "image_list" in self.errors:
            return data
        listed = data.get("image_list") or []
        uploads = [self._upload(name) for name in UPLOADS]
        images = listed or [value for value in uploads if value]
        where = "image_list" if self.api or listed else "image_1"
        if not images:
            self.add_error(where, ValidationError(_("Give 1 to 4 images."), code="required"))
            return data
        if listed and any(uploads):
            self.add_error(where, _("Give the images either as image_list or as uploads."))
            return data
        for position, value in enumerate(images):
            try:
                self.add_input("image", position, value, label=f"image {position + 1}")
            except ValidationError as exc:
                field = where if listed or self.api else UPLOADS[uploads.index(value)]
                self.add_error(field, exc)
        return data

    def params(self) -> dict[str, Any]:
        return {"aspect_ratio": self.cleaned_data["aspect_ratio"]}


def build_body(generation: Generation, files: dict[str, str], model_name: str) -> dict[str, Any]:
    """{"model_name", "image_list": [{"image"}], "prompt", "mode", "duration", "aspect_ratio"}."""
    keys = sorted((k for k in files if k.startswith("image.")), key=lambda k: int(k[6:]))
    body: dict[str, Any] = {
        "model_name": model_name,
        "image_list": [{"image": base64_of(files[key])} for key in keys],
        "prompt": generation.prompt,
    }
    if generation.negative_prompt:
        body["negative_prompt"] = generation.negative_prompt
    body["mode"] = generation.mode
    body["duration"] = str(generation.duration)  # a string on the wire (§1.3)
    body["aspect_ratio"] = generation.params.get("aspect_ratio", "16:9")
    return body


SPEC = KindSpec(
    name="multi-image2video",
    label="Multi-image to video",
    input_fields=(),
    build_body=build_body,
    form_class=MultiImageForm,
)
