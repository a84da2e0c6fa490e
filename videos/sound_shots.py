"""sound, voice_list, element_list and multi-shot for text2video and image2video (§7.2).

The fields and their rules, mixed into videos.forms.GenerationForm so the web page and every
API family keep one set of rules; and the body fields the Kling body builders add. The
catalogue entry decides what a model takes: sound_modes, voice_modes, multi_shot (§7.1).

Stored as Generation.sound (a bool) and in Generation.params: voice_list [{voice_id}],
multi_shot true, shot_type, multi_prompt [{index, prompt, duration}] (duration a string, as
sent). With multi_shot off nothing about shots is stored: upstream ignores shot_type and
multi_prompt then, and we do not send them.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from .models import Generation, VideoModel

MAX_VOICES = 2
MAX_SHOTS = 6
SHOT_PROMPT_MAX = 512
SHOT_TYPES = ("customize", "intelligence")
# Voice ids of the voice API are opaque tokens; refusing anything else here keeps a stray
# "<<<voice_1>>>" or a lip-sync URL from being billed upstream. (The exact alphabet upstream
# is unconfirmed: letters, digits, "-" and "_" cover every id seen.)
VOICE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
VOICE_CITATION = re.compile(r"<<<voice_(\d+)>>>")


class RawCheckboxInput(forms.CheckboxInput):
    """A checkbox on the page whose raw value reaches the field.

    Django's CheckboxInput turns any non-empty string into True, so an API body's
    "sound": "off" would mean on; the field reads "on"/"off"/true/false itself.
    """

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        return data.get(name)

    def format_value(self, value: Any) -> str | None:
        return None  # the browser's own value for a ticked box is "on"


def _ticked(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("on", "true", "1"))


class OnOffField(forms.Field):
    """sound: "on"/"off" on the wire (§7.2), a ticked box on the page."""

    widget = RawCheckboxInput(check_test=_ticked)

    def to_python(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = value.strip().lower() if isinstance(value, str) else value
        if text == "on":
            return True
        if text in (None, "", "off"):
            return False
        raise ValidationError(_('Choose "on" or "off".'), code="invalid")


class FlagField(forms.Field):
    """multi_shot: a bool; "true"/"false" are tolerated (§7.2), and a ticked box is "on"."""

    widget = RawCheckboxInput(check_test=_ticked)

    def to_python(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = value.strip().lower() if isinstance(value, str) else value
        if text in ("true", "on", "1"):
            return True
        if text in (None, "", "false", "off", "0"):
            return False
        raise ValidationError(_("Give true or false."), code="invalid")


class VoiceListInput(forms.TextInput):
    """The voice ids as one line of text: "id-1, id-2"."""

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, list):
            return ", ".join(
                str(v.get("voice_id", "")) if isinstance(v, dict) else str(v) for v in value
            )
        return super().format_value(value)


class VoiceListField(forms.Field):
    """voice_list: [{voice_id}] from the API, or ids separated by commas from the page."""

    widget = VoiceListInput

    def to_python(self, value: Any) -> list[dict[str, str]]:
        if value in (None, "", []):
            return []
        if isinstance(value, str):
            items: list[Any] = [part for part in re.split(r"[,\s]+", value) if part]
        elif isinstance(value, list):
            items = value
        else:
            raise ValidationError(_("Give a list of {voice_id} objects."), code="invalid")
        voices = []
        for i, item in enumerate(items):
            voice_id = item.get("voice_id") if isinstance(item, dict) else item
            extra = set(item) - {"voice_id"} if isinstance(item, dict) else set()
            if not isinstance(voice_id, str) or not VOICE_ID.fullmatch(voice_id) or extra:
                raise ValidationError(
                    _(
                        "Voice %(number)s is not a voice id: use the id the voice API gave "
                        "(letters, digits, - and _, at most 64)."
                    ),
                    code="invalid",
                    params={"number": i + 1},
                )
            voices.append({"voice_id": voice_id})
        if len(voices) > MAX_VOICES:
            raise ValidationError(
                _("At most %(max)s voices (got %(count)s)."),
                code="too_many",
                params={"max": MAX_VOICES, "count": len(voices)},
            )
        return voices


MAX_ELEMENTS = 3
MAX_ELEMENT_ID = 2**63 - 1  # a long, as §7.2 types element_id


class ElementListInput(forms.TextInput):
    """The element ids as one line of text: "123, 456"."""

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, list):
            return ", ".join(
                str(v.get("element_id", "")) if isinstance(v, dict) else str(v) for v in value
            )
        return super().format_value(value)


class ElementListField(forms.Field):
    """element_list: [{element_id: long}] from the API, or ids separated by commas from the page.

    An id is a whole number: the API's JSON integer (not "12", 1.5 or true), the page's
    ASCII digits.
    """

    widget = ElementListInput

    def to_python(self, value: Any) -> list[dict[str, int]]:
        if value in (None, "", []):
            return []
        if isinstance(value, str):
            items: list[Any] = [part for part in re.split(r"[,\s]+", value) if part]
            from_page = True
        elif isinstance(value, list):
            items, from_page = value, False
        else:
            raise ValidationError(_("Give a list of {element_id} objects."), code="invalid")
        elements = []
        for i, item in enumerate(items):
            element_id = item.get("element_id") if isinstance(item, dict) else None
            if from_page:
                element_id = int(item) if item.isascii() and item.isdigit() else None
            extra = set(item) - {"element_id"} if isinstance(item, dict) else set()
            if type(element_id) is not int or extra or not 0 < element_id <= MAX_ELEMENT_ID:
                raise ValidationError(
                    _(
                        "Element %(number)s is not an element id: give the whole number of the "
                        "element library."
                    ),
                    code="invalid",
                    params={"number": i + 1},
                )
            elements.append({"element_id": element_id})
        if len(elements) > MAX_ELEMENTS:
            raise ValidationError(
                _("At most %(max)s elements (got %(count)s)."),
                code="too_many",
                params={"max": MAX_ELEMENTS, "count": len(elements)},
            )
        return elements


class ShotsInput(forms.Widget):
    """multi_prompt: the API's list as it is; the page's shot editor posts one
    multi_prompt_prompt and one multi_prompt_duration per shot, in order."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        if name in data:
            return data.get(name)
        getlist = getattr(data, "getlist", None)
        if getlist is None:
            return None
        prompts, durations = getlist(f"{name}_prompt"), getlist(f"{name}_duration")
        if not prompts and not durations:
            return None
        return [
            {"index": i + 1, "prompt": prompt, "duration": duration}
            for i, (prompt, duration) in enumerate(zip(prompts, durations, strict=False))
        ]


class ShotsField(forms.Field):
    """multi_prompt as given: read only with multi_shot and customize (see check_shots).

    Left unchecked here: with multi_shot off, a half-written shot editor on the page or a
    stale list in an API body is ignored, as upstream ignores it.
    """

    widget = ShotsInput

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and value.strip():
            try:
                return json.loads(value)
            except ValueError as exc:
                raise ValidationError(_("Give a list of shots."), code="invalid") from exc
        return value if value not in (None, "") else []


def visible(text: str) -> bool:
    """Whether text has a character one can see (as videos.forms.visible, which imports us)."""
    return any(unicodedata.category(c) not in ("Cc", "Cf", "Zs", "Zl", "Zp") for c in text)


def check_shots(value: Any) -> list[dict[str, Any]]:
    """1..6 × {index, prompt, duration}; indexes 1..n in order, no empty prompt (§7.2, ours)."""
    if not isinstance(value, list) or not value:
        raise ValidationError(
            _("Write 1 to %(max)s shots."), code="required", params={"max": MAX_SHOTS}
        )
    if len(value) > MAX_SHOTS:
        raise ValidationError(
            _("At most %(max)s shots (got %(count)s)."),
            code="too_many",
            params={"max": MAX_SHOTS, "count": len(value)},
        )
    return [_shot(number, item) for number, item in enumerate(value, 1)]


def _shot(number: int, item: Any) -> dict[str, Any]:
    def fail(message: Any) -> ValidationError:
        return ValidationError(message, code="invalid", params={"number": number})

    if not isinstance(item, dict) or set(item) - {"index", "prompt", "duration"}:
        raise fail(_("Shot %(number)s must be {index, prompt, duration}."))
    index = item.get("index")
    if type(index) is not int or index != number:
        raise fail(_("Shot %(number)s must have index %(number)s (shots count from 1)."))
    prompt = item.get("prompt")
    if not isinstance(prompt, str) or not visible(prompt):
        raise fail(_("Shot %(number)s needs a prompt."))
    if len(prompt) > SHOT_PROMPT_MAX:
        raise ValidationError(
            _("Shot %(number)s: the prompt is longer than %(max)s characters."),
            code="invalid",
            params={"number": number, "max": SHOT_PROMPT_MAX},
        )
    duration = item.get("duration")
    text = duration.strip() if isinstance(duration, str) else ""
    if type(duration) is int:
        seconds = duration
    elif text.isascii() and text.isdigit():
        seconds = int(text)
    else:
        raise fail(_("Shot %(number)s needs a duration in whole seconds."))
    return {"index": index, "prompt": prompt.strip(), "duration": seconds}


class SoundShotsForm(forms.Form):
    """The §7.2 fields; GenerationForm inherits them and calls clean_sound_shots in clean()."""

    sound = OnOffField(required=False, label=_("Sound"))
    voice_list = VoiceListField(
        required=False,
        label=_("Voices"),
        help_text=_("voice ids, separated by commas; cite them as <<<voice_1>>> in the prompt"),
    )
    multi_shot = FlagField(required=False, label=_("Several shots"))
    shot_type = forms.ChoiceField(
        choices=[("", "—"), ("customize", _("my shots")), ("intelligence", _("automatic"))],
        required=False,
        label=_("Shots"),
    )
    multi_prompt = ShotsField(required=False, label=_("Shots"))
    element_list = ElementListField(
        required=False,
        label=_("Elements"),
        help_text=_("up to 3 element ids of the element library, separated by commas"),
    )

    def clean_sound_shots(self, data: dict[str, Any], entry: VideoModel | None, kind: str) -> None:
        """The rules across fields and against the model's catalogue entry (§7.1, §7.2)."""
        mode = data.get("mode") or "std"
        if not data.get("multi_shot"):
            # Ignored upstream without multi_shot: neither sent nor kept (nor checked).
            data["shot_type"], data["multi_prompt"] = "", []
        elif data.get("shot_type") == "intelligence" and not self.data.get("multi_prompt"):
            # The page posts its (hidden) shot editor's rows; only an API body means them.
            data["multi_prompt"] = []
        if entry is not None:
            self._against_catalogue(data, entry, mode)
        voices = data.get("voice_list") or []
        self._elements(data, kind, voices)
        if voices and not data.get("sound"):
            self.add_error("voice_list", _("Voices need sound on."))
        self._citations(data, voices)
        if data.get("multi_shot"):
            self._shots(data)

    def _elements(self, data: dict[str, Any], kind: str, voices: list[dict[str, str]]) -> None:
        """element_list: image2video only, never with voice_list (§7.2)."""
        if not data.get("element_list") or "element_list" in self.errors:
            return
        if kind != "image2video":
            self.add_error("element_list", _("Elements belong to image-to-video."))
        elif voices:
            self.add_error(
                "element_list", _("Elements cannot be combined with voices: choose one.")
            )

    def _against_catalogue(self, data: dict[str, Any], entry: VideoModel, mode: str) -> None:
        if data.get("sound") and not entry.allows_sound(mode):
            self.add_error("sound", _no_in_mode(entry, mode, _("sound"), entry.sound_modes))
        if data.get("voice_list") and not entry.allows_voices(mode):
            self.add_error("voice_list", _no_in_mode(entry, mode, _("voices"), entry.voice_modes))
        if data.get("multi_shot") and not entry.multi_shot:
            self.add_error(
                "multi_shot",
                _("%(model)s does not take several shots.") % {"model": entry.name},
            )
        tail = self._has_last_frame(data)
        if tail and entry.supports_last_frame and not entry.allows_last_frame(mode):
            self.add_error(
                "image_tail",
                _("%(model)s takes a last frame only in %(modes)s mode.")
                % {"model": entry.name, "modes": ", ".join(entry.last_frame_modes)},
            )
        elif tail and data.get("sound") and entry.last_frame_silent:
            self.add_error(
                "image_tail",
                _("%(model)s takes a last frame only without sound.") % {"model": entry.name},
            )

    def _has_last_frame(self, data: dict[str, Any]) -> bool:
        """A last frame given now, or kept from the parent of a remix or re-run."""
        inherited = getattr(self, "inherited_frame", None)
        return bool(
            data.get("image_tail")
            or data.get("image_tail_url")
            or (
                inherited is not None
                and data.get("kind") == "image2video"
                and inherited("image_tail")
            )
        )

    def _citations(self, data: dict[str, Any], voices: list[dict[str, str]]) -> None:
        """<<<voice_N>>> in the prompts must name the list's voices, and each voice is cited."""
        shots = data.get("multi_prompt") or []
        texts = [data.get("prompt") or ""] + [
            s["prompt"] for s in shots if isinstance(s, dict) and isinstance(s.get("prompt"), str)
        ]
        cited = {int(n) for text in texts for n in VOICE_CITATION.findall(text)}
        unknown = sorted(n for n in cited if not 1 <= n <= len(voices))
        if unknown:
            self.add_error(
                "prompt",
                _("The prompt cites <<<voice_%(number)s>>> but the voice list has %(count)s.")
                % {"number": unknown[0], "count": len(voices)},
            )
        uncited = [n for n in range(1, len(voices) + 1) if n not in cited]
        if uncited and "voice_list" not in self.errors:
            self.add_error(
                "voice_list",
                _("Cite voice %(number)s in the prompt as <<<voice_%(number)s>>>.")
                % {"number": uncited[0]},
            )

    def _shots(self, data: dict[str, Any]) -> None:
        shot_type = data.get("shot_type")
        shots = data.get("multi_prompt") or []
        if shot_type not in SHOT_TYPES:
            self.add_error("shot_type", _("Choose customize or intelligence for the shots."))
            return
        if self._has_last_frame(data):
            self.add_error("image_tail", _("A last frame cannot be combined with several shots."))
        if shot_type == "intelligence":
            if shots:
                self.add_error(
                    "multi_prompt", _("Shots are written only with shot_type customize.")
                )
            if not data.get("prompt") and "prompt" not in self.errors:
                self.add_error("prompt", _("Automatic shots need a prompt to split into shots."))
            return
        if "multi_prompt" in self.errors:
            return
        try:
            shots = data["multi_prompt"] = check_shots(shots)
        except ValidationError as exc:
            self.add_error("multi_prompt", exc)
            return
        total = data.get("duration") or 0
        for shot in shots:
            if not 1 <= shot["duration"] <= total:
                self.add_error(
                    "multi_prompt",
                    _("Shot %(number)s lasts %(seconds)s s; each shot lasts 1 to %(total)s s.")
                    % {"number": shot["index"], "seconds": shot["duration"], "total": total},
                )
                return
        summed = sum(shot["duration"] for shot in shots)
        if summed != total:
            # The message of kling-kinds.md §7.2, word for word.
            self.add_error(
                "multi_prompt",
                _("durations sum to %(sum)s, duration is %(total)s")
                % {"sum": summed, "total": total},
            )

    # ---- what the page shows (templates/videos/generation_form_sound_shots.html) ----------
    def chosen_entry(self) -> VideoModel | None:
        """The catalogue entry of the model the page shows as chosen."""
        from .models import VideoModel

        entry = getattr(self, "catalogue_entry", None)
        if entry is None:
            name = self["model_name"].value() or ""
            entry = VideoModel.objects.filter(name=str(name).strip(), enabled=True).first()
        return entry

    def page_catalogue(self) -> dict[str, dict[str, Any]]:
        """What the page's script needs of each enabled model to show only what it takes."""
        from .models import VideoModel

        return {
            m.name: {
                "kinds": m.kinds,
                "modes": m.modes,
                "durations": m.durations,
                "aspect_ratios": m.aspect_ratios,
                "sound_modes": m.sound_modes,
                "voice_modes": m.voice_modes,
                "multi_shot": m.multi_shot,
                "camera": m.supports_camera_control,
                "cfg": m.supports_cfg_scale,
            }
            for m in VideoModel.objects.enabled()
        }

    def page_catalogue_json(self) -> str:
        """page_catalogue as JSON for a data- attribute (the page has no <script> but src=)."""
        return json.dumps(self.page_catalogue(), separators=(",", ":"))

    def shot_rows(self) -> list[dict[str, Any]]:
        """The shot editor's rows as given (one empty row to start from)."""
        value = self["multi_prompt"].value()
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = None
        rows = [
            {"prompt": item.get("prompt", ""), "duration": item.get("duration", "")}
            for item in (value if isinstance(value, list) else [])
            if isinstance(item, dict)
        ]
        return rows or [{"prompt": "", "duration": ""}]

    def sound_shots_params(self) -> dict[str, Any]:
        """What Generation.params keeps of §7.2 (nothing for a plain single-shot clip)."""
        data = self.cleaned_data
        params: dict[str, Any] = {}
        if data.get("voice_list"):
            params["voice_list"] = data["voice_list"]
        if data.get("element_list"):
            params["element_list"] = data["element_list"]
        if data.get("multi_shot"):
            params["multi_shot"] = True
            params["shot_type"] = data["shot_type"]
            if data["shot_type"] == "customize":
                params["multi_prompt"] = [
                    {**shot, "duration": str(shot["duration"])} for shot in data["multi_prompt"]
                ]
        return params


def _no_in_mode(entry: VideoModel, mode: str, what: Any, modes: list[str]) -> str:
    if not modes:
        return _("%(model)s has no %(what)s.") % {"model": entry.name, "what": what}
    return _("%(model)s has %(what)s only in %(modes)s mode, not %(mode)s.") % {
        "model": entry.name,
        "what": what,
        "modes": ", ".join(modes),
        "mode": mode,
    }


def sound_shots_initial(generation: Generation) -> dict[str, Any]:
    """The §7.2 fields of a generation as form data (re-run and remix)."""
    params = generation.params or {}
    initial: dict[str, Any] = {"sound": "on" if generation.sound else "off"}
    if params.get("voice_list"):
        initial["voice_list"] = params["voice_list"]
    if params.get("element_list"):
        initial["element_list"] = params["element_list"]
    if params.get("multi_shot"):
        initial["multi_shot"] = True
        initial["shot_type"] = params.get("shot_type", "")
        if params.get("multi_prompt"):
            initial["multi_prompt"] = params["multi_prompt"]
    return initial


# ---- the Kling body (§7.2) ---------------------------------------------------------------------
def takes_sound(model_name: str, generation: Generation) -> bool:
    """sound is sent only to kling-v2-6 and later (§7.2): models with sound in the catalogue."""
    if model_name.startswith(("kling-v2-6", "kling-v3")):
        return True
    entry = generation.catalogue_entry()
    return entry is not None and bool(entry.sound_modes)


def sound_shot_fields(generation: Generation, model_name: str) -> dict[str, Any]:
    """sound, voice_list, multi_shot, shot_type, multi_prompt exactly as §7.2 has them."""
    params = generation.params or {}
    body: dict[str, Any] = {}
    if generation.sound or takes_sound(model_name, generation):
        body["sound"] = "on" if generation.sound else "off"
    if params.get("voice_list"):
        body["voice_list"] = [{"voice_id": v["voice_id"]} for v in params["voice_list"]]
    if params.get("element_list"):
        body["element_list"] = [{"element_id": e["element_id"]} for e in params["element_list"]]
    if params.get("multi_shot"):
        body["multi_shot"] = True  # a bool on the wire, even if "true" came in
        body["shot_type"] = params["shot_type"]
        if params["shot_type"] == "customize":
            body["multi_prompt"] = [
                {"index": s["index"], "prompt": s["prompt"], "duration": str(s["duration"])}
                for s in params["multi_prompt"]
            ]
    return body
