"""What every newer kind's form shares (kling-kinds.md §7): one set of rules for the web UI and
the API, whose body binds to the same form (its fields are named as Kling names them).

A kind's module subclasses KindForm with its own fields and rules; the catalogue entry of
the chosen model says which modes, durations and sound it allows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..forms import PROMPT_MAX, PublicUrlField, TextField, visible
from ..images import check_frame, decode_base64_image
from ..models import Generation, GenerationInput, Mode, Provider, VideoModel


class SecondsField(forms.Field):
    """A duration in whole seconds given as 5, 5.0, "5" or "5.0" (Kling sends a string)."""

    def to_python(self, value: Any) -> int | None:
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            raise ValidationError("Enter a whole number of seconds.", code="invalid")
        text = str(value).strip()
        whole, _, fraction = text.partition(".")
        if not (whole.isascii() and whole.isdigit() and fraction.strip("0") == ""):
            raise ValidationError("Enter a whole number of seconds.", code="invalid")
        if len(whole) > 4:
            raise ValidationError("Enter at most 9999 seconds.", code="invalid")
        return int(whole)


class SoundField(forms.Field):
    """Kling's sound switch: "on"/"off" (kling-kinds.md §7.2); a checkbox's "1" or a bool too."""

    widget = forms.CheckboxInput

    def to_python(self, value: Any) -> bool:
        if value in (None, "", False, "off", "false", "0"):
            return False
        if value in (True, "on", "true", "1"):
            return True
        raise ValidationError('Enter "on" or "off".', code="invalid")


class JSONListField(forms.JSONField):
    """A list of objects from the API's JSON body, or from the web form's JSON-encoded field."""

    def __init__(self, *, max_items: int, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.max_items = max_items

    def bound_data(self, data: Any, initial: Any) -> Any:
        return data

    def to_python(self, value: Any) -> list[Any]:
        if isinstance(value, list):
            items = value
        elif value in self.empty_values:
            return []
        else:
            items = super().to_python(value)
            if items is None:
                return []
            if not isinstance(items, list):
                raise ValidationError("Enter a list.", code="invalid")
        if len(items) > self.max_items:
            raise ValidationError(f"At most {self.max_items} entries.", code="too_many")
        return items


@dataclass
class PendingInput:
    """An input read from the request: an upload (validated), or a URL the worker fetches."""

    role: str
    position: int
    upload: UploadedFile | None = None
    extension: str = ""
    url: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


def image_input(value: Any, label: str) -> tuple[UploadedFile | None, str, str]:
    """An image given as an upload, an http(s) URL, raw Base64 or a data: URI.

    Returns (upload, extension, url): an upload is decoded and checked now (kling-kinds §7
    "Common": jpg/png, ≤ 10 MB, sides ≥ 300 px, aspect 1:2.5..2.5:1); a URL is checked when
    the worker fetches it.
    """
    if isinstance(value, UploadedFile):
        upload = value
    elif isinstance(value, str) and value.strip().lower().startswith(("http://", "https://")):
        return None, "", PublicUrlField(max_length=2000).clean(value.strip())
    elif isinstance(value, str) and value.strip():
        upload = decode_base64_image(value, "image", what=label)
    else:
        raise ValidationError(
            _("The %(label)s must be an upload, a URL or Base64."),
            code="invalid",
            params={"label": label},
        )
    _w, _h, extension = check_frame(upload, upload.size, label)
    return upload, extension, ""


class KindForm(forms.Form):
    """The model (from the catalogue, for this kind), mode, duration, sound and the provider.

    Subclasses set kind and default_model, add their fields and rules, add inputs with
    add_input while cleaning, and put their settings in params().
    """

    kind: ClassVar[str]
    default_model: ClassVar[str]
    # Fields of this kind whose value comes from the chosen model when left out.
    takes_duration: ClassVar[bool] = True
    takes_sound: ClassVar[bool] = False
    takes_watermark: ClassVar[bool] = True  # kling-kinds.md §7 "Common": not effects

    model_name = TextField(max_length=100, required=False, label=_("Model"))
    prompt = TextField(
        max_length=PROMPT_MAX,
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3}),
        label=_("Prompt"),
    )
    negative_prompt = TextField(
        max_length=PROMPT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label=_("Negative prompt"),
    )
    mode = forms.ChoiceField(choices=Mode.choices, required=False, label=_("Mode"))
    duration = SecondsField(required=False, label=_("Duration"), help_text=_("seconds"))
    sound = SoundField(required=False)
    watermark_info = forms.JSONField(required=False, widget=forms.HiddenInput)
    provider = forms.ModelChoiceField(
        queryset=Provider.objects.filter(enabled=True),
        required=False,
        label=_("Provider"),
        empty_label=_("automatic (by priority)"),
    )

    def __init__(self, *args: Any, api: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.catalogue_entry: VideoModel | None = None
        self.pending_inputs: list[PendingInput] = []
        if api:
            # An API client names no provider: routing is the studio's (and its admin's).
            self.fields.pop("provider")
        if not self.takes_watermark:
            self.fields.pop("watermark_info")

    def clean_watermark_info(self) -> dict[str, bool] | None:
        value = self.cleaned_data.get("watermark_info")
        if value in (None, {}):
            return None
        if not isinstance(value, dict) or set(value) != {"enabled"}:
            raise ValidationError('watermark_info must be {"enabled": true|false}.')
        if not isinstance(value["enabled"], bool):
            raise ValidationError("watermark_info.enabled must be true or false.")
        return value

    # ---- helpers for subclasses -------------------------------------------------------------
    def add_input(
        self, role: str, position: int, value: Any, *, label: str, meta: dict | None = None
    ) -> None:
        """Read an image input (upload, URL or Base64) into pending_inputs; errors raise."""
        upload, extension, url = image_input(value, label)
        self.pending_inputs.append(
            PendingInput(role, position, upload, extension, url, dict(meta or {}))
        )

    def params(self) -> dict[str, Any]:
        """The kind's own settings, kept in Generation.params (JSON)."""
        return {}

    def all_params(self) -> dict[str, Any]:
        params = self.params()
        if watermark := self.cleaned_data.get("watermark_info"):
            params["watermark_info"] = watermark
        return params

    # ---- the shared rules -------------------------------------------------------------------
    def clean_model_name(self) -> str:
        name = (self.cleaned_data.get("model_name") or self.default_model).strip()
        entry = VideoModel.objects.filter(name=name, enabled=True).first()
        if entry is None:
            known = [m.name for m in VideoModel.objects.enabled() if self.kind in m.kinds]
            raise ValidationError(
                f"Unknown model {name!r}. Models for {self.kind}: {', '.join(known) or 'none'}.",
                code="unknown_model",
            )
        if self.kind not in entry.kinds:
            raise ValidationError(
                _("%(model)s does not do %(kind)s."),
                code="kind",
                params={"model": name, "kind": self.kind},
            )
        self.catalogue_entry = entry
        return name

    def clean_prompt(self) -> str:
        prompt = self.cleaned_data.get("prompt") or ""
        return prompt if visible(prompt) else ""

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        entry = self.catalogue_entry
        if entry is None:
            return data
        data["mode"] = data.get("mode") or entry.default_mode
        if data["mode"] not in entry.modes:
            self.add_error(
                "mode",
                gettext("%(model)s supports modes %(modes)s.")
                % {"model": entry.name, "modes": ", ".join(entry.modes)},
            )
        if self.takes_duration:
            data["duration"] = data.get("duration") or (5 if 5 in entry.durations else None)
            if data["duration"] not in entry.durations:
                allowed = ", ".join(str(d) for d in entry.durations)
                self.add_error(
                    "duration",
                    gettext("%(model)s supports durations of %(allowed)s seconds.")
                    % {"model": entry.name, "allowed": allowed},
                )
        if data.get("sound") and not (self.takes_sound and entry.allows_sound(data["mode"])):
            modes = " or ".join(entry.sound_modes)
            self.add_error(
                "sound",
                gettext("%(model)s makes sound only in %(modes)s mode.")
                % {"model": entry.name, "modes": modes}
                if modes and self.takes_sound
                else gettext("%(model)s does not make sound here.") % {"model": entry.name},
            )
        provider = data.get("provider")
        if provider and not provider.serves(entry.name):
            self.add_error(
                "provider",
                gettext("%(provider)s does not serve %(model)s.")
                % {"provider": provider.name, "model": entry.name},
            )
        return data

    # ---- pricing and saving ------------------------------------------------------------------
    def billed_duration(self) -> int:
        """Seconds the estimate counts: the chosen duration (a kind may derive it otherwise)."""
        return self.cleaned_data.get("duration") or 5

    def estimated_units(self) -> Decimal | None:
        if self.catalogue_entry is None or not hasattr(self, "cleaned_data"):
            return None
        return self.catalogue_entry.estimate_units(
            self.cleaned_data["mode"], self.billed_duration()
        )

    def stage_generation(
        self,
        owner: AbstractBaseUser,
        *,
        api_key: Any = None,
        parent: Generation | None = None,
        client_callback_url: str = "",
        extra: dict[str, Any] | None = None,
    ) -> Generation:
        """An unsaved generation whose uploaded inputs are already in storage (never in a
        transaction: storage may be S3)."""
        data = self.cleaned_data
        generation = Generation(
            owner=owner,
            api_key=api_key,
            parent=parent,
            kind=self.kind,
            provider=data.get("provider"),
            model_name=data["model_name"],
            mode=data["mode"],
            prompt=data.get("prompt") or "",
            negative_prompt=data.get("negative_prompt") or "",
            duration=self.billed_duration(),
            sound=bool(data.get("sound")),
            params=self.all_params(),
            client_callback_url=client_callback_url,
            extra=extra or {},
            estimated_units=self.estimated_units(),
            next_poll_at=timezone.now(),
        )
        generation.staged_files = []
        generation.staged_inputs = []
        for pending in self.pending_inputs:
            row = GenerationInput(
                generation_id=generation.pk,
                role=pending.role,
                position=pending.position,
                url=pending.url,
                meta=pending.meta,
            )
            if pending.upload is not None:
                pending.upload.seek(0)
                name = f"{pending.role}.{pending.extension}"
                row.file.save(name, File(pending.upload), save=False)
                generation.staged_files.append(row.file.name)
            generation.staged_inputs.append(row)
        return generation

    def save_inputs(self, generation: Generation) -> None:
        """Insert the input rows staged with the generation (inside the create's transaction)."""
        GenerationInput.objects.bulk_create(getattr(generation, "staged_inputs", []))
