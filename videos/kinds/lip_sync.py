"""advanced-lip-sync (kling-kinds.md §7.6): a voice line put into a face of a finished clip.

It takes OUR session id (from identify-face, videos/lip_sync.py) and exactly one face_choose
entry. The session exists upstream only on the provider that identified the faces (the one
that made the clip), so the generation is pinned there.
"""

from __future__ import annotations

import base64
import binascii
import math
import tempfile
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.utils.translation import gettext_lazy as _

from ..forms import PublicUrlField, TextField
from ..inputs import copy_to_local
from ..media import signed_media_path
from ..models import LipSyncSession, VideoModel
from ..rendering.audio import voice_line_ms
from ..rendering.spec import RenderError
from .base import KindSpec, base64_of
from .forms import KeptInput, KindForm, PendingInput

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from ..models import Generation

KIND = "advanced-lip-sync"
MODEL = "kling-lip-sync"  # the catalogue's pseudo model: prices and routes lip-sync
SOUND_EXTENSIONS = ("mp3", "wav", "m4a", "aac")
MAX_SOUND_BYTES = 5 * 1024 * 1024
MIN_SOUND_MS, MAX_SOUND_MS = 2000, 60000
MIN_SPAN_MS = 2000  # end - start, and the overlap with the face's interval
FACE_FIELDS = (
    "face_id",
    "audio_id",
    "sound_file",
    "sound_start_time",
    "sound_end_time",
    "sound_insert_time",
    "sound_volume",
    "original_audio_volume",
)


def _ms(**kwargs: Any) -> forms.IntegerField:
    return forms.IntegerField(min_value=0, max_value=10**7, **kwargs)


class LipSyncForm(KindForm):
    """Our session id and one face: a voice line (upload, URL or Base64), its span and volumes.

    The API sends the face as face_choose[0]; the web form sends the same fields flat.
    """

    kind = KIND
    default_model = MODEL
    takes_duration = False
    api_names = {name: f"face_choose[0].{name}" for name in FACE_FIELDS}
    # Remix and re-run: the same session, face, span and volumes; the voice line kept.
    remix_params = {
        name: name
        for name in (
            "session_id",
            "face_id",
            "audio_id",
            "sound_start_time",
            "sound_end_time",
            "sound_insert_time",
            "sound_volume",
            "original_audio_volume",
        )
    }
    remix_slots = {("audio", 0): "sound_file"}

    session_id = TextField(max_length=32, widget=forms.HiddenInput)
    face_choose = forms.JSONField(required=False, widget=forms.HiddenInput)
    face_id = TextField(max_length=64, required=False, label=_("Face"))
    audio_id = TextField(max_length=128, required=False, widget=forms.HiddenInput)
    sound_file = forms.Field(
        required=False,
        label=_("Voice line"),
        help_text=_("mp3, wav, m4a or aac; 2 to 60 s; at most 5 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": ".mp3,.wav,.m4a,.aac,audio/*"}),
    )
    sound_start_time = _ms(label=_("Start in the voice line (ms)"), initial=0)
    sound_end_time = _ms(label=_("End in the voice line (ms)"))
    sound_insert_time = _ms(label=_("Insert at, in the video (ms)"), initial=0)
    sound_volume = forms.FloatField(
        required=False, min_value=0, max_value=2, initial=1, label=_("Voice volume (0-2)")
    )
    original_audio_volume = forms.FloatField(
        required=False, min_value=0, max_value=2, initial=1, label=_("Clip's own sound (0-2)")
    )

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        # The API's face_choose entry binds to the same fields as the web form's.
        if data is not None and isinstance(data.get("face_choose"), list):
            choose = data["face_choose"]
            if len(choose) == 1 and isinstance(choose[0], dict):
                data = {**data, **{k: v for k, v in choose[0].items() if k in FACE_FIELDS}}
        api = bool(kwargs.get("api"))
        self.remix_of: Generation | None = kwargs.get("remix_of")
        super().__init__(data, *args, **kwargs)
        if not api:
            self.fields.pop("face_choose")  # the web form sends the face's fields flat
        self.session: LipSyncSession | None = None
        self.sound_ms: int | None = None
        for name in ("model_name", "mode", "duration", "sound", "provider", "prompt"):
            self.fields.pop(name, None)
        self.fields.pop("negative_prompt", None)
        if self.owner is not None and not self.is_bound:
            self.session = self._find_session(str(self.initial.get("session_id") or ""))

    def _find_session(self, ref: str) -> LipSyncSession | None:
        if self.owner is None or not (ref.isascii() and ref.isdigit() and len(ref) <= 18):
            return None
        return LipSyncSession.objects.filter(owner=self.owner, pk=int(ref)).first()

    @property
    def faces(self) -> list[dict[str, Any]]:
        """The session's faces, for the page's picker (pictures by signed URL)."""
        faces = self.session.faces if self.session is not None else []
        return [
            {**f, "url": signed_media_path(f["image"]) if f.get("image") else ""} for f in faces
        ]

    def clean_session_id(self) -> str:
        ref = self.cleaned_data["session_id"].strip()
        session = self._find_session(ref)
        if session is None:
            if self.remix_of is not None and self.remix_of.owner_id == getattr(
                self.owner, "pk", None
            ):
                # The session was the remixed job's: expired sessions are deleted (due loop).
                raise ValidationError(
                    _(
                        "The lip-sync session %(ref)s expired and was deleted; identify the "
                        "faces again."
                    )
                    % {"ref": ref},
                    code="expired",
                )
            raise ValidationError(
                _("No lip-sync session %(ref)s of yours exists.") % {"ref": ref}, code="unknown"
            )
        self.session = session
        if session.is_expired:
            raise ValidationError(
                _("The lip-sync session %(ref)s expired; identify the faces again.") % {"ref": ref},
                code="expired",
            )
        self.catalogue_entry = VideoModel.objects.filter(name=MODEL, enabled=True).first()
        if self.catalogue_entry is None:
            raise ValidationError(
                _("Lip-sync is not offered: %(model)s is disabled.") % {"model": MODEL}
            )
        return ref

    def clean_face_choose(self) -> Any:
        value = self.cleaned_data.get("face_choose")
        if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
            raise ValidationError(_("face_choose must hold exactly one face."), code="count")
        return value

    def clean_sound_file(self) -> Any:
        # A file widget reads only uploads: the API's URL or Base64 is in the data.
        return self.files.get("sound_file") or self.data.get("sound_file")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        session = self.session
        if session is None or "session_id" in self.errors:
            return data
        data.update(model_name=MODEL, mode="std", provider=session.provider)
        face = self._face(data)
        self._sound(data)
        if face is None or self.errors:
            return data
        start, end = data["sound_start_time"], data["sound_end_time"]
        insert = data["sound_insert_time"]
        span = end - start
        if span < MIN_SPAN_MS:
            self.add_error(
                "sound_end_time", _("sound_end_time - sound_start_time must be ≥ 2000 ms.")
            )
            return data
        if self.sound_ms is not None and end > self.sound_ms:
            self.add_error(
                "sound_end_time",
                _("sound_end_time %(end)s is after the voice line's end (%(length)s ms).")
                % {"end": end, "length": self.sound_ms},
            )
            return data
        video_ms = session.video_ms
        if insert + span > video_ms:
            self.add_error(
                "sound_insert_time",
                _(
                    "The voice line (%(span)s ms) inserted at %(insert)s ms runs past the "
                    "video's end (%(video)s ms)."
                )
                % {"span": span, "insert": insert, "video": video_ms},
            )
            return data
        overlap = min(insert + span, face["end_time"]) - max(insert, face["start_time"])
        if overlap < MIN_SPAN_MS:
            self.add_error(
                "sound_insert_time",
                _(
                    "The voice line must overlap face %(face)s (%(start)s-%(end)s ms) "
                    "by at least 2000 ms."
                )
                % {"face": face["face_id"], "start": face["start_time"], "end": face["end_time"]},
            )
        return data

    def _face(self, data: dict[str, Any]) -> dict[str, Any] | None:
        face_id = str(data.get("face_id") or "")
        if not face_id:
            self.add_error("face_id", _("Choose a face."))
            return None
        face = self.session.face(face_id) if self.session else None
        if face is None:
            known = ", ".join(f["face_id"] for f in self.faces)
            self.add_error(
                "face_id",
                _("No face %(face)s in this session; its faces: %(known)s.")
                % {"face": face_id, "known": known},
            )
        return face

    def _sound(self, data: dict[str, Any]) -> None:
        """Exactly one of audio_id and sound_file; an upload or Base64 is checked now."""
        value, audio_id = data.get("sound_file"), data.get("audio_id")
        if bool(value) == bool(audio_id):
            self.add_error("sound_file", _("Give exactly one of audio_id or sound_file."))
            return
        if audio_id:
            return  # a TTS id on the session's account: the upstream checks it
        if isinstance(value, KeptInput):
            # A remix's stored voice line: checked when it was stored, shared, not refetched.
            self.pending_inputs.append(PendingInput("audio", 0, url=value.url, stored=value.name))
            return
        if isinstance(value, str) and value.strip().lower().startswith(("http://", "https://")):
            try:
                url = PublicUrlField(max_length=2000).clean(value.strip())
            except ValidationError as exc:
                self.add_error("sound_file", exc)
                return
            self.pending_inputs.append(PendingInput("audio", 0, url=url))
            return  # fetched (mp3/wav/m4a/aac, ≤ 5 MB) by the worker
        try:
            upload = self._upload(value)
            self.sound_ms = _sound_length(upload)
        except ValidationError as exc:
            self.add_error("sound_file", exc)
            return
        extension = upload.name.rsplit(".", 1)[-1].lower()
        self.pending_inputs.append(PendingInput("audio", 0, upload, extension))

    def _upload(self, value: Any) -> UploadedFile:
        if isinstance(value, UploadedFile):
            upload = value
        elif isinstance(value, str):
            if value.strip().lower().startswith("data:"):
                raise ValidationError(_("sound_file must be raw Base64, without a data: prefix."))
            try:
                raw = base64.b64decode(value.strip(), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ValidationError(_("sound_file is not valid Base64.")) from exc
            upload = SimpleUploadedFile("voice.bin", raw)
        else:
            raise ValidationError(_("sound_file must be an upload, a URL or Base64."))
        if upload.size > MAX_SOUND_BYTES:
            raise ValidationError(
                _("The voice line is %(size)s bytes; at most 5 MB.") % {"size": upload.size}
            )
        return upload

    def billed_duration(self) -> int:
        data = self.cleaned_data
        span = (data.get("sound_end_time") or 0) - (data.get("sound_start_time") or 0)
        return max(2, math.ceil(span / 1000))

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        params: dict[str, Any] = {"session_id": data["session_id"], "face_id": data["face_id"]}
        for name in ("sound_start_time", "sound_end_time", "sound_insert_time"):
            params[name] = data[name]
        for name in ("sound_volume", "original_audio_volume"):
            params[name] = 1.0 if data.get(name) is None else data[name]
        if data.get("audio_id"):
            params["audio_id"] = data["audio_id"]
        return params

    def stage_generation(self, owner: AbstractBaseUser, **kwargs: Any) -> Generation:
        # Lineage: the synced clip is a child of the clip whose faces were identified.
        kwargs["parent"] = self.session.source if self.session else None
        return super().stage_generation(owner, **kwargs)


def _sound_length(upload: UploadedFile) -> int:
    """The voice line's length in ms, decoded as the renderer will (its format checked too)."""
    upload.seek(0)
    with tempfile.NamedTemporaryFile(suffix=".voice") as tmp:
        for chunk in upload.chunks():
            tmp.write(chunk)
        tmp.flush()
        try:
            length = voice_line_ms(tmp.name)
        except RenderError as exc:
            raise ValidationError(
                _("The voice line must be an mp3, wav, m4a or aac file with sound.")
            ) from exc
    upload.seek(0)
    fmt = _format_of(upload)
    if fmt not in SOUND_EXTENSIONS:
        raise ValidationError(_("The voice line must be an mp3, wav, m4a or aac file."))
    upload.name = f"voice.{fmt}"
    if not MIN_SOUND_MS <= length <= MAX_SOUND_MS:
        raise ValidationError(
            _("The voice line is %(length)s ms long; it must last 2 to 60 s.") % {"length": length}
        )
    return length


def _format_of(upload: UploadedFile) -> str:
    """mp3, wav, m4a or aac from the file's own bytes (a name can say anything)."""
    upload.seek(0)
    head = upload.read(12)
    upload.seek(0)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[4:8] == b"ftyp":
        return "m4a"
    if head[:3] == b"ID3" or (head[:1] == b"\xff" and head[1] & 0xE0 == 0xE0):
        # ADTS AAC shares the sync word; its layer bits are 00.
        return "aac" if head[:1] == b"\xff" and head[1] & 0x06 == 0 else "mp3"
    return ""


def build_body(generation: Generation, files: dict[str, str], model_name: str) -> dict[str, Any]:
    """{"session_id": the UPSTREAM session, "face_choose": [one face]}: no model."""
    params = generation.params
    session = LipSyncSession.objects.filter(pk=int(params.get("session_id") or 0)).first()
    face: dict[str, Any] = {"face_id": params.get("face_id", "")}
    if params.get("audio_id"):
        face["audio_id"] = params["audio_id"]
    else:
        face["sound_file"] = base64_of(files.get("audio.0"))
    for name in (
        "sound_start_time",
        "sound_end_time",
        "sound_insert_time",
        "sound_volume",
        "original_audio_volume",
    ):
        face[name] = params[name]
    return {
        "session_id": session.upstream_session_id if session else "",
        "face_choose": [face],
    }


def stage_session_video(generation: Generation, workdir: str) -> dict[str, str]:
    """The video the session's faces are in (the clip, or our copy of the URL's) as a local
    file: the local renderer draws the lip-sync over it."""
    session = LipSyncSession.objects.filter(pk=int(generation.params.get("session_id") or 0))
    name = session.first().video_name if session.exists() else ""
    if not name:
        return {}
    return {"parent_video": copy_to_local(name, f"{workdir}/parent_video.mp4")}


SPEC = KindSpec(
    name=KIND,
    label="Lip-sync",
    input_fields=(),
    build_body=build_body,
    form_class=LipSyncForm,
    pinned=True,
    stage_extra=stage_session_video,
)
