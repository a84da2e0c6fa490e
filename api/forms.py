"""API request bodies bound to forms; each builds the shared GenerationForm (kling-api.md §3).

The API forms only translate each family's wire shape (Kling, generic, OpenAI) into the
fields of videos.forms.GenerationForm, which holds every rule about a generation.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from videos.forms import (
    GenerationForm,
    PublicUrlField,
    TextField,
    camera_fields_from_json,
    no_credentials,
)
from videos.images import decode_base64_image
from videos.kinds import kind_spec
from videos.models import CAMERA_AXES, Kind, VideoModel
from videos.providers.fetch import address_allowed
from videos.rendering.spec import nearest_aspect

from .bodies import (
    DEFAULT_MODEL,
    GENERIC_CREATE,
    KIND_BODIES,
    KLING_IDENTIFY_FACE,
    KLING_IMAGE2VIDEO,
    KLING_TEXT2VIDEO,
    OPENAI_CREATE,
    json_type_error,
)
from .errors import ApiError, bad_field
from .http import ascii_int

SIZE = re.compile(r"([0-9]{2,5})x([0-9]{2,5})")  # ASCII digits: \d also matches "١٢"


# ---- small parsers shared by the families ----------------------------------------------------
def whole_seconds(value: Any) -> int:
    """A duration given as 5, 5.0, "5" or "5.0" → 5; anything else is an error."""
    if isinstance(value, bool):
        raise ValidationError("must be a number of seconds")
    try:
        number = float(str(value).strip())
    except ValueError as exc:
        raise ValidationError(f"must be a number of seconds, not {value!r}") from exc
    if not number.is_integer():
        raise ValidationError(f"must be a whole number of seconds, not {value!r}")
    return int(number)


def validate_callback_url(url: str) -> str:
    """http(s) only, and every address the host resolves to must be one we may call.

    Error codes: "scheme" and "refused" are permanent; "unresolvable" may pass later.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("must be an http or https URL", code="scheme")
    try:
        no_credentials(url)
    except ValidationError as exc:  # permanent like a wrong scheme: never retried
        raise ValidationError(exc.messages[0], code="scheme") from exc
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ValidationError(
            f"the host {parts.hostname} does not resolve", code="unresolvable"
        ) from exc
    for info in infos:
        ip = info[4][0]
        if not address_allowed(ip):
            kind = "loopback" if ipaddress.ip_address(ip).is_loopback else "private"
            raise ValidationError(
                f"{parts.hostname} resolves to a {kind} address ({ip}); refused", code="refused"
            )
    return url


class CallbackUrlField(PublicUrlField):
    """A client's callback_url: checked now, called later by api.tasks.deliver_callback."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=2000, required=False, assume_scheme="https", **kwargs)

    def clean(self, value: Any) -> str:
        url = super().clean(value)
        return validate_callback_url(url) if url else ""


# ---- mapping GenerationForm errors onto the wire (kling-api.md §3.5) -----------------------------
def raise_for_generation_errors(form: GenerationForm, names: dict[str, str]) -> None:
    """Unknown model → 404/1203; any other problem → 400/1201 naming the client's field."""
    errors = form.errors.as_data()
    for error in errors.get("model_name", []):
        if error.code == "unknown_model":
            raise ApiError(
                404, 1203, error.messages[0], param=names.get("model_name", "model_name")
            )
    for field, field_errors in errors.items():
        name = names.get(field, field)
        if field == "__all__":
            raise ApiError(400, 1201, field_errors[0].messages[0])
        raise bad_field(name, field_errors[0].messages[0])


def raise_for_own_errors(form: forms.Form, names: dict[str, str] | None = None) -> None:
    """The first error of an API form as 400/1201 naming the field."""
    for field, field_errors in form.errors.as_data().items():
        if field == "__all__":
            raise ApiError(400, 1201, field_errors[0].messages[0])
        raise bad_field((names or {}).get(field, field), field_errors[0].messages[0])


class SecondsField(forms.Field):
    """A duration in whole seconds given as 5, 5.0, "5" or "5.0"; left out is None."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, **kwargs)

    def to_python(self, value: Any) -> int | None:
        return None if value in (None, "") else whole_seconds(value)


def camera_names(param: str) -> dict[str, str]:
    """Every flattened camera_* field of GenerationForm, reported as the client's one param."""
    return {"camera_type": param, **{f"camera_{axis}": param for axis in CAMERA_AXES}}


KLING_NAMES = {
    "image_url": "image",
    "image_tail_url": "image_tail",
    **camera_names("camera_control"),
}


class ApiCreateForm(forms.Form):
    """What every family's create turns into: GenerationForm data plus the API's own fields."""

    names: dict[str, str] = {}
    schema: dict[str, Any] = {}  # the published JSON body (api/bodies.py)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Filled while cleaning: the flattened camera_* fields, the frames as URLs and files.
        self.camera: dict[str, Any] = {}
        self.frame_data: dict[str, Any] = {}
        self.frame_files: dict[str, Any] = {}

    def add_frame(self, field: str, value: Any) -> None:
        """An upload, URL, raw Base64 or data URI → GenerationForm's field or <field>_url."""
        if isinstance(value, UploadedFile):
            self.frame_files[field] = value
            return
        text = str(value).strip()
        if text.lower().startswith(("http://", "https://")):
            self.frame_data[f"{field}_url"] = text
        else:
            self.frame_files[field] = decode_base64_image(text, field)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["model_name"] = (data.get("model_name") or data.get("model") or DEFAULT_MODEL).strip()
        return data

    def wire_input(self) -> dict[str, Any]:
        """This family's fields in GenerationForm's words; None means the client left it out."""
        raise NotImplementedError

    def generation_input(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """(GenerationForm data, files, form kwargs) from the cleaned body."""
        camera = dict(self.camera)
        has_config = camera.pop("_camera_has_config", None)
        given = {
            # A frame makes it image2video, unless the route says the kind (Kling).
            "kind": Kind.IMAGE2VIDEO if self.frame_data or self.frame_files else Kind.TEXT2VIDEO,
            "model_name": self.cleaned_data["model_name"],
            **self.wire_input(),
            **camera,
            **self.frame_data,
        }
        data = {name: value for name, value in given.items() if value is not None}
        return data, self.frame_files, {"camera_has_config": has_config}

    def check_json_types(self) -> None:
        """A JSON field of another type than published is 400 naming it, before any cleaning.

        Django's fields would read 12345 or {"a": [1]} as the text "12345" or "{'a': [1]}",
        and True as 1. A multipart body (QueryDict) is text by nature and is not checked.
        """
        if isinstance(self.data, QueryDict):
            return
        problem = json_type_error(self.data, self.schema)
        if problem is not None:
            raise bad_field(*problem)

    def generation_form(self) -> GenerationForm:
        """The bound shared form, already validated; raises ApiError on any problem."""
        self.check_json_types()
        if not self.is_valid():
            raise_for_own_errors(self, self.names)
        data, files, kwargs = self.generation_input()
        form = GenerationForm(data, files, **kwargs)
        if not form.is_valid():
            raise_for_generation_errors(form, self.names)
        return form

    @property
    def callback_url(self) -> str:
        return self.cleaned_data.get("callback_url") or ""

    @property
    def external_task_id(self) -> str:
        return self.cleaned_data.get("external_task_id") or ""


class KlingCreateForm(ApiCreateForm):
    """A Kling text2video / image2video body (§1.3, §1.4) with the tolerances of §3.1."""

    names = KLING_NAMES

    model_name = forms.CharField(max_length=100, required=False)
    model = forms.CharField(max_length=100, required=False)  # seed 000's legacy synonym
    duration = SecondsField()
    camera_control = forms.JSONField(required=False)
    image = forms.CharField(required=False, strip=True)
    image_tail = forms.CharField(required=False, strip=True)
    static_mask = forms.CharField(required=False, strip=True)
    callback_url = CallbackUrlField()
    external_task_id = TextField(max_length=128, required=False)

    PASS_THROUGH = (
        "prompt",
        "negative_prompt",
        "mode",
        "aspect_ratio",
        "cfg_scale",
        "dynamic_masks",
        "sound",
        "voice_list",
        "element_list",
        "multi_shot",
        "shot_type",
        "multi_prompt",
    )

    def __init__(self, body: dict[str, Any], kind: str, owner: Any = None) -> None:
        super().__init__(body)
        self.body = body
        self.kind = kind
        self.owner = owner
        self.schema = KLING_IMAGE2VIDEO if kind == Kind.IMAGE2VIDEO else KLING_TEXT2VIDEO
        if body.get("model") and not body.get("model_name"):
            self.names = {**KLING_NAMES, "model_name": "model"}

    def clean_camera_control(self) -> Any:
        self.camera = camera_fields_from_json(self.cleaned_data.get("camera_control"))
        return self.cleaned_data.get("camera_control")

    def clean_static_mask(self) -> str:
        value = self.cleaned_data.get("static_mask") or ""
        if value.lower().startswith(("http://", "https://")):
            raise ValidationError("give the static mask as Base64; mask URLs are not supported")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for field in ("image", "image_tail", "static_mask"):
            if data.get(field):
                try:
                    self.add_frame(field, data[field])
                except ValidationError as exc:
                    self.add_error(field, exc)
        return data

    def wire_input(self) -> dict[str, Any]:
        return {
            **{name: self.body.get(name) for name in self.PASS_THROUGH},
            "kind": self.kind,
            "duration": self.cleaned_data["duration"],
        }


class ApiOnlyFields(forms.Form):
    """What a create body carries for the API itself, read after cleaning."""

    @property
    def callback_url(self) -> str:
        return self.cleaned_data.get("callback_url") or ""

    @property
    def external_task_id(self) -> str:
        return self.cleaned_data.get("external_task_id") or ""


class KindCreateForm(ApiOnlyFields):
    """A create body of one of the newer kinds (kling-kinds.md §7), bound to the kind's own form.

    The kind's form is the web UI's: its fields are named as Kling names them, so the body
    binds to it as it is. This form takes what only the API has (callback_url,
    external_task_id) and checks the JSON types against the published body first.
    """

    callback_url = CallbackUrlField()
    external_task_id = TextField(max_length=128, required=False)

    API_ONLY = ("callback_url", "external_task_id")

    def __init__(self, body: dict[str, Any], kind: str, owner: Any = None) -> None:
        super().__init__(body)
        self.body = body
        self.kind = kind
        self.owner = owner

    def kind_form(self) -> forms.Form:
        """The kind's bound form, already validated; raises ApiError on any problem."""
        problem = json_type_error(self.body, KIND_BODIES[self.kind][1])
        if problem is not None:
            raise bad_field(*problem)
        if not self.is_valid():
            raise_for_own_errors(self)
        fields = {k: v for k, v in self.body.items() if k not in self.API_ONLY and v is not None}
        form = kind_spec(self.kind).form_class(fields, api=True, owner=self.owner)
        if not form.is_valid():
            raise_for_generation_errors(form, getattr(form, "api_names", {}))
        return form


class IdentifyFaceForm(forms.Form):
    """identify-face's body (kling-kinds.md §7.6): the studio id of one of the caller's videos."""

    video_id = TextField(max_length=32, required=False)
    video_url = PublicUrlField(max_length=2000, required=False)

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.body = body

    def full_clean(self) -> None:
        problem = json_type_error(self.body, KLING_IDENTIFY_FACE)
        if problem is not None:
            raise bad_field(*problem)
        super().full_clean()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        given = [name for name in ("video_id", "video_url") if self.body.get(name) is not None]
        if len(given) != 1:
            self.add_error(
                given[1] if len(given) == 2 else "video_id",
                "Give exactly one of video_id and video_url.",
            )
        return data

    def video_pk(self) -> int | None:
        ref = self.cleaned_data["video_id"].strip()
        return int(ref) if ref.isascii() and ref.isdigit() and len(ref) <= 18 else None


GENERIC_NAMES = {
    "model_name": "model",
    "image_url": "image",
    "mode": "metadata.mode",
    "cfg_scale": "metadata.cfg_scale",
    "aspect_ratio": "metadata.aspect_ratio",
    "negative_prompt": "metadata.negative_prompt",
    **camera_names("metadata.camera_control"),
}


class GenericCreateForm(ApiCreateForm):
    """Seed 002's generic body: model, prompt, image, duration (float), width, height, metadata."""

    names = GENERIC_NAMES
    schema = GENERIC_CREATE

    model = forms.CharField(max_length=100, required=False)
    prompt = forms.CharField(required=False, strip=True)
    image = forms.CharField(required=False, strip=True)
    duration = SecondsField()
    width = forms.IntegerField(min_value=1, max_value=10000, required=False)
    height = forms.IntegerField(min_value=1, max_value=10000, required=False)
    metadata = forms.JSONField(required=False)
    callback_url = CallbackUrlField()

    METADATA = ("mode", "cfg_scale", "aspect_ratio", "negative_prompt")

    def clean_metadata(self) -> dict[str, Any]:
        value = self.cleaned_data.get("metadata") or {}
        if not isinstance(value, dict):
            raise ValidationError("must be an object")
        try:
            self.camera = camera_fields_from_json(value.get("camera_control"))
        except ValidationError as exc:
            raise ValidationError(f"camera_control: {exc.messages[0]}") from exc
        return value

    def clean_image(self) -> str:
        value = self.cleaned_data.get("image") or ""
        if value:
            self.add_frame("image", value)
        return value

    def wire_input(self) -> dict[str, Any]:
        meta = self.cleaned_data["metadata"]
        data = {name: meta.get(name) for name in self.METADATA}
        width, height = self.cleaned_data.get("width"), self.cleaned_data.get("height")
        if data["aspect_ratio"] is None and width and height:
            data["aspect_ratio"] = nearest_aspect(width, height)
        return {
            **data,
            "prompt": self.cleaned_data.get("prompt") or "",
            "duration": self.cleaned_data["duration"],
        }


OPENAI_NAMES = {
    "model_name": "model",
    "duration": "seconds",
    "aspect_ratio": "size",
    "image": "input_reference",
    "image_url": "input_reference",
}


class OpenAICreateForm(ApiCreateForm):
    """POST /v1/videos: prompt, model, seconds, size, input_reference (file part or {image_url})."""

    names = OPENAI_NAMES
    schema = OPENAI_CREATE

    prompt = forms.CharField(max_length=2500, strip=True)
    model = forms.CharField(max_length=100, required=False)
    seconds = SecondsField()
    size = forms.CharField(max_length=11, required=False)
    input_reference = forms.Field(required=False)

    def clean_size(self) -> tuple[int, int] | None:
        value = self.cleaned_data.get("size") or ""
        if not value:
            return None
        match = SIZE.fullmatch(value)
        if not match:
            raise ValidationError("must be WIDTHxHEIGHT, for example 1280x720")
        width, height = int(match[1]), int(match[2])
        if 0 in (width, height):
            raise ValidationError("width and height must be positive, for example 1280x720")
        return width, height

    def clean_input_reference(self) -> Any:
        value = self.files.get("input_reference") or self.cleaned_data.get("input_reference")
        if value in (None, "", {}):
            return None
        if isinstance(value, dict):
            if value.get("file_id"):
                raise ValidationError(
                    "file_id references are not supported; send image_url or a file"
                )
            value = value.get("image_url")
            if not value:
                raise ValidationError("needs image_url (a URL or a data: URL) or a file part")
        self.add_frame("image", value)
        return value

    def wire_input(self) -> dict[str, Any]:
        size = self.cleaned_data["size"]
        return {
            "prompt": self.cleaned_data["prompt"],
            "duration": self.cleaned_data["seconds"],
            "aspect_ratio": nearest_aspect(*size) if size else None,
        }


# ---- reading -------------------------------------------------------------------------------
class QueryIntegerField(forms.IntegerField):
    """A whole number in a query string: ASCII digits only.

    Django's IntegerField calls int(), which reads "١٢" and "１２" as 12 and "1.0" as 1;
    a query parameter is what a client typed, so only what the docs show is accepted.
    """

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        number = ascii_int(str(value))
        if number is None:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return number


class KlingListForm(forms.Form):
    """?pageNum=1..1000&pageSize=1..500 (kling-api.md §1.2)."""

    pageNum = QueryIntegerField(min_value=1, max_value=1000, required=False)  # noqa: N815
    pageSize = QueryIntegerField(min_value=1, max_value=500, required=False)  # noqa: N815


class AccountCostsForm(forms.Form):
    """?start_time&end_time (ms, required)[&resource_pack_name] (kling-kinds.md §7.8)."""

    start_time = QueryIntegerField(min_value=0, max_value=10**15)
    end_time = QueryIntegerField(min_value=0, max_value=10**15)
    resource_pack_name = forms.CharField(required=False, max_length=100, strip=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start_time"), data.get("end_time")
        if start is not None and end is not None and end < start:
            self.add_error("end_time", "must not be before start_time")
        return data


class OpenAIListForm(forms.Form):
    """?after=<id>&limit=1..100&order=asc|desc."""

    after = forms.CharField(required=False, strip=False)
    limit = QueryIntegerField(min_value=1, max_value=100, required=False)
    order = forms.ChoiceField(choices=[("asc", "asc"), ("desc", "desc")], required=False)

    def clean_after(self) -> int | None:
        value = self.cleaned_data.get("after")
        if not value:
            return None
        after = ascii_int(value)
        if after is None:
            raise ValidationError("must be a video id from a previous page")
        return after


class ContentForm(forms.Form):
    variant = forms.ChoiceField(
        choices=[("video", "video"), ("thumbnail", "thumbnail"), ("spritesheet", "spritesheet")],
        required=False,
    )


# ---- the My keys page ----------------------------------------------------------------------
def _model_choices() -> list[tuple[str, str]]:
    return [(m.name, m.label or m.name) for m in VideoModel.objects.enabled()]


class KeyCreateForm(forms.Form):
    """A user's own new key: a name, an optional expiry and optional model restriction."""

    name = forms.CharField(max_length=100, strip=True, label=_("Name"))
    expires_in_days = forms.IntegerField(
        min_value=1,
        max_value=3650,
        required=False,
        label=_("Expires in days"),
        help_text=_("blank: never expires"),
    )
    allowed_models = forms.MultipleChoiceField(
        choices=_model_choices,
        required=False,
        label=_("Allowed models"),
        help_text=_("none selected: every model"),
        widget=forms.CheckboxSelectMultiple,
    )

    def key_fields(self) -> dict[str, Any]:
        days = self.cleaned_data.get("expires_in_days")
        return {
            "name": self.cleaned_data["name"],
            "expires_at": timezone.now() + timedelta(days=days) if days else None,
            "allowed_models": list(self.cleaned_data.get("allowed_models") or []),
        }
