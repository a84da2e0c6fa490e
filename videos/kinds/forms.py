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
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..forms import PROMPT_MAX, PublicUrlField, TextField, visible
from ..images import check_frame, decode_base64_image
from ..models import Generation, GenerationInput, Mode, Provider, VideoModel
from ..provider_checks import refuse_what_no_provider_can_do
from ..providers import wanted_features


class SecondsField(forms.Field):
    """A duration in whole seconds given as 5, 5.0, "5" or "5.0" (Kling sends a string)."""

    def to_python(self, value: Any) -> int | None:
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            raise ValidationError(_("Enter a whole number of seconds."), code="invalid")
        text = str(value).strip()
        whole, _dot, fraction = text.partition(".")
        if not (whole.isascii() and whole.isdigit() and fraction.strip("0") == ""):
            raise ValidationError(_("Enter a whole number of seconds."), code="invalid")
        if len(whole) > 4:
            raise ValidationError(_("Enter at most 9999 seconds."), code="invalid")
        return int(whole)


class SwitchInput(forms.CheckboxInput):
    """A checkbox whose submitted value reaches the field as given.

    CheckboxInput turns any string but "true"/"false" into True, so an API body's
    "sound": "off" read as on; the field decides instead (an unticked box sends nothing).
    """

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        return data.get(name, False)


class SoundField(forms.Field):
    """Kling's sound switch: "on"/"off" (kling-kinds.md §7.2); a checkbox's "1" or a bool too."""

    widget = SwitchInput

    def to_python(self, value: Any) -> bool:
        if value in (None, "", False, "off", "false", "0"):
            return False
        if value in (True, "on", "true", "1"):
            return True
        raise ValidationError(_('Enter "on" or "off".'), code="invalid")


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
                raise ValidationError(_("Enter a list."), code="invalid")
        if len(items) > self.max_items:
            raise ValidationError(
                _("At most %(count)s entries.") % {"count": self.max_items}, code="too_many"
            )
        return items


@dataclass
class PendingInput:
    """An input read from the request: an upload (validated), a URL the worker fetches, or a
    remixed generation's stored file (stored: its storage name, shared)."""

    role: str
    position: int
    upload: UploadedFile | None = None
    extension: str = ""
    url: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    stored: str = ""


@dataclass(frozen=True)
class KeptInput:
    """A stored input of the generation being remixed or re-run, kept as it is: its file is
    shared with the new row (checked when it was stored, never fetched again); one given by
    URL and never fetched keeps its URL."""

    role: str
    position: int
    name: str
    url: str

    @classmethod
    def of(cls, row: GenerationInput) -> KeptInput:
        return cls(row.role, row.position, row.file.name if row.file else "", row.url)


class StoredInput:
    """A kept input as its upload field's initial value: ClearableFileInput shows it as
    "Currently: <link>" with a Clear box (ticked: the input is dropped)."""

    def __init__(self, row: GenerationInput) -> None:
        self.row = row

    @property
    def url(self) -> str:
        if not self.row.file:
            return self.row.url
        return reverse("generation_input", args=[self.row.generation_id, self.row.field])

    def __str__(self) -> str:
        return f"{self.row.role} {self.row.position + 1} of #{self.row.generation_id}"


def _keep_initial_when_empty(data: Any, initial: Any) -> Any:
    """A remix's upload field left empty still shows the stored input it keeps."""
    return initial if data is None else data


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
    add_input while cleaning, and put their settings in params(). For remix and re-run they
    declare how a generation maps back: remix_params (form field <- params key) and
    remix_slots (upload field <- stored input), or override initial_from / input_slots.
    """

    kind: ClassVar[str]
    default_model: ClassVar[str]
    # Remix and re-run (initial_from, input_slots): the form field each Generation.params key
    # fills, and the upload field each stored input (role, position) goes back to.
    remix_params: ClassVar[dict[str, str]] = {}
    remix_slots: ClassVar[dict[tuple[str, int], str]] = {}
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

    def __init__(
        self,
        *args: Any,
        api: bool = False,
        remix_of: Generation | None = None,
        owner: AbstractBaseUser | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        # Who creates: kinds that take a studio id (video-extend's video_id, lip-sync's
        # session_id) look it up among what this user may see.
        self.owner = owner
        self.catalogue_entry: VideoModel | None = None
        self.pending_inputs: list[PendingInput] = []
        if api:
            # An API client names no provider: routing is the studio's (and its admin's).
            self.fields.pop("provider")
        if not self.takes_watermark:
            self.fields.pop("watermark_info")
        # Remix and re-run: each stored input of remix_of sits in its upload field, kept
        # unless a new file replaces it or its Clear box is ticked.
        self.remix_rows: list[GenerationInput] = list(remix_of.inputs.all()) if remix_of else []
        self.kept_slots = self.input_slots(self.remix_rows)
        for slot, row in self.kept_slots.items():
            self.initial[slot] = StoredInput(row)
            self.fields[slot].bound_data = _keep_initial_when_empty

    # ---- remix and re-run: how a generation of this kind maps back onto the form ------------
    @classmethod
    def initial_from(cls, generation: Generation) -> dict[str, Any]:
        """The form's values for a generation of this kind (its stored inputs: input_slots)."""
        initial: dict[str, Any] = {
            "model_name": generation.model_name,
            "prompt": generation.prompt,
            "negative_prompt": generation.negative_prompt,
            "mode": generation.mode,
            "duration": generation.duration,
            "sound": generation.sound,
            "watermark_info": generation.params.get("watermark_info"),
        }
        for name, key in cls.remix_params.items():
            initial[name] = generation.params.get(key)
        return {k: v for k, v in initial.items() if k in cls.base_fields and v is not None}

    def input_slots(self, rows: list[GenerationInput]) -> dict[str, GenerationInput]:
        """The upload field each stored input goes back to (remix_slots; a kind may compute it)."""
        slots = {self.remix_slots.get((row.role, row.position)): row for row in rows}
        slots.pop(None, None)
        return slots

    def _clean_fields(self) -> None:
        super()._clean_fields()
        for slot, row in self.kept_slots.items():
            # Empty: keep the stored input; False: its Clear box was ticked (dropped).
            if self[slot].data is None and slot not in self.errors:
                self.cleaned_data[slot] = KeptInput.of(row)

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
        if isinstance(value, KeptInput):
            self.pending_inputs.append(
                PendingInput(
                    role, position, url=value.url, meta=dict(meta or {}), stored=value.name
                )
            )
            return
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
                _("Unknown model %(name)s. Models for %(kind)s: %(known)s.")
                % {"name": repr(name), "kind": self.kind, "known": ", ".join(known) or "none"},
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
        # kling-kinds.md §8: a kind (or its sound) no possible provider does is refused here.
        wanted = wanted_features(sound=data.get("sound"))
        refuse_what_no_provider_can_do(self, data, self.kind, entry.name, wanted)
        return data

    # ---- pricing and saving ------------------------------------------------------------------
    def billed_duration(self) -> int:
        """Seconds the estimate counts: the chosen duration (a kind may derive it otherwise)."""
        return self.cleaned_data.get("duration") or 5

    def estimated_units(self) -> Decimal | None:
        if self.catalogue_entry is None or not hasattr(self, "cleaned_data"):
            return None
        return self.catalogue_entry.estimate_units(
            self.cleaned_data["mode"],
            self.billed_duration(),
            sound=self.cleaned_data.get("sound") is True,
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
            elif stored := pending.stored or self._stored_for(pending):
                # Shared with the remixed row (delete_with_files keeps a shared file).
                row.file.name = stored
            generation.staged_inputs.append(row)
        return generation

    def _stored_for(self, pending: PendingInput) -> str:
        """The remixed row's stored file for an input given again by the same URL (a kept
        omni-video reference video): shared, not fetched a second time."""
        for row in self.remix_rows:
            if row.file and pending.url and (row.role, row.url) == (pending.role, pending.url):
                return row.file.name
        return ""

    def save_inputs(self, generation: Generation) -> None:
        """Insert the input rows staged with the generation (inside the create's transaction)."""
        GenerationInput.objects.bulk_create(getattr(generation, "staged_inputs", []))
