"""omni-video (kling-kinds.md §7.3): a clip from a prompt citing images, elements and a video.

image_list holds reference images (no type) and at most one first_frame and end_frame;
element_list Kling element ids; video_list at most one video by URL, to edit (base) or to
take as a reference (feature). The prompt cites them as <<<image_N>>>, <<<element_N>>>,
<<<video_1>>> in list order. Images and the video are GenerationInput rows (role "image"
with meta.type, role "video" with meta.refer_type/keep_original_sound), staged as
"image.0" ... and "video.0" before the body is built; element ids stay in params.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ..forms import PublicUrlField
from ..sound_shots import ElementListInput, ShotsInput, SoundShotsForm, check_shots
from .base import KindSpec, base64_of
from .forms import JSONListField, KeptInput, KindForm, PendingInput, SwitchInput

if TYPE_CHECKING:
    from ..models import Generation, GenerationInput

FRAME_TYPES = ("first_frame", "end_frame")
REFER_TYPES = ("base", "feature")
ASPECT_RATIOS = ("16:9", "9:16", "1:1")
SHOT_TYPES = ("customize", "intelligence")
MAX_INPUTS, MAX_INPUTS_WITH_VIDEO = 7, 4
MAX_ELEMENTS_WITH_FRAMES = 3
MAX_SHOTS, SHOT_PROMPT_MAX = 6, 512
CITATION = re.compile(r"<<<(image|element|video)_(\d+)>>>")
# The web form's fields, in the image_list order they make: references first, so the
# prompt's <<<image_1>>> is the first reference the user uploaded.
REFERENCE_UPLOADS = ("reference_1", "reference_2", "reference_3")
FRAME_UPLOADS = {"first_frame": "first_frame", "end_frame": "end_frame"}


class FlagField(forms.Field):
    """multi_shot: a bool, tolerating "true"/"false" (kling-kinds.md §7.2); a checkbox too."""

    widget = SwitchInput

    def to_python(self, value: Any) -> bool:
        if value in (None, "", False, "false", "False", "off", "0"):
            return False
        if value in (True, "true", "True", "on", "1"):
            return True
        raise ValidationError(_("Enter true or false."), code="invalid")


class ElementIdsField(JSONListField):
    """The page's element ids, "123, 456", read as the API's [{element_id}] list."""

    widget = ElementListInput

    def prepare_value(self, value: Any) -> Any:
        return value  # the widget writes the list as "123, 456" (not as JSON)

    def to_python(self, value: Any) -> list[Any]:
        if isinstance(value, str) and not value.strip().startswith("["):
            parts = [part for part in re.split(r"[,\s]+", value) if part]
            for number, part in enumerate(parts, 1):
                if not (part.isascii() and part.isdigit() and int(part) > 0):
                    raise ValidationError(
                        _(
                            "Element %(number)s is not an element id: give the whole number "
                            "of the element library."
                        ),
                        code="invalid",
                        params={"number": number},
                    )
            value = [{"element_id": int(part)} for part in parts]
        return super().to_python(value)


class OmniVideoForm(KindForm):
    """Every rule of §7.3, each reported on the field it is about (the API: 400/1201 naming it)."""

    kind = "omni-video"
    default_model = "kling-video-o1"
    takes_sound = True
    api_names = {
        **dict.fromkeys(REFERENCE_UPLOADS, "image_list"),
        **dict.fromkeys(FRAME_UPLOADS, "image_list"),
        "video_url": "video_list",
        "refer_type": "video_list",
        "keep_original_sound": "video_list",
    }

    aspect_ratio = forms.ChoiceField(
        choices=[(r, r) for r in ASPECT_RATIOS],
        required=False,
        label=_("Aspect ratio"),
        help_text=_("Without a first frame or a base video; 16:9 if left out."),
    )
    multi_shot = FlagField(required=False, widget=forms.HiddenInput)
    shot_type = forms.ChoiceField(
        choices=[("", "")] + [(t, t) for t in SHOT_TYPES], required=False, widget=forms.HiddenInput
    )
    multi_prompt = JSONListField(max_items=MAX_SHOTS, widget=forms.HiddenInput)
    image_list = JSONListField(max_items=MAX_INPUTS, widget=forms.HiddenInput)
    element_list = JSONListField(max_items=MAX_INPUTS, widget=forms.HiddenInput)
    video_list = JSONListField(max_items=1, widget=forms.HiddenInput)
    # The web form's inputs (the API sends the lists above instead).
    reference_1 = forms.Field(
        required=False, label=_("Reference image 1"), widget=forms.ClearableFileInput
    )
    reference_2 = forms.Field(
        required=False, label=_("Reference image 2"), widget=forms.ClearableFileInput
    )
    reference_3 = forms.Field(
        required=False, label=_("Reference image 3"), widget=forms.ClearableFileInput
    )
    first_frame = forms.Field(
        required=False, label=_("First frame"), widget=forms.ClearableFileInput
    )
    end_frame = forms.Field(required=False, label=_("End frame"), widget=forms.ClearableFileInput)
    video_url = PublicUrlField(
        required=False,
        max_length=2000,
        label=_("Video URL"),
        help_text=_("mp4/mov, at least 3 s, 720–2160 px, 24–60 fps, at most 200 MB."),
    )
    refer_type = forms.ChoiceField(
        choices=[("base", _("edit this video (base)")), ("feature", _("reference (feature)"))],
        required=False,
        label=_("Use the video to"),
    )
    keep_original_sound = forms.BooleanField(required=False, label=_("Keep the video's sound"))

    def __init__(self, *args: Any, api: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, api=api, **kwargs)
        self.api = api
        self.fields.pop("negative_prompt")  # §7.3 has no negative prompt
        if api:
            for name in self.api_names:
                self.fields.pop(name)
        else:
            self._page_inputs()
        # What clean() reads from either source: [(value, type or "")], [ids], {video} | None.
        self.images: list[tuple[Any, str]] = []
        self.elements: list[int] = []
        self.video: dict[str, Any] | None = None

    def _page_inputs(self) -> None:
        """What the API sends as JSON, the page asks as the classic form does (K1): a box for
        several shots, who splits them, the shot editor (static/js/shots.js), element ids."""
        self.fields["multi_shot"].widget = SwitchInput()
        self.fields["multi_shot"].label = _("Several shots, with hard cuts between them")
        self.fields["shot_type"] = forms.ChoiceField(
            choices=[("", "—"), ("customize", _("my shots")), ("intelligence", _("automatic"))],
            required=False,
            label=_("Who splits the clip into shots"),
            help_text=_("my shots: write each shot; automatic: the model splits the prompt"),
        )
        self.fields["multi_prompt"].widget = ShotsInput()
        self.fields["element_list"] = ElementIdsField(
            max_items=MAX_INPUTS,
            label=_("Elements"),
            help_text=_(
                "element ids of the element library, separated by commas; cite them as "
                "<<<element_1>>> in the prompt"
            ),
        )

    # The shot editor's rows and the models' facts for static/js/shots.js, as the classic form.
    page_catalogue = SoundShotsForm.page_catalogue
    page_catalogue_json = SoundShotsForm.page_catalogue_json
    shot_rows = SoundShotsForm.shot_rows

    def shots_offered(self) -> bool:
        """Whether the page shows the shots (the chosen model does them, or they carry an error)."""
        if {"multi_shot", "shot_type", "multi_prompt"} & set(self.errors):
            return True
        from ..models import VideoModel

        name = str(self["model_name"].value() or self.default_model).strip()
        entry = self.catalogue_entry or VideoModel.objects.filter(name=name).first()
        return bool(entry and entry.multi_shot)

    # ---- one field at a time ----------------------------------------------------------------
    def clean_image_list(self) -> list[tuple[Any, str]]:
        items = self.cleaned_data.get("image_list") or []
        images = []
        for n, item in enumerate(items):
            if (
                not isinstance(item, dict)
                or not item.get("image_url")
                or set(item)
                - {
                    "image_url",
                    "type",
                }
            ):
                raise ValidationError(
                    f'image_list[{n}] must be {{"image_url": a URL or Base64, "type"?}}.',
                    code="invalid",
                )
            kind = item.get("type") or ""
            if kind and kind not in FRAME_TYPES:
                raise ValidationError(
                    f"image_list[{n}].type must be first_frame or end_frame "
                    "(left out: a reference image).",
                    code="invalid",
                )
            images.append((item["image_url"], kind))
        return images

    def clean_element_list(self) -> list[int]:
        ids = []
        for n, item in enumerate(self.cleaned_data.get("element_list") or []):
            value = item.get("element_id") if isinstance(item, dict) and len(item) == 1 else None
            if isinstance(value, str) and value.isascii() and value.isdigit():
                value = int(value)  # a long on the wire; tolerate it quoted
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValidationError(
                    f'element_list[{n}] must be {{"element_id": a positive whole number}}.',
                    code="invalid",
                )
            ids.append(value)
        return ids

    def clean_video_list(self) -> list[dict[str, Any]]:
        videos = []
        for n, item in enumerate(self.cleaned_data.get("video_list") or []):
            if not isinstance(item, dict) or set(item) - {
                "video_url",
                "refer_type",
                "keep_original_sound",
            }:
                raise ValidationError(
                    f'video_list[{n}] must be {{"video_url", "refer_type", '
                    '"keep_original_sound"}.',
                    code="invalid",
                )
            url = item.get("video_url")
            if not isinstance(url, str) or not url.strip().lower().startswith(
                ("http://", "https://")
            ):
                raise ValidationError(
                    f"video_list[{n}].video_url must be an http(s) URL (Kling takes no upload).",
                    code="invalid",
                )
            try:
                url = PublicUrlField(max_length=2000).clean(url.strip())
            except ValidationError as exc:
                raise ValidationError(f"video_list[{n}].video_url: {exc.messages[0]}") from exc
            refer = item.get("refer_type") or "base"
            if refer not in REFER_TYPES:
                raise ValidationError(
                    f"video_list[{n}].refer_type must be base or feature.", code="invalid"
                )
            keep = item.get("keep_original_sound") or "no"
            if keep not in ("yes", "no"):
                raise ValidationError(
                    f"video_list[{n}].keep_original_sound must be yes or no.", code="invalid"
                )
            videos.append({"url": url, "refer_type": refer, "keep_original_sound": keep})
        return videos

    def clean_multi_prompt(self) -> list[dict[str, Any]]:
        if not self.api:
            # The page's editor: read only for my own shots (a stale or empty row is
            # ignored otherwise, as upstream ignores it); messages name the shot.
            data = self.cleaned_data
            if not (data.get("multi_shot") and data.get("shot_type") == "customize"):
                return []
            rows = [
                row
                for row in data.get("multi_prompt") or []
                if not isinstance(row, dict)
                or str(row.get("prompt", "")).strip()
                or row.get("duration")
            ]
            return check_shots(
                [
                    {**row, "index": n} if isinstance(row, dict) else row
                    for n, row in enumerate(rows, 1)
                ]
            )
        shots = []
        for n, item in enumerate(self.cleaned_data.get("multi_prompt") or []):
            if not isinstance(item, dict) or set(item) != {"index", "prompt", "duration"}:
                raise ValidationError(
                    f"multi_prompt[{n}] must be {{index, prompt, duration}}.", code="invalid"
                )
            index, prompt, seconds = item["index"], item["prompt"], str(item["duration"])
            if isinstance(index, bool) or not isinstance(index, int) or index != n + 1:
                raise ValidationError(
                    f"multi_prompt[{n}].index must be {n + 1} (shots are numbered 1..n in order).",
                    code="invalid",
                )
            if not isinstance(prompt, str) or not prompt.strip():
                raise ValidationError(f"multi_prompt[{n}].prompt is empty.", code="invalid")
            if len(prompt) > SHOT_PROMPT_MAX:
                raise ValidationError(
                    f"multi_prompt[{n}].prompt is longer than {SHOT_PROMPT_MAX} characters.",
                    code="invalid",
                )
            if not (seconds.isascii() and seconds.isdigit() and int(seconds) >= 1):
                raise ValidationError(
                    f'multi_prompt[{n}].duration must be whole seconds such as "5".',
                    code="invalid",
                )
            shots.append({"index": index, "prompt": prompt, "duration": int(seconds)})
        return shots

    def _upload(self, name: str) -> Any:
        return self.files.get(name) or self.cleaned_data.get(name)

    # ---- remix and re-run ------------------------------------------------------------------------
    @classmethod
    def initial_from(cls, generation: Generation) -> dict[str, Any]:
        initial = super().initial_from(generation)
        params = generation.params
        initial["aspect_ratio"] = params.get("aspect_ratio")
        initial["multi_shot"] = bool(params.get("multi_shot"))
        initial["shot_type"] = params.get("shot_type")
        initial["multi_prompt"] = params.get("multi_prompt")
        initial["element_list"] = [{"element_id": e} for e in params.get("element_list") or []]
        # The video is a URL (Kling takes no upload): given again, its stored copy is shared.
        if video := generation.inputs.filter(role="video").first():
            initial["video_url"] = video.url
            initial["refer_type"] = video.meta.get("refer_type", "base")
            initial["keep_original_sound"] = video.meta.get("keep_original_sound") == "yes"
        return {k: v for k, v in initial.items() if v not in (None, "", [])}

    def input_slots(self, rows: list[GenerationInput]) -> dict[str, GenerationInput]:
        """Frames back to their fields, references in list order to reference_1...; an API
        job's fourth to seventh reference gets a field of its own on the remix page."""
        slots: dict[str, GenerationInput] = {}
        references = 0
        for row in sorted((r for r in rows if r.role == "image"), key=lambda r: r.position):
            frame = row.meta.get("type") or ""
            if frame in FRAME_UPLOADS:
                slots[FRAME_UPLOADS[frame]] = row
                continue
            references += 1
            name = f"reference_{references}"
            if name not in self.fields:
                self.fields[name] = forms.Field(
                    required=False,
                    label=_("Reference image %(n)s") % {"n": references},
                    widget=forms.ClearableFileInput,
                )
            slots[name] = row
        return slots

    @property
    def reference_fields(self) -> list[str]:
        names = [n for n in self.fields if n.startswith("reference_")]
        return sorted(names, key=lambda n: int(n.rpartition("_")[2]))

    def more_references(self) -> list[forms.BoundField]:
        """The reference fields past the page's three (a remix of an API job)."""
        return [self[name] for name in self.reference_fields[len(REFERENCE_UPLOADS) :]]

    # ---- the rules between fields -------------------------------------------------------------
    def clean(self) -> dict[str, Any]:
        data = super().clean()
        entry = self.catalogue_entry
        if entry is None or {"image_list", "element_list", "video_list", "multi_prompt"} & set(
            self.errors
        ):
            return data
        self._gather(data)
        if self.video and self.video["refer_type"] == "base":
            # §7.3: a base video keeps its own length; duration is not sent, so its rules
            # (and the catalogue's) do not apply.
            self.errors.pop("duration", None)
        for rule in (
            self._check_counts,
            self._check_frames,
            self._check_multi_shot,
            self._check_video,
            self._check_duration,
            self._check_citations,
        ):
            if not rule(data, entry.rules or {}):
                return data
        data["aspect_ratio"] = (
            None if self._input_decides_shape() else (data.get("aspect_ratio") or "16:9")
        )
        self._add_inputs()
        return data

    def _gather(self, data: dict[str, Any]) -> None:
        """The images, elements and video from the API's lists, or from the web form's fields."""
        self.images = list(data.get("image_list") or [])
        self.elements = list(data.get("element_list") or [])
        videos = data.get("video_list") or []
        self.video = videos[0] if videos else None
        if self.api:
            return
        self.images += [(self._upload(n), "") for n in self.reference_fields if self._upload(n)]
        self.images += [(self._upload(n), t) for n, t in FRAME_UPLOADS.items() if self._upload(n)]
        if self.images and all(isinstance(value, KeptInput) for value, _t in self.images):
            # Every input kept (a re-run): the original list order, which the prompt cites.
            self.images.sort(key=lambda image: image[0].position)
        if data.get("video_url") and self.video is None:
            keep = "yes" if data.get("keep_original_sound") else "no"
            refer = data.get("refer_type") or "base"
            self.video = {
                "url": data["video_url"],
                "refer_type": refer,
                "keep_original_sound": keep,
            }

    def _field(self, api_field: str, web_field: str) -> str:
        """The field a message belongs to: the API's list, or the web form's input."""
        if self.api or self.data.get(api_field):
            return api_field
        return web_field

    def _frames(self) -> list[str]:
        return [kind for _value, kind in self.images if kind]

    def _references(self) -> int:
        """Reference images, elements and a video: what lets O1 choose its own length."""
        plain = sum(1 for _value, kind in self.images if not kind)
        return plain + len(self.elements) + (1 if self.video else 0)

    def _input_decides_shape(self) -> bool:
        base = self.video is not None and self.video["refer_type"] == "base"
        return base or "first_frame" in self._frames()

    def _check_counts(self, data: dict[str, Any], rules: dict[str, Any]) -> bool:
        total = len(self.images) + len(self.elements)
        limit = MAX_INPUTS_WITH_VIDEO if self.video else MAX_INPUTS
        if total > limit:
            self.add_error(
                self._field("image_list", "reference_1"),
                (
                    _(
                        "image_list: at most %(limit)s images and elements with a video, "
                        "got %(total)s."
                    )
                    if self.video
                    else _(
                        "image_list: at most %(limit)s images and elements in all, got %(total)s."
                    )
                )
                % {"limit": limit, "total": total},
            )
            return False
        return True

    def _check_frames(self, data: dict[str, Any], rules: dict[str, Any]) -> bool:
        frames = self._frames()
        field = self._field("image_list", "first_frame")
        name = data["model_name"]
        problem: Any = ""
        if frames.count("first_frame") > 1 or frames.count("end_frame") > 1:
            problem = _("image_list: at most one first_frame and one end_frame.")
        elif "end_frame" in frames and "first_frame" not in frames:
            problem = _("image_list: an end_frame needs a first_frame.")
        elif frames and len(self.images) > rules.get("max_images_with_frames", MAX_INPUTS):
            limit = rules["max_images_with_frames"]
            problem = _(
                "image_list: %(name)s takes first or end frames only with at most %(limit)s images."
            ) % {"name": name, "limit": limit}
        if problem:
            self.add_error(field, problem)
            return False
        if frames and len(self.elements) > MAX_ELEMENTS_WITH_FRAMES:
            self.add_error(
                "element_list",
                _("element_list: at most %(limit)s elements with frames.")
                % {"limit": MAX_ELEMENTS_WITH_FRAMES},
            )
            return False
        if (
            len(frames) == 2
            and self.elements
            and not rules.get("elements_with_first_and_end", True)
        ):
            self.add_error(
                "element_list",
                _("element_list: %(name)s takes no elements with first and end frames.")
                % {"name": name},
            )
            return False
        return True

    def _check_multi_shot(self, data: dict[str, Any], rules: dict[str, Any]) -> bool:
        entry = self.catalogue_entry
        if not data.get("multi_shot"):
            # §7.2: without multi_shot, shot_type and multi_prompt are ignored: not sent.
            data["shot_type"], data["multi_prompt"] = "", []
            if not data.get("prompt"):
                self.add_error("prompt", _("Describe the video: a prompt is required."))
                return False
            return True
        if not entry.multi_shot:
            self.add_error(
                "multi_shot", _("%(name)s does not do multi-shot.") % {"name": entry.name}
            )
            return False
        if self._frames():
            self.add_error(
                self._field("image_list", "first_frame"),
                _("image_list: multi-shot takes no first_frame or end_frame."),
            )
            return False
        shot_type = data.get("shot_type")
        if not shot_type:
            self.add_error(
                "shot_type", _("shot_type is required with multi_shot: customize or intelligence.")
            )
            return False
        shots = data.get("multi_prompt") or []
        if shot_type == "intelligence":
            data["multi_prompt"] = []  # only customize sends shots
            if not data.get("prompt"):
                self.add_error("prompt", _("prompt is required with shot_type intelligence."))
                return False
            return True
        if not shots:
            self.add_error("multi_prompt", _("multi_prompt is required with shot_type customize."))
            return False
        total, duration = sum(s["duration"] for s in shots), data.get("duration")
        if duration and total != duration:
            self.add_error(
                "multi_prompt",
                _("multi_prompt: durations sum to %(total)s, duration is %(duration)s.")
                % {"total": total, "duration": duration},
            )
            return False
        return True

    def _check_video(self, data: dict[str, Any], rules: dict[str, Any]) -> bool:
        if self.video is None:
            return True
        field = self._field("video_list", "video_url")
        if data.get("sound"):
            self.add_error("sound", _("Sound is off when there is a video."))
            return False
        if self.video["refer_type"] == "base" and self._frames():
            self.add_error(field, _("video_list: a base video takes no first_frame or end_frame."))
            return False
        return True

    def _check_duration(self, data: dict[str, Any], rules: dict[str, Any]) -> bool:
        if "duration" in self.errors or (self.video and self.video["refer_type"] == "base"):
            return "duration" not in self.errors
        duration, name = data.get("duration"), data["model_name"]
        only = rules.get("durations_without_reference")
        if only and not self._references() and duration not in only:
            # Kling's own words for it (kling-kinds.md §7.3).
            self.add_error(
                "duration",
                _("Duration only supports %(seconds)s seconds when no refer_image is provided.")
                % {"seconds": " or ".join(str(d) for d in only)},
            )
            return False
        feature = rules.get("feature_video_durations")
        if feature and self.video and duration not in feature:
            self.add_error(
                "duration",
                _("%(name)s makes %(low)s..%(high)s seconds with a feature video.")
                % {"name": name, "low": feature[0], "high": feature[-1]},
            )
            return False
        return True

    def _check_citations(self, data: dict[str, Any], rules: dict[str, Any]) -> bool:
        counts = {
            "image": len(self.images),
            "element": len(self.elements),
            "video": int(bool(self.video)),
        }
        texts = [("prompt", data.get("prompt") or "")]
        texts += [("multi_prompt", shot["prompt"]) for shot in data.get("multi_prompt") or []]
        for field, text in texts:
            for what, number in CITATION.findall(text):
                if not 1 <= int(number) <= counts[what]:
                    have = counts[what]
                    self.add_error(
                        field,
                        (
                            _(
                                "%(field)s: <<<%(what)s_%(number)s>>> has no matching entry "
                                "(%(have)s %(what)s given)."
                            )
                            if have == 1
                            else _(
                                "%(field)s: <<<%(what)s_%(number)s>>> has no matching entry "
                                "(%(have)s %(what)ss given)."
                            )
                        )
                        % {"field": field, "what": what, "number": number, "have": have},
                    )
                    return False
        return True

    def _add_inputs(self) -> None:
        for position, (value, kind) in enumerate(self.images):
            label = kind.replace("_", " ") if kind else f"image {position + 1}"
            try:
                self.add_input(
                    "image", position, value, label=label, meta={"type": kind} if kind else {}
                )
            except ValidationError as exc:
                self.add_error(self._field("image_list", "reference_1"), exc)
        if self.video is not None:
            meta = {k: self.video[k] for k in ("refer_type", "keep_original_sound")}
            self.pending_inputs.append(PendingInput("video", 0, url=self.video["url"], meta=meta))

    def billed_duration(self) -> int:
        # A base video's output is its own length, unknown until fetched: estimated as 5 s.
        if self.video and self.video["refer_type"] == "base":
            return 5
        return super().billed_duration()

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        params: dict[str, Any] = {}
        if data.get("aspect_ratio"):
            params["aspect_ratio"] = data["aspect_ratio"]
        if self.elements:
            params["element_list"] = self.elements
        if data.get("multi_shot"):
            params["multi_shot"] = True
            params["shot_type"] = data["shot_type"]
            if data.get("multi_prompt"):
                params["multi_prompt"] = data["multi_prompt"]
        return params


def build_body(generation: Generation, files: dict[str, str], model_name: str) -> dict[str, Any]:
    """The strict §7.3 body: only what applies is sent (no duration with a base video, no
    aspect_ratio when a first frame or base video decides it, sound only when on)."""
    params = generation.params
    body: dict[str, Any] = {"model_name": model_name}
    if generation.prompt:
        body["prompt"] = generation.prompt
    if params.get("multi_shot"):
        body["multi_shot"] = True
        body["shot_type"] = params["shot_type"]
        if params.get("multi_prompt"):
            body["multi_prompt"] = [
                {"index": s["index"], "prompt": s["prompt"], "duration": str(s["duration"])}
                for s in params["multi_prompt"]
            ]
    rows = list(generation.inputs.order_by("role", "position"))
    images = [row for row in rows if row.role == "image"]
    if images:
        body["image_list"] = []
        for row in images:
            item = {"image_url": base64_of(files[row.field])}
            if row.meta.get("type"):
                item["type"] = row.meta["type"]
            body["image_list"].append(item)
    if params.get("element_list"):
        body["element_list"] = [{"element_id": e} for e in params["element_list"]]
    videos = [row for row in rows if row.role == "video"]
    base = False
    if videos:
        # Kling takes a reference video by URL only: the client's own URL.
        row = videos[0]
        body["video_list"] = [
            {
                "video_url": row.url,
                "refer_type": row.meta.get("refer_type", "base"),
                "keep_original_sound": row.meta.get("keep_original_sound", "no"),
            }
        ]
        base = body["video_list"][0]["refer_type"] == "base"
    if generation.sound:
        body["sound"] = "on"
    body["mode"] = generation.mode
    if params.get("aspect_ratio"):
        body["aspect_ratio"] = params["aspect_ratio"]
    if not base:
        body["duration"] = str(generation.duration)  # a string on the wire (§1.3)
    return body


SPEC = KindSpec(
    name="omni-video",
    label="Omni video",
    input_fields=(),
    build_body=build_body,
    form_class=OmniVideoForm,
)
