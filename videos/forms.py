"""The generation form: one set of rules (kling-api.md §1.3-1.5) for the web UI and the API."""

from __future__ import annotations

import json
import math
import unicodedata
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit

from django import forms
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from .batches import MAX_VARIANTS, job_count_error, parse_prompt
from .images import check_frame, check_mask, same_aspect
from .kept_frames import KEPT_FIELDS, KeptFrame, open_kept
from .kept_frames import keep as keep_frame
from .kept_frames import unsign as unsign_kept
from .models import (
    ASPECT_RATIOS,
    CAMERA_AXES,
    CAMERA_TYPES,
    Generation,
    Kind,
    Mode,
    Project,
    Provider,
    Status,
    VideoModel,
)
from .provider_checks import refuse_what_no_provider_can_do
from .providers import wanted_features
from .rendering.spec import nearest_aspect
from .sound_shots import SoundShotsForm, sound_shots_initial

PROMPT_MAX = 2500
# What each camera_control type does, in words (Kling's own descriptions of the presets);
# the wire value stays the option's value.
CAMERA_TYPE_NAMES = {
    "simple": _("Simple: one axis of your choice"),
    "down_back": _("Move down and zoom out"),
    "forward_up": _("Move forward and tilt up"),
    "right_turn_forward": _("Turn right and move forward"),
    "left_turn_forward": _("Turn left and move forward"),
}
MAX_DYNAMIC_MASKS = 6


def camera_fields_from_json(value: Any) -> dict[str, Any]:
    """Flatten a camera_control object into the form's camera_* fields.

    Accepts Kling's form and the third-party shorthand {"type": "zoom", "config": {"value": -5}}
    (kling-api.md §1.5), which becomes type simple with that one axis set.
    """
    if value in (None, "", {}):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ValidationError(_("camera_control is not valid JSON."), code="invalid") from exc
    if not isinstance(value, dict):
        raise ValidationError(_("camera_control must be an object."), code="invalid")
    kind = value.get("type")
    config = value.get("config")
    if config is not None and not isinstance(config, dict):
        raise ValidationError(_("camera_control.config must be an object."), code="invalid")
    if kind in CAMERA_AXES:  # the shorthand
        if not config or "value" not in config:
            raise ValidationError(
                _("camera_control of type %(kind)s needs config.value."),
                code="invalid",
                params={"kind": kind},
            )
        return {"camera_type": "simple", f"camera_{kind}": config["value"]}
    fields: dict[str, Any] = {"camera_type": kind}
    for axis in CAMERA_AXES:
        if config and axis in config:
            fields[f"camera_{axis}"] = config[axis]
    unknown = set(config or {}) - set(CAMERA_AXES)
    if unknown:
        raise ValidationError(
            _("camera_control.config has unknown axes: %(axes)s."),
            params={"axes": ", ".join(sorted(unknown))},
        )
    fields["_camera_has_config"] = bool(config)
    return fields


def non_finite_path(value: Any, path: str = "") -> str | None:
    """The path of the first NaN or ±Infinity in parsed JSON ("a.b[2].x"), or None.

    Python's json reads NaN and Infinity, and 1e400 as infinity; no database's JSON column
    stores them and no upstream reads them back. Walked with a stack, not recursion: the
    value may be nested as deep as the parser allowed.
    """
    stack = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return where
        if isinstance(item, dict):
            inner = [(f"{where}.{key}" if where else str(key), v) for key, v in item.items()]
        elif isinstance(item, list):
            inner = [(f"{where}[{i}]", v) for i, v in enumerate(item)]
        else:
            continue
        stack.extend(reversed(inner))  # the first in the document is looked at first
    return None


class FiniteJSONField(forms.JSONField):
    """A JSONField that refuses NaN, Infinity and numbers beyond a float (1e400)."""

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        where = non_finite_path(value)
        if where is not None:
            raise ValidationError(
                _(
                    "The number at %(where)s must be a finite number "
                    "(NaN, Infinity and 1e400 are not accepted)."
                ),
                code="non_finite",
                params={"where": where or gettext("the top")},
            )
        return value


def no_credentials(url: str) -> None:
    """A frame or callback URL must not carry a user name or password.

    Frame URLs are shown to the whole team (parameters, timeline, status messages), so
    http://user:pass@host/ would publish the password; the studio never sends URL
    credentials upstream either. The message does not repeat the URL.
    """
    if "@" in urlsplit(url).netloc:
        raise ValidationError(
            _(
                "Remove the user name or password from the URL: the studio shows URLs to the "
                "whole team. Use a link that needs no login (for example a signed URL)."
            ),
            code="credentials",
        )


class PublicUrlField(forms.URLField):
    """A URL the studio fetches or calls for someone: never with credentials in it.

    no_credentials runs before the URL syntax check, so "https://:pw@host/" is refused
    for its password first, not only as "Enter a valid URL."
    """

    default_validators = [no_credentials, *forms.URLField.default_validators]


def no_lone_surrogates(value: str) -> None:
    """JSON may spell a lone UTF-16 surrogate ("\\ud800"); no database or page can store it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        message = _("Text must be valid Unicode (it has a lone surrogate).")
        raise ValidationError(message, code="surrogate") from exc


class TextField(forms.CharField):
    """A CharField for text only: a JSON number, list or object is an error, not str(value)."""

    default_validators = [no_lone_surrogates]

    def to_python(self, value: Any) -> str:
        if value not in self.empty_values and not isinstance(value, str):
            raise ValidationError(_("Enter text, not a number, list or object."), code="invalid")
        return super().to_python(value)


def _is_number(value: Any) -> bool:
    """A JSON number: True and False are ints to Python, not to a client."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def visible(text: str) -> bool:
    """Whether text has a character one can see: zero-width and direction marks alone do not."""
    return any(unicodedata.category(c) not in ("Cc", "Cf", "Zs", "Zl", "Zp") for c in text)


class GenerationForm(SoundShotsForm):
    """Every field of a text2video or image2video create, validated against the model catalogue.

    sound, voice_list and the multi-shot fields come from SoundShotsForm (kling-kinds.md §7.2).
    """

    kind = forms.ChoiceField(
        choices=[
            (Kind.TEXT2VIDEO, Kind.TEXT2VIDEO.label),
            (Kind.IMAGE2VIDEO, Kind.IMAGE2VIDEO.label),
        ],
        initial=Kind.TEXT2VIDEO,
        widget=forms.HiddenInput,
    )
    model_name = TextField(max_length=100, initial="kling-v1", label=_("Model"))
    prompt = TextField(
        max_length=PROMPT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        strip=True,
        label=_("Prompt"),
    )
    negative_prompt = TextField(
        max_length=PROMPT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label=_("Negative prompt"),
    )
    mode = forms.ChoiceField(
        choices=Mode.choices, initial=Mode.STD, required=False, label=_("Mode")
    )
    duration = forms.IntegerField(
        min_value=1,
        max_value=60,
        initial=5,
        required=False,
        label=_("Duration"),
        help_text=_("seconds: 5 or 10 (kling-v3: 3 to 15)"),
        widget=forms.Select(
            choices=[(d, f"{d} s") for d in (5, 10, *range(3, 5), *range(6, 10), *range(11, 16))]
        ),
    )
    aspect_ratio = forms.ChoiceField(
        choices=[(r, r) for r in ASPECT_RATIOS],
        initial="16:9",
        required=False,
        label=_("Aspect ratio"),
    )
    cfg_scale = forms.FloatField(
        min_value=0,
        max_value=1,
        required=False,
        initial=0.5,
        label=_("CFG scale"),
        widget=forms.NumberInput(attrs={"step": "0.05"}),
    )
    camera_type = forms.ChoiceField(
        choices=[("", pgettext_lazy("camera move", "none"))]
        + [(t, CAMERA_TYPE_NAMES.get(t, t)) for t in CAMERA_TYPES],
        required=False,
        label=_("Camera move"),
    )
    camera_horizontal = forms.FloatField(
        min_value=-10, max_value=10, required=False, label=_("Horizontal")
    )
    camera_vertical = forms.FloatField(
        min_value=-10, max_value=10, required=False, label=_("Vertical")
    )
    camera_pan = forms.FloatField(min_value=-10, max_value=10, required=False, label=_("Pan"))
    camera_tilt = forms.FloatField(min_value=-10, max_value=10, required=False, label=_("Tilt"))
    camera_roll = forms.FloatField(min_value=-10, max_value=10, required=False, label=_("Roll"))
    camera_zoom = forms.FloatField(min_value=-10, max_value=10, required=False, label=_("Zoom"))
    image = forms.FileField(required=False, label=_("First frame"))
    image_url = PublicUrlField(
        max_length=2000,
        required=False,
        assume_scheme="https",
        label=_("First frame URL"),
    )
    image_tail = forms.FileField(required=False, label=_("Last frame"))
    image_tail_url = PublicUrlField(
        max_length=2000,
        required=False,
        assume_scheme="https",
        label=_("Last frame URL"),
    )
    static_mask = forms.FileField(required=False, label=_("Static mask"))
    dynamic_masks = FiniteJSONField(
        required=False,
        label=_("Dynamic masks"),
        help_text=_("motion brush: [{mask (Base64 PNG/JPEG), trajectories:[{x,y}…]}]"),
    )
    provider = forms.ModelChoiceField(
        queryset=Provider.objects.filter(enabled=True),
        required=False,
        label=_("Provider"),
        empty_label=_("automatic (by priority)"),
    )

    def __init__(
        self,
        *args: Any,
        camera_has_config: bool | None = None,
        inherit_frames_from: Generation | None = None,
        keep_for: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        # The web page's user (pk): a frame kept from their last POST may stand in for an
        # upload (videos/kept_frames.py). The API never sends kept tokens.
        self.keep_for = keep_for
        self.kept: dict[str, KeptFrame] = {}
        # Set by the API when a preset camera type arrived with a config object.
        self.camera_has_config = camera_has_config
        # Re-run and remix keep the parent's stored frames unless new ones are given.
        self.inherit_frames_from = inherit_frames_from
        self.catalogue_entry: VideoModel | None = None
        self.frames: dict[str, tuple[int, int, str]] = {}
        # (width, height) of each dynamic mask, by its JSON path, for the aspect rule.
        self.mask_sizes: dict[str, tuple[int, int]] = {}

    def inherited_frame(self, field: str) -> str:
        """The parent's stored frame (storage name) for a field left empty, if any."""
        parent = self.inherit_frames_from
        data = getattr(self, "cleaned_data", {})
        if parent is None or data.get(field) or data.get(f"{field}_url"):
            return ""
        stored = getattr(parent, field)
        return stored.name if stored else ""

    # ---- single fields ------------------------------------------------------------------
    def clean_model_name(self) -> str:
        name = self.cleaned_data["model_name"].strip()
        self.catalogue_entry = VideoModel.objects.filter(name=name, enabled=True).first()
        if self.catalogue_entry is None:
            known = ", ".join(VideoModel.objects.enabled().values_list("name", flat=True))
            raise ValidationError(
                _("Unknown model %(name)s. Known models: %(known)s."),
                code="unknown_model",
                params={"name": repr(name), "known": known},
            )
        return name

    def clean_prompt(self) -> str:
        prompt = self.cleaned_data.get("prompt") or ""
        return prompt if visible(prompt) else ""  # then clean() says a prompt is required

    def _clean_frame(self, field: str, label: str) -> Any:
        upload = self.cleaned_data.get(field)
        token = self.data.get(f"kept_{field}") if field in KEPT_FIELDS else None
        if not upload and token:
            kept = unsign_kept(str(token), field, self.keep_for)  # refused: an error here
            upload = open_kept(kept)
            self.kept[field] = kept
        if upload:
            # (width, height, extension) as read once from the decoded image.
            self.frames[field] = check_frame(upload, upload.size, label)
        return upload

    def clean_image(self) -> Any:
        return self._clean_frame("image", gettext("first frame"))

    def clean_image_tail(self) -> Any:
        return self._clean_frame("image_tail", gettext("last frame"))

    def clean_static_mask(self) -> Any:
        return self._clean_frame("static_mask", gettext("static mask"))

    def clean_dynamic_masks(self) -> list[dict[str, Any]]:
        """Each mask checked like static_mask; only mask and the points' x, y are kept.

        What is kept is sent to the paid upstream as it is, so nothing unchecked rides along.
        """
        masks = self.cleaned_data.get("dynamic_masks") or []
        if not isinstance(masks, list):
            raise ValidationError(_("dynamic_masks must be a list."))
        if len(masks) > MAX_DYNAMIC_MASKS:
            raise ValidationError(
                _("At most %(most)d dynamic masks are allowed."), params={"most": MAX_DYNAMIC_MASKS}
            )
        cleaned = []
        for i, mask in enumerate(masks):
            if not isinstance(mask, dict) or not mask.get("mask"):
                raise ValidationError(
                    _("dynamic_masks[%(i)d] needs a mask image."), params={"i": i}
                )
            points = mask.get("trajectories")
            if not isinstance(points, list) or not 2 <= len(points) <= 77:
                raise ValidationError(
                    _("dynamic_masks[%(i)d] needs 2 to 77 trajectory points."), params={"i": i}
                )
            if not all(
                isinstance(p, dict) and _is_number(p.get("x")) and _is_number(p.get("y"))
                for p in points
            ):
                raise ValidationError(
                    _("dynamic_masks[%(i)d] trajectory points must be {x, y} numbers."),
                    params={"i": i},
                )
            image, width, height = check_mask(mask["mask"], f"dynamic_masks[{i}].mask")
            self.mask_sizes[f"dynamic_masks[{i}].mask"] = (width, height)
            cleaned.append(
                {"mask": image, "trajectories": [{"x": p["x"], "y": p["y"]} for p in points]}
            )
        return cleaned

    # ---- rules across fields ---------------------------------------------------------------
    def clean(self) -> dict[str, Any]:
        data = super().clean()
        entry = self.catalogue_entry
        kind = data.get("kind") or Kind.TEXT2VIDEO
        data["mode"] = data.get("mode") or Mode.STD
        data["aspect_ratio"] = data.get("aspect_ratio") or "16:9"
        data["duration"] = data.get("duration") or 5
        # With shots the user writes, each shot has its prompt: the clip's may be empty (§7.2).
        own_shots = data.get("multi_shot") and data.get("shot_type") == "customize"
        if (
            kind == Kind.TEXT2VIDEO
            and not own_shots
            and not data.get("prompt")
            and "prompt" not in self.errors
        ):
            self.add_error("prompt", ValidationError(_("A prompt is required."), code="required"))
        self._clean_camera(data, entry)
        if kind == Kind.IMAGE2VIDEO:
            self._clean_image2video(data, entry)
        else:
            for field in ("image", "image_url", "image_tail", "image_tail_url", "static_mask"):
                if data.get(field):
                    self.add_error(
                        field, gettext("Images belong to image-to-video; this is text-to-video.")
                    )
        self.clean_sound_shots(data, entry, kind)
        if entry is None:
            return data
        if kind not in entry.kinds:
            self.add_error(
                "model_name",
                gettext("%(model)s does not do %(kind)s.") % {"model": entry.name, "kind": kind},
            )
        if data["mode"] not in entry.modes:
            modes = ", ".join(entry.modes)
            self.add_error(
                "mode",
                gettext("%(model)s supports modes %(modes)s.")
                % {"model": entry.name, "modes": modes},
            )
        if data["duration"] not in entry.durations:
            allowed = ", ".join(str(d) for d in entry.durations)
            self.add_error(
                "duration",
                gettext("%(model)s supports durations of %(allowed)s seconds.")
                % {"model": entry.name, "allowed": allowed},
            )
        if data.get("camera_control") and not entry.supports_camera_control:
            self.add_error(
                "camera_type",
                gettext("%(model)s does not support camera control.") % {"model": entry.name},
            )
        if (data.get("image_tail") or data.get("image_tail_url")) and not entry.supports_last_frame:
            self.add_error(
                "image_tail",
                gettext("%(model)s does not support a last frame.") % {"model": entry.name},
            )
        if not entry.supports_cfg_scale:
            data["cfg_scale"] = None  # kling-api.md §1.3: never send cfg_scale to v2.x models
        elif data.get("cfg_scale") is None:
            data["cfg_scale"] = 0.5
        provider = data.get("provider")
        if provider and not provider.serves(entry.name):
            self.add_error(
                "provider",
                gettext("%(provider)s does not serve %(model)s.")
                % {"provider": provider.name, "model": entry.name},
            )
        # kling-kinds.md §8: what the providers that could take it cannot do is refused here,
        # naming the field, never dropped on the way.
        wanted = wanted_features(
            camera_control=data.get("camera_control"),
            sound=data.get("sound"),
            voice_list=data.get("voice_list"),
            multi_shot=data.get("multi_shot"),
            static_mask=data.get("static_mask"),
            dynamic_masks=data.get("dynamic_masks"),
            element_list=data.get("element_list"),
        )
        refuse_what_no_provider_can_do(self, data, kind, entry.name, wanted)
        return data

    def _clean_camera(self, data: dict[str, Any], entry: VideoModel | None) -> None:
        camera_type = data.get("camera_type")
        axes = {axis: data.get(f"camera_{axis}") or 0 for axis in CAMERA_AXES}
        if not camera_type:
            if any(axes.values()):
                self.add_error(
                    "camera_type", gettext("Choose a camera move type for the axis values.")
                )
            data["camera_control"] = None
            return
        if camera_type == "simple":
            moving = [axis for axis, v in axes.items() if v]
            if len(moving) != 1:
                self.add_error(
                    "camera_type",
                    ValidationError(
                        _(
                            "A simple camera move needs exactly one non-zero axis "
                            "(got %(count)d: %(axes)s)."
                        ),
                        code="camera_axes",
                        params={
                            "count": len(moving),
                            "axes": ", ".join(moving) or pgettext_lazy("camera axes", "none"),
                        },
                    ),
                )
            data["camera_control"] = {"type": "simple", "config": axes}
        else:
            if any(axes.values()) or self.camera_has_config:
                self.add_error(
                    "camera_type",
                    gettext("The %(move)s move takes no config.") % {"move": camera_type},
                )
            data["camera_control"] = {"type": camera_type}

    def _clean_image2video(self, data: dict[str, Any], entry: VideoModel | None) -> None:
        for field in ("image", "image_tail"):
            if data.get(field) and data.get(f"{field}_url"):
                self.add_error(
                    f"{field}_url", gettext("Give the frame as an upload or a URL, not both.")
                )
        has_first = data.get("image") or data.get("image_url") or self.inherited_frame("image")
        has_last = (
            data.get("image_tail")
            or data.get("image_tail_url")
            or self.inherited_frame("image_tail")
        )
        if not has_first and not has_last and "image" not in self.errors:
            self.add_error(
                "image",
                ValidationError(
                    _("Image-to-video needs a first or a last frame."), code="required"
                ),
            )
        has_masks = bool(
            data.get("static_mask")
            or self.inherited_frame("static_mask")
            or data.get("dynamic_masks")
        )
        exclusive = [
            name
            for name, on in (
                (gettext("last frame"), has_last),
                (gettext("motion masks"), has_masks),
                (gettext("camera control"), bool(data.get("camera_control"))),
            )
            if on
        ]
        if len(exclusive) > 1:
            self.add_error(
                "image_tail" if has_last else "camera_type",
                gettext(
                    "Use at most one of last frame, motion masks and camera control "
                    "(got %(chosen)s)."
                )
                % {"chosen": gettext(" and ").join(exclusive)},
            )
        # Kling takes no aspect ratio for image2video: the first frame decides it
        # (a frame given by URL is measured by the renderer when it is fetched).
        if data.get("image"):
            width, height, _ext = self.frames["image"]
            data["aspect_ratio"] = nearest_aspect(width, height)
            self._clean_mask_aspects((width, height))

    def _clean_mask_aspects(self, frame: tuple[int, int]) -> None:
        """Every mask has the first frame's aspect ratio (kling-api.md §1.4).

        Checked when the first frame is an upload; one given by URL is only measured later.
        """
        masks = dict(self.mask_sizes)
        if "static_mask" in self.frames:
            masks["static mask"] = self.frames["static_mask"][:2]
        for label, size in masks.items():
            if not same_aspect(size, frame):
                field = "static_mask" if label == "static mask" else "dynamic_masks"
                self.add_error(
                    field,
                    gettext(
                        "The %(mask)s's aspect ratio %(size)s differs from the first "
                        "frame's %(frame)s; a mask must have the frame's aspect ratio."
                    )
                    % {
                        "mask": label,
                        "size": f"{size[0]}:{size[1]}",
                        "frame": f"{frame[0]}:{frame[1]}",
                    },
                )

    # ---- a valid frame is kept when another field fails (videos/kept_frames.py) --------------
    def keep_valid_frames(self) -> None:
        """Store this POST's valid frame uploads so the re-rendered page can offer them again."""
        if self.keep_for is None:
            return
        data = getattr(self, "cleaned_data", {})
        for field in KEPT_FIELDS:
            upload = data.get(field)
            if field in self.errors or not upload or field in self.kept:
                continue
            self.kept[field] = keep_frame(upload, field, self.frames[field][2], self.keep_for)

    def discard_kept(self) -> None:
        """Delete the kept frames once the job has its own copy (the purge would, later)."""
        for kept in self.kept.values():
            default_storage.delete(kept.name)

    def kept_frames(self) -> dict[str, KeptFrame]:
        """The kept frames the page offers again (not one whose field has an error)."""
        return {field: kept for field, kept in self.kept.items() if field not in self.errors}

    # ---- saving -----------------------------------------------------------------------
    def estimated_units(self) -> Decimal | None:
        if self.catalogue_entry is None or not hasattr(self, "cleaned_data"):
            return None
        return self.catalogue_entry.estimate_units(
            self.cleaned_data["mode"],
            self.cleaned_data["duration"],
            sound=bool(self.cleaned_data.get("sound")),
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
        """An unsaved generation whose new input frames are already in storage.

        Storage may be S3, so writing the frames is network I/O: it happens here,
        before (never inside) the transaction that inserts the row.
        """
        data = self.cleaned_data
        generation = Generation(
            owner=owner,
            api_key=api_key,
            parent=parent,
            kind=data["kind"],
            provider=data.get("provider"),
            model_name=data["model_name"],
            mode=data["mode"],
            prompt=data.get("prompt") or "",
            negative_prompt=data.get("negative_prompt") or "",
            cfg_scale=data.get("cfg_scale"),
            duration=data["duration"],
            aspect_ratio=data["aspect_ratio"],
            camera_control=data.get("camera_control"),
            image_url=data.get("image_url") or "",
            image_tail_url=data.get("image_tail_url") or "",
            dynamic_masks=data.get("dynamic_masks") or [],
            sound=bool(data.get("sound")),
            params=self.sound_shots_params(),
            client_callback_url=client_callback_url,
            extra=extra or {},
            estimated_units=self.estimated_units(),
            next_poll_at=timezone.now(),
        )
        generation.staged_files = []
        for field in ("image", "image_tail", "static_mask"):
            upload = data.get(field)
            if upload:
                name = f"{field}.{self.frames[field][2]}"
                getattr(generation, field).save(name, upload, save=False)
                generation.staged_files.append(getattr(generation, field).name)
            elif inherited := self.inherited_frame(field):
                getattr(generation, field).name = inherited  # shared with the parent
        return generation

    def save_inputs(self, generation: Generation) -> None:
        """Write the inputs kept beside the row (the newer kinds' lists); frames need none."""


VARIANT_CHOICES = [(n, str(n)) for n in range(1, MAX_VARIANTS + 1)]


class BatchForm(GenerationForm):
    """The web create form: 1-4 variants of each `{red|blue} kite` alternative, one job each.

    Only the web UI takes a batch; the API's families keep their one job per request
    (they bind GenerationForm itself). The cost of the whole submission is known here, so
    one above STUDIO_CONFIRM_UNITS is refused until confirmed: the check is on the server,
    whatever the page's script showed.
    """

    variants = forms.TypedChoiceField(
        choices=VARIANT_CHOICES,
        coerce=int,
        initial=1,
        required=False,
        empty_value=1,
        label=_("Variants"),
        help_text=_("jobs per prompt; write {red|blue} kite in the prompt for alternatives"),
    )
    confirm_cost = forms.BooleanField(required=False, label=_("Yes, spend this"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prompts: list[str] = []

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        variants = data.get("variants") or 1
        prompts = self._expanded_prompts(data)
        if prompts is None:
            return data
        self.prompts = [prompt for prompt in prompts for _copy in range(variants)]
        total = self.total_units()
        if (
            total is not None
            and total > settings.STUDIO_CONFIRM_UNITS
            and not data.get("confirm_cost")
        ):
            self.add_error(
                "confirm_cost",
                ValidationError(
                    _(
                        "This submission costs %(total)s units (%(jobs)d jobs), more than "
                        "%(limit)s: tick “Yes, spend this” to send it."
                    )
                    % {
                        "total": total,
                        "jobs": len(self.prompts),
                        "limit": settings.STUDIO_CONFIRM_UNITS,
                    },
                    code="confirm_cost",
                ),
            )
        return data

    def _expanded_prompts(self, data: dict[str, Any]) -> list[str] | None:
        """The prompts of the alternatives (the prompt itself without any); None on an error."""
        if "prompt" in self.errors:
            return None
        try:
            template = parse_prompt(data.get("prompt") or "")
        except ValidationError as exc:
            self.add_error("prompt", exc)
            return None
        if error := job_count_error(template.count, data.get("variants") or 1):
            self.add_error("prompt", error)
            return None
        prompts = template.expand()
        if template.has_alternatives:
            if data.get("kind") != Kind.IMAGE2VIDEO and not all(map(visible, prompts)):
                self.add_error(
                    "prompt", _("An alternative leaves the prompt empty; every job needs one.")
                )
                return None
        return prompts

    def total_units(self) -> Decimal | None:
        """The estimate of every job of the submission together (None while unpriceable)."""
        if not {"mode", "duration"} <= set(self.cleaned_data):
            return None  # refused (add_error drops a field): its own error says why
        each = self.estimated_units()
        return None if each is None else each * len(self.prompts or [""])


class ConfirmForm(forms.Form):
    """The confirmation of a paid run (re-run, recipe): the server refuses one without it."""

    confirm = forms.BooleanField(
        error_messages={"required": _("Confirm the cost to run it; nothing was sent.")}
    )


def initial_from(generation: Generation) -> dict[str, Any]:
    """A form's initial data copying a generation's parameters (re-run and remix)."""
    initial: dict[str, Any] = {
        "kind": generation.kind,
        "model_name": generation.model_name,
        "prompt": generation.prompt,
        "negative_prompt": generation.negative_prompt,
        "mode": generation.mode,
        "duration": generation.duration,
        "aspect_ratio": generation.aspect_ratio,
        "cfg_scale": generation.cfg_scale,
        "image_url": generation.image_url,
        "image_tail_url": generation.image_tail_url,
        "dynamic_masks": generation.dynamic_masks or None,
    }
    camera = camera_fields_from_json(generation.camera_control)
    camera.pop("_camera_has_config", None)
    initial.update(camera)
    initial.update(sound_shots_initial(generation))
    return initial


# ---- query strings of the web UI ---------------------------------------------------------

MAX_ID = 2**63 - 1  # ids are 64-bit integer columns; a larger number cannot match any row
MAX_WATCHED = 200  # cards one gallery poll brings up to date


def ascii_integer(text: str) -> bool:
    """Digits 0-9 with an optional minus: str.isdigit() also says yes to "²" and "١٢"."""
    digits = text[1:] if text.startswith("-") else text
    return digits.isascii() and digits.isdigit()


class QueryIntegerField(forms.IntegerField):
    """A whole number typed in ASCII digits: int() alone also takes "١٢", "1_0" and " +1 "."""

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        if not ascii_integer(str(value)):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        try:
            return int(str(value))
        except ValueError as exc:  # more digits than int() reads (4300)
            raise ValidationError(self.error_messages["invalid"], code="invalid") from exc


class IdListField(forms.CharField):
    """Comma-separated generation ids, as the gallery's poll URL carries them.

    Past MAX_WATCHED the rest are left for a later page load, as before: a long watch
    list is what a busy team's own gallery sends, not an error.
    """

    def to_python(self, value: Any) -> list[int]:
        text = super().to_python(value)
        ids = []
        for part in text.split(",") if text else []:
            if (
                not ascii_integer(part)
                or part.startswith("-")
                or len(part) > 19
                or int(part) > MAX_ID
            ):
                raise ValidationError(
                    _("%(part)s is not a generation id."),
                    code="invalid",
                    params={"part": repr(part[:30])},
                )
            ids.append(int(part))
        return ids[:MAX_WATCHED]


# The poll's `since` is microseconds since 1970 (no "+" of a time zone to mangle in a URL);
# a year past 9999 is no datetime, so the largest is refused by name rather than a 500.
MAX_SINCE = 253_402_300_799_000_000
ANY = [("", _("any"))]


class GalleryPollForm(forms.Form):
    """The gallery poll's query: the pending cards it watches, the newest card it has, the
    oldest card it keeps up to date and the time of the previous poll."""

    watch = IdListField(required=False)
    newest = QueryIntegerField(min_value=0, max_value=MAX_ID, required=False)
    oldest = QueryIntegerField(min_value=0, max_value=MAX_ID, required=False)
    since = QueryIntegerField(min_value=0, max_value=MAX_SINCE, required=False)


class GalleryFilterForm(forms.Form):
    """The gallery's filters, in the query string so a filtered gallery can be shared."""

    SCOPES = [("all", _("Everyone's")), ("mine", _("Mine"))]

    scope = forms.ChoiceField(choices=SCOPES, required=False, label=_("Whose"))
    project = forms.ModelChoiceField(
        queryset=Project.objects.all(), required=False, empty_label=_("any project"),
        label=_("Project"),
    )  # fmt: skip
    status = forms.ChoiceField(
        choices=ANY + list(Status.choices), required=False, label=_("Status")
    )
    model = forms.ChoiceField(required=False, label=_("Model"))
    before = QueryIntegerField(
        min_value=0, max_value=MAX_ID, required=False, widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = VideoModel.objects.values_list("name", flat=True)
        self.fields["model"].choices = ANY + [(name, name) for name in names]

    def filter(self, generations: Any, user: AbstractBaseUser) -> Any:
        """The generations the filters keep (every filter but the page)."""
        data = self.cleaned_data
        if data.get("scope") == "mine":
            generations = generations.filter(owner=user)
        if data.get("project"):
            generations = generations.filter(project=data["project"])
        if data.get("status"):
            generations = generations.filter(status=data["status"])
        if data.get("model"):
            generations = generations.filter(model_name=data["model"])
        return generations

    def query(self) -> str:
        """The filters as a query string, for the poll and "load more" URLs (no page)."""
        data = self.cleaned_data
        pairs = {
            "scope": data.get("scope") or "",
            "project": data["project"].pk if data.get("project") else "",
            "status": data.get("status") or "",
            "model": data.get("model") or "",
        }
        return urlencode({k: v for k, v in pairs.items() if v})


class ProjectField(forms.ModelChoiceField):
    """A project picker whose options say what is left of a budget ("Trailer (12.00 left)")."""

    def label_from_instance(self, obj: Project) -> str:
        remaining = obj.units_remaining()
        if remaining is None:
            return obj.name
        return _("%(name)s (%(left)s units left)") % {"name": obj.name, "left": remaining}


class ProjectChoiceForm(forms.Form):
    """The project a new job goes on (or a card is moved to); none leaves it off any board."""

    project = ProjectField(
        queryset=Project.objects.all(), required=False, empty_label=_("no project"),
        label=_("Project"),
    )  # fmt: skip


class ProjectForm(forms.ModelForm):
    """A project's name, description, cover and budget, on its create and edit pages."""

    class Meta:
        model = Project
        fields = ["name", "description", "cover", "budget_units"]
        labels = {"budget_units": _("Budget (units)")}

    def clean_budget_units(self) -> Decimal | None:
        budget = self.cleaned_data.get("budget_units")
        if budget is not None and budget <= 0:
            raise ValidationError(_("A budget is a positive number of units, or empty."))
        return budget

    def clean_cover(self) -> Any:
        cover = self.cleaned_data.get("cover")
        if cover and getattr(cover, "size", 0) > MAX_COVER_BYTES:
            raise ValidationError(_("The cover image is larger than 5 MB."))
        return cover


MAX_COVER_BYTES = 5 * 1024 * 1024


class EstimateForm(forms.Form):
    """The cost estimate's query: the form's model, mode and duration as they are chosen."""

    model_name = forms.CharField(max_length=100, required=False)
    mode = forms.ChoiceField(choices=Mode.choices, required=False)
    duration = QueryIntegerField(min_value=1, max_value=60, required=False)
    # The batch: how many jobs the prompt's alternatives and the variants make.
    prompt = forms.CharField(max_length=PROMPT_MAX, required=False, strip=False)
    variants = QueryIntegerField(min_value=1, max_value=MAX_VARIANTS, required=False)
    confirm_cost = forms.BooleanField(required=False)
    sound = forms.BooleanField(required=False)  # a price rule for sound may apply
    # The chosen provider's typical time is shown (empty: the one that would take the job).
    provider = QueryIntegerField(min_value=1, max_value=MAX_ID, required=False)
