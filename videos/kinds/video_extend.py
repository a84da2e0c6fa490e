"""video-extend (kling-kinds.md §7.5): four to five more seconds after a finished clip.

The client names the clip by the studio's id (the `videos[].id` our API shows, which is the
generation id); upstream video ids never cross our API. The job sends the parent's
upstream video id to the provider that made it: the id exists only on that account, so the
generation is pinned there (no failover). Model and mode are the parent's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..forms import TextField
from ..inputs import copy_to_local
from ..models import Generation, Status
from .base import KindSpec
from .forms import KindForm

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

EXTEND_SECONDS = 5  # each call adds 4-5 s; priced as five
MAX_SOURCE_SECONDS = 175  # the result (source + extension) stays within three minutes
MAX_SOURCE_AGE = timedelta(days=30)  # upstream videos live 30 days
NEGATIVE_PROMPT_MAX = 2500
KIND = "video-extend"


def source_problem(source: Generation) -> str | None:
    """Why a visible generation cannot be extended (§7.5), or None when it can."""
    ref = source.pk
    if source.status != Status.SUCCEEDED or not source.video:
        return _("The video %(ref)s is not finished (%(status)s); only finished clips extend.") % {
            "ref": ref,
            "status": source.status,
        }
    if problem := source.account_video_problem():
        return problem
    entry = source.catalogue_entry()
    if entry is None or KIND not in entry.kinds:
        return _(
            "The video %(ref)s was made with %(model)s; only kling-v1, kling-v1-5 "
            "and kling-v1-6 clips can be extended."
        ) % {"ref": ref, "model": source.model_name}
    if source.finished_at and source.finished_at < timezone.now() - MAX_SOURCE_AGE:
        return _("The video %(ref)s is older than 30 days; the upstream no longer keeps it.") % {
            "ref": ref
        }
    if (source.video_duration or 0) > MAX_SOURCE_SECONDS:
        return _(
            "The video %(ref)s is %(seconds)s s long; only clips up to "
            "%(limit)s s can be extended (the result is at most 3 minutes)."
        ) % {"ref": ref, "seconds": f"{source.video_duration:g}", "limit": MAX_SOURCE_SECONDS}
    if source.provider_id is None or not source.upstream_video_id:
        return _("The video %(ref)s has no upstream video id to extend (its provider is gone).") % {
            "ref": ref
        }
    return None


def is_extendable(source: Generation) -> bool:
    """Whether the detail page offers "Extend" for this clip."""
    return source.kind != "advanced-lip-sync" and source_problem(source) is None


class VideoExtendForm(KindForm):
    """A studio video id, an optional prompt; negative_prompt and cfg_scale not for kling-v1."""

    kind = KIND
    default_model = "kling-v1"
    takes_duration = False
    # Remix and re-run: the same clip continued again (not the extension itself).
    remix_params = {"video_id": "video_id", "cfg_scale": "cfg_scale"}

    video_id = TextField(
        max_length=32,
        label=_("Video to extend"),
        help_text=_("The studio id of a finished kling-v1, v1-5 or v1-6 clip."),
    )
    cfg_scale = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        label=_("Prompt adherence (cfg_scale)"),
        help_text=_("0 to 1; not for kling-v1 clips."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # An API key sees its owner's videos only; the web UI, the team's (as everywhere).
        self.own_only = bool(kwargs.get("api"))
        super().__init__(*args, **kwargs)
        self.source: Generation | None = None
        # Model, mode and length come from the source clip; its provider is the only one
        # that knows its video id.
        for name in ("model_name", "mode", "duration", "sound", "provider"):
            self.fields.pop(name, None)
        self.fields["negative_prompt"].max_length = NEGATIVE_PROMPT_MAX
        self.fields["prompt"].help_text = _("Optional: what happens next.")

    def clean_video_id(self) -> str:
        ref = self.cleaned_data["video_id"].strip()
        if self.owner is None:
            candidates = Generation.objects.none()
        elif self.own_only:
            candidates = Generation.objects.filter(owner=self.owner)
        else:
            candidates = Generation.objects.visible_to(self.owner)
        # ASCII digits only: the ids the studio gives out ("١٢" is not one).
        pk = int(ref) if ref.isascii() and ref.isdigit() and len(ref) <= 18 else None
        source = candidates.filter(pk=pk).first() if pk is not None else None
        if source is None:
            message = (
                _("No video %(ref)s of yours exists.")
                if self.own_only
                else _("No video %(ref)s exists.")
            )
            raise ValidationError(message % {"ref": ref}, code="unknown")
        if problem := source_problem(source):
            raise ValidationError(problem, code="ineligible")
        self.source = source
        self.catalogue_entry = source.catalogue_entry()
        return ref

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        source = self.source
        if source is None:
            return data
        data.update(
            model_name=source.model_name,
            mode=source.mode,
            duration=EXTEND_SECONDS,
            provider=source.provider,
        )
        if source.model_name == "kling-v1":
            for name in ("negative_prompt", "cfg_scale"):
                if data.get(name) not in (None, ""):
                    self.add_error(
                        name,
                        _("%(name)s cannot be used to extend a kling-v1 clip.") % {"name": name},
                    )
        return data

    def billed_duration(self) -> int:
        return EXTEND_SECONDS

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"video_id": self.cleaned_data["video_id"]}
        if self.cleaned_data.get("cfg_scale") is not None:
            params["cfg_scale"] = self.cleaned_data["cfg_scale"]
        return params

    def stage_generation(self, owner: AbstractBaseUser, **kwargs: Any) -> Generation:
        # Lineage: the extension is a child of the clip it continues.
        kwargs["parent"] = self.source
        return super().stage_generation(owner, **kwargs)


def build_body(generation: Generation, files: dict[str, str], model_name: str) -> dict[str, Any]:
    """{"video_id": the parent's UPSTREAM id, prompt, negative_prompt, cfg_scale}: no model."""
    parent = generation.parent
    body: dict[str, Any] = {"video_id": parent.upstream_video_id if parent else ""}
    if generation.prompt:
        body["prompt"] = generation.prompt
    if generation.negative_prompt:
        body["negative_prompt"] = generation.negative_prompt
    if (cfg := generation.params.get("cfg_scale")) is not None:
        body["cfg_scale"] = cfg
    return body


def stage_parent(generation: Generation, workdir: str) -> dict[str, str]:
    """The parent's stored MP4 as a local file: the local renderer starts from its frames."""
    parent = generation.parent
    if parent is None or not parent.video:
        return {}
    return {"parent_video": copy_to_local(parent.video.name, f"{workdir}/parent_video.mp4")}


SPEC = KindSpec(
    name=KIND,
    label="Extend",
    input_fields=(),
    build_body=build_body,
    form_class=VideoExtendForm,
    pinned=True,
    stage_extra=stage_parent,
)
