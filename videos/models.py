"""The studio's data: the model catalogue, upstream providers, generations and their timeline."""

from __future__ import annotations

import math
import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django_q.tasks import async_task

from .crypto import decrypt_json, encrypt_json, mask
from .ids import new_task_id
from .providers import ProviderConfig, Upstream, kind_cannot_do, upstream_for, wanted_features
from .rendering.spec import ASPECT_RATIOS as RENDER_ASPECT_RATIOS

if TYPE_CHECKING:
    from collections.abc import Mapping

    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from .rendering import VideoMeta


class Kind(models.TextChoices):
    """Every kind of generation: the value is its Kling path segment (kling-kinds.md §7)."""

    TEXT2VIDEO = "text2video", _("Text to video")
    IMAGE2VIDEO = "image2video", _("Image to video")
    OMNI_VIDEO = "omni-video", _("Omni video")
    MULTI_IMAGE2VIDEO = "multi-image2video", _("Multi-image to video")
    VIDEO_EXTEND = "video-extend", _("Extend")
    LIP_SYNC = "advanced-lip-sync", _("Lip-sync")
    EFFECTS = "effects", _("Effect")


class Mode(models.TextChoices):
    STD = "std", _("Standard (std)")
    PRO = "pro", _("Professional (pro)")


# Kling's aspect ratios (kling-api.md §1.3) are the renderer's: one list for both.
ASPECT_RATIOS = list(RENDER_ASPECT_RATIOS)
CAMERA_TYPES = ["simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward"]
CAMERA_AXES = ["horizontal", "vertical", "pan", "tilt", "roll", "zoom"]


def default_aspect_ratios() -> list[str]:
    """Kling's own three (kling-api.md §1.3); gateway models list theirs."""
    return ["16:9", "9:16", "1:1"]


class VideoModelQuerySet(models.QuerySet["VideoModel"]):
    def enabled(self) -> VideoModelQuerySet:
        return self.filter(enabled=True).order_by("sort_order", "name")


class VideoModel(models.Model):
    """A model name of the catalogue and what it supports; forms and the API validate against it."""

    name = models.CharField(max_length=100, unique=True)
    label = models.CharField(max_length=100, blank=True)
    kinds = models.JSONField(default=list, help_text=_('e.g. ["text2video", "image2video"]'))
    modes = models.JSONField(default=list, help_text=_('e.g. ["std", "pro"]'))
    durations = models.JSONField(
        default=list, help_text=_("allowed durations in seconds, e.g. [5, 10]")
    )
    supports_cfg_scale = models.BooleanField(default=True)
    supports_camera_control = models.BooleanField(default=True)
    supports_first_frame = models.BooleanField(default=True)
    supports_last_frame = models.BooleanField(default=True)
    # kling-kinds.md §7.1: what depends on the mode, and the newer capabilities.
    default_mode = models.CharField(max_length=8, default="std")
    aspect_ratios = models.JSONField(
        default=default_aspect_ratios, help_text=_('e.g. ["16:9", "9:16", "1:1"]')
    )
    last_frame_modes = models.JSONField(
        default=list,
        blank=True,
        help_text=_("modes that take a last frame; empty means every mode"),
    )
    last_frame_silent = models.BooleanField(
        default=False, help_text=_("a last frame only without sound (kling-v2-6)")
    )
    sound_modes = models.JSONField(
        default=list, blank=True, help_text=_('modes with native sound, e.g. ["pro"]; empty: none')
    )
    voice_modes = models.JSONField(
        default=list, blank=True, help_text=_("modes that take a voice_list; empty: none")
    )
    multi_shot = models.BooleanField(default=False, help_text=_("multi-shot storyboards"))
    rules = models.JSONField(
        default=dict,
        blank=True,
        help_text=_(
            "rules of one kind for this model, e.g. omni-video durations without references"
        ),
    )
    typical_seconds = models.PositiveIntegerField(
        default=120, help_text=_("typical upstream run time")
    )
    units_std = models.DecimalField(
        max_digits=8, decimal_places=2, default=Decimal("1"), help_text=_("units per 5 s in std")
    )
    units_pro = models.DecimalField(
        max_digits=8, decimal_places=2, default=Decimal("3.5"), help_text=_("units per 5 s in pro")
    )
    enabled = models.BooleanField(default=True)
    sort_order = models.PositiveIntegerField(default=100)

    objects = VideoModelQuerySet.as_manager()

    class Meta:
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name

    def allows_sound(self, mode: str) -> bool:
        return mode in self.sound_modes

    def allows_voices(self, mode: str) -> bool:
        return mode in self.voice_modes

    def allows_last_frame(self, mode: str) -> bool:
        return self.supports_last_frame and (
            not self.last_frame_modes or mode in self.last_frame_modes
        )

    def estimate_units(self, mode: str, duration: int, sound: bool = False) -> Decimal:
        """Units a job costs: the per-5-second price of the mode, scaled by duration.

        Sound: kling-kinds.md §7.1/§7.8 give no price for sound (nor does kling-api.md), so a
        clip with sound costs what a silent one does, unless the catalogue entry carries a
        rule {"sound_units_factor": "1.5"} in `rules`, which an admin sets once the price
        with sound is known; the estimate then multiplies by it.
        """
        per_five = self.units_pro if mode == Mode.PRO else self.units_std
        units = per_five * Decimal(duration) / Decimal(5)
        if sound and self.allows_sound(mode):
            units *= self.sound_units_factor()
        return units.quantize(Decimal("0.01"))

    def sound_units_factor(self) -> Decimal:
        """The catalogue's price rule for sound (1 when it has none)."""
        try:
            factor = Decimal(str((self.rules or {}).get("sound_units_factor", 1)))
        except ArithmeticError:
            return Decimal(1)
        return factor if factor.is_finite() and factor > 0 else Decimal(1)


# Calls in a row without an answer before a provider counts as down (one is a blip).
UNHEALTHY_AFTER_FAILURES = 3


def serving_of(providers: list[Provider], model_name: str) -> list[Provider]:
    """ProviderQuerySet.serving over providers already loaded (enabled, in priority order)."""
    enabled = [p for p in providers if p.enabled and p.serves(model_name)]
    if any(p.kind != Provider.Kind.LOCAL for p in enabled):
        enabled = [p for p in enabled if p.kind != Provider.Kind.LOCAL]
    return [p for p in enabled if p.healthy]


def local_render_seconds(duration: int) -> int:
    """The local renderer's typical time for a clip: seconds, growing with its length.

    Declared, not measured per job: the renderer draws and encodes a 5 s clip in about
    4 s and a 15 s one in about 8 s on the 2-core machines the studio runs on. An admin
    who measures otherwise sets Provider.typical_seconds.
    """
    return 3 + max(duration, 1) // 3


class TypicalTimes:
    """The typical run time of jobs on the provider that serves (or will serve) them.

    Two queries for any number of cards: the catalogue and the providers.
    """

    def __init__(self) -> None:
        self.entries = {m.name: m for m in VideoModel.objects.all()}
        self.providers = list(Provider.objects.order_by("priority", "id"))

    def provider(self, model_name: str, provider_id: int | None = None) -> Provider | None:
        """The chosen provider, else the first that would take the model's jobs now."""
        if provider_id is not None:
            return next((p for p in self.providers if p.pk == provider_id), None)
        return next(iter(serving_of(self.providers, model_name)), None)

    def seconds(self, model_name: str, duration: int, provider_id: int | None = None) -> int | None:
        entry = self.entries.get(model_name)
        provider = self.provider(model_name, provider_id)
        if provider is not None:
            return provider.typical_seconds_for(entry, duration)
        return entry.typical_seconds if entry else None


class ProviderQuerySet(models.QuerySet["Provider"]):
    def balance_due(self, now: datetime) -> ProviderQuerySet:
        """Enabled Kling providers whose packs were last asked for a minute or more ago.

        One cheap query: the due loop checks every second, and asks only these.
        """
        cutoff = now - timedelta(seconds=BALANCE_REFRESH_SECONDS)
        return self.filter(enabled=True, kind=Provider.Kind.KLING).exclude(
            balance__checked_at__gt=cutoff
        )

    def routes_for(self, model_name: str) -> list[Provider]:
        """Enabled providers that serve a model, in priority order, healthy or not.

        The local renderer is the offline default, not a silent fallback: once an
        enabled real upstream serves a model, its jobs go only to real upstreams, so
        a team paying for Kling never gets a locally drawn clip because Kling was down.
        """
        enabled = [
            p for p in self.filter(enabled=True).order_by("priority", "id") if p.serves(model_name)
        ]
        if any(p.kind != Provider.Kind.LOCAL for p in enabled):
            enabled = [p for p in enabled if p.kind != Provider.Kind.LOCAL]
        return enabled

    def serving(
        self, model_name: str, kind: str = "", wanted: set[str] | None = None
    ) -> list[Provider]:
        """Usable providers that serve a model, in priority order; with a kind (and the
        features a create asks for), only those whose adapter can do it: a job never goes
        where a field of it would be refused or dropped (kling-kinds.md §8)."""
        return [
            p
            for p in self.routes_for(model_name)
            if p.healthy and not (kind and p.cannot_do(kind, wanted or set()))
        ]

    def none_can_do(self, model_name: str, kind: str, wanted: set[str] | None = None) -> bool:
        """Whether providers serve a model but none, healthy or not, can do this create."""
        routes = self.routes_for(model_name)
        return bool(kind and routes) and all(p.cannot_do(kind, wanted or set()) for p in routes)

    def unavailable_reason(
        self, model_name: str, kind: str = "", wanted: set[str] | None = None
    ) -> str:
        """Why no provider can take a model's jobs, for the generation's failure message."""
        routes = self.routes_for(model_name)
        if self.none_can_do(model_name, kind, wanted):
            return "no provider serving {!r} can do this: {}".format(
                model_name,
                "; ".join(
                    f"{p.name} cannot do {', '.join(sorted(p.cannot_do(kind, wanted or set())))}"
                    for p in routes
                ),
            )
        sick = [p for p in self.filter(enabled=True, healthy=False) if p.serves(model_name)]
        if sick:
            return "every provider serving {!r} is unhealthy: {}".format(
                model_name, "; ".join(f"{p.name}: {p.health_message}" for p in sick)
            )
        return f"no enabled provider serves the model {model_name!r}"

    def recovering(self, model_name: str) -> bool:
        """Whether an enabled provider serves a model but is unhealthy (a re-probe may cure it)."""
        return any(p.serves(model_name) for p in self.filter(enabled=True, healthy=False))


class Provider(models.Model):
    """An upstream the studio spends: the local renderer, the Kling API or a gateway."""

    class Kind(models.TextChoices):
        LOCAL = "local", _("Local renderer")
        KLING = "kling", _("Kling (official API)")
        GATEWAY = "kling-gateway", _("Kling-compatible gateway")
        # kling-kinds.md §8a/§8b: gateways spoken in their own shape (videos/providers/).
        OPENAI_VIDEO = "openai-video", _("OpenAI-style video gateway (/v1/videos)")
        VIDEO_GENERATIONS = "video-generations", _("new-api-style gateway (/v1/video/generations)")

    GATEWAY_KINDS = (Kind.OPENAI_VIDEO, Kind.VIDEO_GENERATIONS)

    name = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.LOCAL)
    base_url = models.URLField(max_length=500, blank=True)
    path_prefix = models.CharField(
        max_length=100, blank=True, help_text=_('gateways: a path prefix such as "/kling"')
    )
    # Fernet tokens: never stored in plain text, never shown again in full.
    credentials_encrypted = models.TextField(blank=True, editable=False)
    webhook_secret_encrypted = models.TextField(blank=True, editable=False)
    enabled = models.BooleanField(default=True)
    priority = models.IntegerField(default=100, help_text=_("lower is tried first"))
    max_concurrent = models.PositiveIntegerField(
        default=5, help_text=_("upstream concurrency slots")
    )
    allowed_models = models.JSONField(
        default=list,
        blank=True,
        help_text=_("model names served; empty means every catalogue model"),
    )
    model_map = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("studio model name → upstream model name, when they differ"),
    )
    healthy = models.BooleanField(default=True)
    health_message = models.TextField(blank=True)
    health_checked_at = models.DateTimeField(null=True, blank=True)
    # Calls in a row that got no answer at all (refused, DNS, timeout); any answer resets it.
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # One worker at a time polls a provider's running tasks in a batch (tasks.poll_provider).
    poll_lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    # The catalogue's typical_seconds is the official upstream's; a gateway or the local
    # renderer runs faster or slower, and the form and the cards show the time of the
    # provider that serves the job.
    typical_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="typical run time of a job here, in seconds; empty: the model's "
        "(the local renderer: from the clip's length)",
    )

    objects = ProviderQuerySet.as_manager()

    class Meta:
        ordering = ["priority", "name"]

    def __str__(self) -> str:
        return self.name

    def serves(self, model_name: str) -> bool:
        return not self.allowed_models or model_name in self.allowed_models

    def cannot_do(self, kind: str, wanted: set[str]) -> set[str]:
        """What of a create (its kind, its features) this provider's adapter cannot do."""
        return kind_cannot_do(self.kind, kind, wanted)

    def typical_seconds_for(self, entry: VideoModel | None, duration: int) -> int | None:
        """How long a job of this model and clip length typically runs here."""
        if self.typical_seconds:
            return self.typical_seconds
        if self.kind == Provider.Kind.LOCAL:
            return local_render_seconds(duration)
        return entry.typical_seconds if entry else None

    def upstream_model_name(self, model_name: str) -> str:
        return self.model_map.get(model_name, model_name)

    def config(self) -> ProviderConfig:
        """What an upstream module needs to talk to this provider (it never sees the model)."""
        return ProviderConfig(
            pk=self.pk,
            name=self.name,
            kind=self.kind,
            base_url=self.base_url,
            path_prefix=self.path_prefix,
            credentials=self.get_credentials(),
            timeout=float(settings.STUDIO_UPSTREAM_TIMEOUT),
            lookup_grace=float(settings.STUDIO_LOOKUP_GRACE_SECONDS),
        )

    def upstream(self) -> Upstream:
        """The adapter speaking this provider's protocol (reused while its settings stay)."""
        return upstream_for(self.config())

    def set_credentials(self, **values: str) -> None:
        """Encrypt credentials (access_key/secret_key or api_key) for storage."""
        self.credentials_encrypted = encrypt_json({k: v for k, v in values.items() if v})

    def get_credentials(self) -> dict[str, str]:
        return decrypt_json(self.credentials_encrypted)

    def masked_credentials(self) -> dict[str, str]:
        return {k: mask(v) for k, v in self.get_credentials().items()}

    def set_webhook_secret(self, secret: str) -> None:
        self.webhook_secret_encrypted = encrypt_json({"secret": secret}) if secret else ""

    def get_webhook_secret(self) -> str:
        return decrypt_json(self.webhook_secret_encrypted).get("secret", "")

    def mark_unhealthy(self, reason: str) -> None:
        self.healthy, self.health_message = False, reason
        self.health_checked_at = timezone.now()
        self.save(update_fields=["healthy", "health_message", "health_checked_at"])

    def mark_healthy(self, message: str = "") -> None:
        self.healthy, self.health_message = True, message
        self.health_checked_at = timezone.now()
        self.consecutive_failures = 0
        self.save(
            update_fields=["healthy", "health_message", "health_checked_at", "consecutive_failures"]
        )

    def note_unreachable(self, reason: str) -> bool:
        """Count a call that got no answer; the UNHEALTHY_AFTER_FAILURES-th in a row marks the
        provider unhealthy (the staff banner shows it, the due loop re-probes it). True if so.

        Several workers fail on the same dead upstream at once: the count is an atomic
        increment, and only the UPDATE that still finds the provider healthy flips it, so
        the reason is written once and a probe's later verdict is not overwritten.
        """
        Provider.objects.filter(pk=self.pk).update(
            consecutive_failures=F("consecutive_failures") + 1
        )
        flipped = Provider.objects.filter(
            pk=self.pk, healthy=True, consecutive_failures__gte=UNHEALTHY_AFTER_FAILURES
        ).update(
            healthy=False,
            health_message=f"{reason} ({UNHEALTHY_AFTER_FAILURES} failures in a row)",
            health_checked_at=timezone.now(),
        )
        self.refresh_from_db(
            fields=["consecutive_failures", "healthy", "health_message", "health_checked_at"]
        )
        return bool(flipped)

    def note_reachable(self) -> None:
        """An answer came back: the failures in a row are over (health itself returns by probe).

        Checked on the row as loaded first: every successful poll passes here, and most
        find nothing to reset, so they cost no write.
        """
        if self.consecutive_failures:
            Provider.objects.filter(pk=self.pk, consecutive_failures__gt=0).update(
                consecutive_failures=0
            )
            self.consecutive_failures = 0

    def note_probe_failed(self, message: str) -> None:
        """A probe that got no usable answer, for a reason other than the credentials."""
        self.health_message, self.health_checked_at = f"probe failed: {message}", timezone.now()
        self.save(update_fields=["health_message", "health_checked_at"])

    def running_count(self) -> int:
        return self.generations.filter(status__in=Generation.RUNNING).count()

    def slots_used(self) -> int:
        """Upstream concurrency slots held: running tasks plus creates in flight or unresolved."""
        return Generation.objects.filter(
            Q(provider=self, status__in=Generation.RUNNING)
            | Q(create_provider=self, status=Status.QUEUED)
        ).count()

    def claim_poll(self, seconds: float) -> bool:
        """Take the batch-poll lease; False while another worker polls this provider."""
        now = timezone.now()
        lease = now + timedelta(seconds=seconds)
        won = (
            Provider.objects.filter(pk=self.pk)
            .filter(Q(poll_lease_until__lt=now) | Q(poll_lease_until__isnull=True))
            .update(poll_lease_until=lease)
        )
        if won:
            self.poll_lease_until = lease
        return bool(won)

    def release_poll(self) -> None:
        """Give the batch-poll lease back, unless it ran out and another worker took it since."""
        Provider.objects.filter(pk=self.pk, poll_lease_until=self.poll_lease_until).update(
            poll_lease_until=None
        )


class Status(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SUBMITTED = "submitted", _("Submitted")
    PROCESSING = "processing", _("Processing")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class GenerationQuerySet(models.QuerySet["Generation"]):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> GenerationQuerySet:
        """The studio is a team's shared space: every signed-in member sees every generation
        that is not in the trash."""
        if not user.is_authenticated:
            return self.none()
        return self.live()

    def live(self) -> GenerationQuerySet:
        """Not in the trash: what the gallery, history, compare and the API lists show."""
        return self.filter(deleted_at__isnull=True)

    def trashed(self) -> GenerationQuerySet:
        return self.filter(deleted_at__isnull=False).order_by("-deleted_at", "-id")

    def trash_expired(self, now: datetime | None = None) -> GenerationQuerySet:
        """Trashed longer than STUDIO_TRASH_DAYS: purged with their files."""
        cutoff = (now or timezone.now()) - timedelta(days=settings.STUDIO_TRASH_DAYS)
        return self.filter(deleted_at__lt=cutoff)

    def of_batches(self, batch_ids: list[Any]) -> GenerationQuerySet:
        return self.filter(batch_id__in=[b for b in batch_ids if b])

    def editable_by(self, user: AbstractBaseUser | AnonymousUser) -> GenerationQuerySet:
        """Only the owner and admins may change or delete a generation."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self.all()
        return self.filter(owner=user)

    def recent(self) -> GenerationQuerySet:
        return self.select_related("owner", "provider", "project").order_by("-id")

    def pending(self) -> GenerationQuerySet:
        return self.filter(status__in=Generation.PENDING)

    def polled_unchanged(self, next_at: datetime) -> int:
        """Tasks a batched list showed unchanged: one UPDATE counts the poll, sets the next one.

        Only those no worker holds: one that is being acted on keeps what its holder sets.
        The upstream answered about them, so whatever held them up (a failed poll) is over.
        """
        return self.filter(lease_until__isnull=True).update(
            polls=F("polls") + 1, next_poll_at=next_at, **NOT_WAITING
        )

    def due(self, now: Any = None) -> GenerationQuerySet:
        """Pending jobs whose next step (submit or poll) is due and that no live worker holds."""
        now = now or timezone.now()
        return self.pending().filter(
            Q(next_poll_at__lte=now) | Q(next_poll_at__isnull=True),
            Q(lease_until__lt=now) | Q(lease_until__isnull=True),
        )


def _cover_path(instance: Project, filename: str) -> str:
    # A new project has no pk yet when its cover is saved: a random folder instead.
    return f"projects/{secrets.token_hex(8)}/{filename}"


class ProjectQuerySet(models.QuerySet["Project"]):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> ProjectQuerySet:
        """Projects are the team's shared boards: every signed-in member sees every one."""
        return self.all() if user.is_authenticated else self.none()

    def editable_by(self, user: AbstractBaseUser | AnonymousUser) -> ProjectQuerySet:
        """Only the project's creator and admins rename it or change its budget."""
        if not user.is_authenticated:
            return self.none()
        return self.all() if user.is_staff else self.filter(created_by=user)


class Project(models.Model):
    """A shared board that holds generations, optionally with a unit budget for them."""

    LOW_SHARE = Decimal("0.2")  # below 20 % of the budget left, the project warns

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(max_length=2000, blank=True)
    cover = models.ImageField(upload_to=_cover_path, blank=True, max_length=300)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="projects"
    )
    created_at = models.DateTimeField(default=timezone.now)
    budget_units = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="units its jobs may use in all; empty means no limit",
    )

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("project_detail", args=[self.pk])

    def units_committed(self) -> Decimal:
        """Units spent or reserved, as a key counts them: final units, or the estimate."""
        total = self.generations.exclude(status__in=[Status.FAILED, Status.CANCELLED]).aggregate(
            n=models.Sum(Coalesce("units", "estimated_units"))
        )["n"]
        return total or Decimal(0)

    def units_remaining(self) -> Decimal | None:
        if self.budget_units is None:
            return None
        return self.budget_units - self.units_committed()

    def budget_is_low(self) -> bool:
        remaining = self.units_remaining()
        return remaining is not None and remaining < self.budget_units * self.LOW_SHARE


def _upload_path(instance: Generation, filename: str) -> str:
    return f"inputs/{instance.pk}/{filename}"


def _video_path(instance: Generation, filename: str) -> str:
    return f"videos/{instance.pk}/{filename}"


class Generation(models.Model):
    """One text-to-video or image-to-video job, from the form or the API, and its result."""

    PENDING = (Status.QUEUED, Status.SUBMITTED, Status.PROCESSING)
    RUNNING = (Status.SUBMITTED, Status.PROCESSING)
    TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    # A numeric string id like Kling's: it is the task_id of our API and the
    # external_task_id we send upstream (kling-api.md §4.3).
    id = models.BigIntegerField(primary_key=True, default=new_task_id, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generations"
    )
    api_key = models.ForeignKey(
        "api.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="generations"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.TEXT2VIDEO)
    provider = models.ForeignKey(
        Provider, null=True, blank=True, on_delete=models.SET_NULL, related_name="generations"
    )
    model_name = models.CharField(max_length=100, default="kling-v1")
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.STD)
    prompt = models.TextField(max_length=2500, blank=True)
    negative_prompt = models.TextField(max_length=2500, blank=True)
    cfg_scale = models.FloatField(null=True, blank=True)
    duration = models.PositiveSmallIntegerField(default=5)
    aspect_ratio = models.CharField(max_length=8, default="16:9")
    camera_control = models.JSONField(null=True, blank=True)
    image = models.FileField(upload_to=_upload_path, blank=True, max_length=300)
    image_url = models.URLField(
        max_length=2000, blank=True, help_text=_("where the first frame came from")
    )
    image_tail = models.FileField(upload_to=_upload_path, blank=True, max_length=300)
    image_tail_url = models.URLField(max_length=2000, blank=True)
    static_mask = models.FileField(upload_to=_upload_path, blank=True, max_length=300)
    dynamic_masks = models.JSONField(default=list, blank=True)
    # kling-kinds.md §7.2: native sound (kling-v2-6 and later); the kinds' own settings
    # (multi_prompt, voice_list, image_list, effect_scene, lip-sync timings...) in params.
    sound = models.BooleanField(default=False)
    params = models.JSONField(default=dict, blank=True)
    extra = models.JSONField(default=dict, blank=True, help_text=_("client metadata kept verbatim"))

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    status_message = models.TextField(blank=True)
    upstream_task_id = models.CharField(max_length=128, blank=True, db_index=True)
    upstream_status = models.CharField(max_length=64, blank=True)
    upstream_video_url = models.URLField(max_length=2000, blank=True)
    # task_result.videos[0].id on the provider that made it (kling-kinds.md §7.5): an
    # account-scoped id, never shown to clients (they see our own ids).
    upstream_video_id = models.CharField(max_length=128, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Scheduling: a due time of our own so the poller reacts within seconds, and a
    # lease so a job held by a worker that died is picked up again when it expires.
    next_poll_at = models.DateTimeField(null=True, blank=True, db_index=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    polls = models.PositiveIntegerField(default=0)
    callback_token = models.CharField(max_length=64, default="", blank=True, db_index=True)
    client_callback_url = models.URLField(max_length=2000, blank=True)

    video = models.FileField(upload_to=_video_path, blank=True, max_length=300)
    poster = models.FileField(upload_to=_video_path, blank=True, max_length=300)
    video_duration = models.FloatField(null=True, blank=True)
    video_width = models.PositiveIntegerField(null=True, blank=True)
    video_height = models.PositiveIntegerField(null=True, blank=True)
    video_fps = models.FloatField(null=True, blank=True)
    video_bytes = models.BigIntegerField(null=True, blank=True)
    video_sha256 = models.CharField(max_length=64, blank=True)
    units = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    estimated_units = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)

    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="generations"
    )

    # Idempotency (kling-api.md §4.3): set durably BEFORE a create is sent, cleared only
    # when the upstream certainly has no task. While set on a queued generation, the
    # next attempt looks the task up by external_task_id instead of creating again.
    create_provider = models.ForeignKey(
        Provider, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    create_attempted_at = models.DateTimeField(null=True, blank=True, editable=False)
    download_attempts = models.PositiveSmallIntegerField(default=0, editable=False)

    # The jobs of one web submission (variants, prompt alternatives) share a batch id;
    # batch_index counts from 0 and batch_size is the submission's job count ("2 of 4").
    batch_id = models.UUIDField(null=True, blank=True, db_index=True, editable=False)
    batch_index = models.PositiveSmallIntegerField(default=0, editable=False)
    batch_size = models.PositiveSmallIntegerField(default=1, editable=False)
    # In the trash since then (hidden from every list; restorable until purged).
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)

    # What a pending job is held up by ("kling-sg: connection refused"), since when, and
    # after how many failed tries: its card, page and API task say it (waiting_message).
    waiting_reason = models.CharField(max_length=1000, blank=True, editable=False)
    waiting_since = models.DateTimeField(null=True, blank=True, editable=False)
    waiting_attempts = models.PositiveIntegerField(default=0, editable=False)

    objects = GenerationQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "next_poll_at"], name="generation_due"),
            models.Index(fields=["owner", "-id"], name="generation_owner_recent"),
            # The running-jobs badge on every page counts one user's pending jobs.
            models.Index(fields=["owner", "status"], name="generation_owner_status"),
            # The gallery's poll asks "changed since X?" every few seconds, for everyone.
            models.Index(fields=["updated_at"], name="generation_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk}: {self.prompt[:40]}"

    def get_absolute_url(self) -> str:
        return reverse("generation_detail", args=[self.pk])

    @property
    def lineage_label(self) -> str:
        """How this child was made from its parent, for the detail page: "Extension of" …"""
        if self.kind == Kind.VIDEO_EXTEND:
            return gettext("Extension of")
        if self.kind == Kind.LIP_SYNC:
            return gettext("Lip-sync of")
        return gettext("Remix of")

    @property
    def lineage_noun(self) -> str:
        """The same, as a noun for the parent's list of children and the timeline."""
        if self.kind == Kind.VIDEO_EXTEND:
            return gettext("extension")
        if self.kind == Kind.LIP_SYNC:
            return gettext("lip-sync")
        return gettext("remix")

    def account_video_problem(self) -> str | None:
        """Why this clip cannot be the source of a follow-up that names its video on the
        upstream account (video-extend, identify-face), or None: its trash and its maker.

        Each kind adds its own checks (finished, length, age) after this one.
        """
        if self.deleted_at is not None:
            return gettext("The video %(ref)s is in the trash; restore it first.") % {
                "ref": self.pk
            }
        if self.provider is not None and self.provider.kind in Provider.GATEWAY_KINDS:
            # kling-kinds.md §8: these gateways make plain clips; their video ids go nowhere.
            return gettext(
                "The video %(ref)s was made through %(provider)s, which cannot continue it."
            ) % {"ref": self.pk, "provider": self.provider.name}
        return None

    # ---- derived facts -------------------------------------------------------------
    @property
    def is_pending(self) -> bool:
        return self.status in self.PENDING

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL

    @property
    def source(self) -> str:
        return "api" if self.api_key_id else "web"

    def elapsed_seconds(self) -> int:
        end = self.finished_at or timezone.now()
        return max(0, int((end - self.created_at).total_seconds()))

    def waiting_message(self) -> str:
        """E.g. "waiting for kling-sg: connection refused, 3 attempts, next in 40 s"; or empty."""
        if not self.is_pending:
            return ""
        return describe_wait(self.waiting_reason, self.waiting_attempts, self.next_poll_at)

    def waited_seconds(self) -> float:
        """How long this job has been held up by failures (0 when it is not)."""
        if self.waiting_since is None:
            return 0.0
        return max(0.0, (timezone.now() - self.waiting_since).total_seconds())

    def wanted_features(self) -> set[str]:
        """The optional features this generation asks of its provider (providers.FEATURES)."""
        return wanted_features(
            camera_control=self.camera_control,
            sound=self.sound,
            voice_list=self.params.get("voice_list"),
            multi_shot=self.params.get("multi_shot"),
            static_mask=bool(self.static_mask),
            dynamic_masks=self.dynamic_masks,
            element_list=self.params.get("element_list"),
        )

    def catalogue_entry(self) -> VideoModel | None:
        return VideoModel.objects.filter(name=self.model_name).first()

    def parameters(self) -> dict[str, Any]:
        """Every user-chosen parameter, as shown on the detail page and diffed in compare."""
        return {
            "kind": self.kind,
            "model_name": self.model_name,
            "mode": self.mode,
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "cfg_scale": self.cfg_scale,
            "duration": self.duration,
            "aspect_ratio": self.aspect_ratio,
            "camera_control": self.camera_control,
            "image": self.image_url or (self.image.name if self.image else ""),
            "image_tail": self.image_tail_url or (self.image_tail.name if self.image_tail else ""),
            "sound": "on" if self.sound else "off",
            "shots": self.shots(),
            "effect_scene": (self.params or {}).get("effect_scene", ""),
            # Everything else the kind keeps (voices, shot prompts, watermark...), verbatim.
            "params": self.params or {},
        }

    def shots(self) -> str:
        """The storyboard in a few words (kling-kinds.md §7.2): "3 shots", "intelligence", ""."""
        params = self.params or {}
        if not params.get("multi_shot"):
            return ""
        prompts = params.get("multi_prompt") or []
        if params.get("shot_type") == "customize" and isinstance(prompts, list) and prompts:
            return f"{len(prompts)} shot{'s' if len(prompts) != 1 else ''}"
        return str(params.get("shot_type") or "multi-shot")

    def key_params(self) -> dict[str, str]:
        """What sets a kind's job apart at a glance: sound, shots, effect scene (only when set)."""
        found = {
            "sound": "on" if self.sound else "",
            "shots": self.shots(),
            "scene": str((self.params or {}).get("effect_scene") or ""),
        }
        return {name: value for name, value in found.items() if value}

    def ensure_callback_token(self) -> str:
        if not self.callback_token:
            self.callback_token = secrets.token_urlsafe(32)
            self.save(update_fields=["callback_token"])
        return self.callback_token

    # ---- the timeline --------------------------------------------------------------
    def record(self, kind: str, message: str = "", data: Any = None) -> GenerationEvent:
        """Add an entry to the generation's timeline (for troubleshooting)."""
        return GenerationEvent.objects.create(
            generation_id=self.pk, kind=kind, status=self.status, message=message[:2000], data=data
        )

    # ---- state changes ---------------------------------------------------------------
    def _transition(
        self, to: str, allowed_from: tuple[str, ...], message: str = "", **fields: Any
    ) -> bool:
        """Move to a new status only from an allowed one, atomically.

        A conditional UPDATE ... WHERE status IN (...) instead of read-then-save: two
        workers (or a callback and a poll) may race on the same job, and exactly one
        of them must win; a status never goes backwards and a change never runs twice.
        """
        fields = {"status": to, "updated_at": timezone.now(), **fields}
        if message or to in self.TERMINAL:
            fields["status_message"] = message
        won = Generation.objects.filter(pk=self.pk, status__in=allowed_from).update(**fields)
        if not won:
            self.refresh_from_db()
            return False
        for name, value in fields.items():
            setattr(self, name, value)
        self.record("status", message or f"status → {to}")
        if self.client_callback_url:
            # API clients that gave a callback_url hear of every status change (api/tasks.py).
            # Plain values only: `to` may be a Status member, whose repr no process can parse.
            pk, status = int(self.pk), Status(to).value
            transaction.on_commit(
                lambda: async_task(
                    "api.tasks.deliver_callback", pk, status, task_name=f"callback-{pk}-{status}"
                )
            )
        return True

    def mark_submitted(
        self,
        provider: Provider,
        upstream_task_id: str,
        next_poll_in: float = 5,
        *,
        hold: bool = False,
    ) -> bool:
        """Record the upstream task; `hold` keeps our lease (we still act on the answer)."""
        now = timezone.now()
        # Without hold the lease is given back: the local renderer's job claims it next.
        lease = {} if hold else {"lease_until": None}
        return self._transition(
            Status.SUBMITTED,
            (Status.QUEUED,),
            provider=provider,
            upstream_task_id=upstream_task_id,
            submitted_at=now,
            next_poll_at=now + timedelta(seconds=next_poll_in),
            **lease,
            **NOT_WAITING,
        )

    def mark_processing(self, progress: int = 0) -> bool:
        return self._transition(
            Status.PROCESSING, (Status.QUEUED, Status.SUBMITTED), progress=progress
        )

    def mark_succeeded(
        self, *, video: str, poster: str, meta: VideoMeta, units: Decimal | None = None
    ) -> bool:
        """Succeed only with a stored file: video and poster are storage names already saved."""
        return self._transition(
            Status.SUCCEEDED,
            (Status.SUBMITTED, Status.PROCESSING),
            video=video,
            poster=poster,
            video_duration=meta.duration,
            video_width=meta.width,
            video_height=meta.height,
            video_fps=meta.fps,
            video_bytes=meta.bytes,
            video_sha256=meta.sha256,
            units=units,
            progress=100,
            finished_at=timezone.now(),
            next_poll_at=None,
            lease_until=None,
        )

    def mark_failed(self, message: str) -> bool:
        return self._transition(
            Status.FAILED,
            self.PENDING,
            message=message,
            finished_at=timezone.now(),
            next_poll_at=None,
            lease_until=None,
        )

    def cancel(self) -> bool:
        """Cancel a job that has not reached an upstream yet (nothing has been spent)."""
        return self._transition(
            Status.CANCELLED,
            (Status.QUEUED,),
            message="cancelled by user",
            finished_at=timezone.now(),
            next_poll_at=None,
        )

    def trash(self) -> bool:
        """Move a finished or queued job to the trash (restorable until purged).

        A queued job is cancelled first: nothing was spent, and a trashed job must not run.
        One that reached an upstream meanwhile stays out (False): it is still spending.
        The UPDATE is conditional on a terminal status, so a worker that submits the job
        between the cancel and this line cannot have it trashed while it runs.
        """
        if self.status == Status.QUEUED:
            self.cancel()
        now = timezone.now()
        won = Generation.objects.filter(
            pk=self.pk, deleted_at__isnull=True, status__in=self.TERMINAL
        ).update(deleted_at=now, updated_at=now)  # updated_at: the live gallery drops it
        if won:
            self.deleted_at = now
            self.record("info", "moved to the trash")
        return bool(won)

    def restore(self) -> bool:
        """Take a job out of the trash; False if it was not there (restored or purged)."""
        won = Generation.objects.filter(pk=self.pk, deleted_at__isnull=False).update(
            deleted_at=None, updated_at=timezone.now()
        )
        if won:
            self.deleted_at = None
            self.record("info", "restored from the trash")
        return bool(won)

    @property
    def purge_at(self) -> datetime | None:
        if self.deleted_at is None:
            return None
        return self.deleted_at + timedelta(days=settings.STUDIO_TRASH_DAYS)

    @property
    def in_batch(self) -> bool:
        return self.batch_id is not None and self.batch_size > 1

    def move_to(self, project: Project | None) -> None:
        """Put the generation on a project's board (or none); the gallery's poll sees it moved."""
        now = timezone.now()
        Generation.objects.filter(pk=self.pk).update(project=project, updated_at=now)
        self.project, self.updated_at = project, now
        self.record("info", f"moved to project {project.name}" if project else "left its project")

    def delete_with_files(self) -> None:
        """Delete the row and the files only it uses (remixes may share input frames)."""
        names = [f.name for f in (self.video, self.poster) if f]
        for field in ("image", "image_tail", "static_mask"):
            stored = getattr(self, field)
            if (
                stored
                and not Generation.objects.exclude(pk=self.pk)
                .filter(**{field: stored.name})
                .exists()
            ):
                names.append(stored.name)
        for row in self.inputs.exclude(file=""):
            # Remixes of the newer kinds may share a listed input too.
            shared = GenerationInput.objects.exclude(generation=self).filter(file=row.file.name)
            if not shared.exists():
                names.append(row.file.name)
        # Lip-sync sessions of this clip go with it (CASCADE): their face pictures too.
        for faces in LipSyncSession.objects.filter(source=self).values_list("faces", flat=True):
            names += [face["image"] for face in faces if face.get("image")]
        self.delete()
        for name in names:
            default_storage.delete(name)

    def reserve_create(self, provider: Provider) -> bool:
        """Take a concurrency slot on a provider and record the create attempt, before sending.

        Counting the slots and recording the attempt happen under a lock on the provider
        row (SQLite's IMMEDIATE transactions serialise writers; PostgreSQL locks the row),
        so two workers cannot both take the last slot. False when the provider is full or
        another create attempt is already recorded for this generation.
        """
        with transaction.atomic():
            # FOR NO KEY UPDATE on PostgreSQL: it still serialises reservations, but does not
            # block other workers' updates that merely reference this provider (FK checks take
            # FOR KEY SHARE, which plain FOR UPDATE would make wait for this transaction).
            locked = Provider.objects.select_for_update(no_key=True).get(pk=provider.pk)
            if locked.slots_used() >= locked.max_concurrent:
                return False
            now = timezone.now()
            won = Generation.objects.filter(
                pk=self.pk, status=Status.QUEUED, create_provider__isnull=True
            ).update(
                create_provider=provider, create_attempted_at=now, attempts=models.F("attempts") + 1
            )
        if won:
            self.create_provider, self.create_attempted_at = provider, now
        return bool(won)

    def clear_create_attempt(self) -> None:
        """The upstream certainly has no task for us: a later create may be sent (anywhere)."""
        Generation.objects.filter(pk=self.pk, status=Status.QUEUED).update(
            create_provider=None, create_attempted_at=None
        )
        self.create_provider, self.create_attempted_at = None, None

    def note_waiting(self, reason: str, *, failed_try: bool = True) -> None:
        """Say what this pending job waits for and why; a failed try also counts an attempt.

        Conditional on the job still being pending: a callback or another worker may have
        finished it meanwhile, and a finished job waits for nothing.
        """
        now = timezone.now()
        attempts = F("waiting_attempts") + 1 if failed_try else F("waiting_attempts")
        Generation.objects.filter(pk=self.pk, status__in=self.PENDING).update(
            waiting_reason=reason[:1000],
            waiting_attempts=attempts,
            # The first failure of a wait starts its clock; later ones leave it running.
            waiting_since=Coalesce(F("waiting_since"), Value(now)),
        )
        self.refresh_from_db(fields=["waiting_reason", "waiting_attempts", "waiting_since"])

    def stop_waiting(self) -> None:
        """The upstream answered: nothing holds the job up any more (no write when nothing did)."""
        if self.waiting_reason or self.waiting_since:
            # Unconditional: clearing twice is harmless, and a later failure writes its own.
            Generation.objects.filter(pk=self.pk).update(**NOT_WAITING)
            for name, value in NOT_WAITING.items():
                setattr(self, name, value)

    def note_answer(
        self, *, status_word: str, units: Decimal | None, video_url: str, video_id: str
    ) -> None:
        """Keep what an upstream answer said: its status word, the units, the result's URL and id.

        Not a status change (those are the mark_* methods): the facts are kept whatever the
        status, so the timeline and the admin show what the upstream said last.
        """
        changes: dict[str, Any] = {"upstream_status": status_word[:64], "polls": F("polls") + 1}
        if units is not None:
            changes["units"] = self.units = units  # final_unit_deduction: what it really cost
        if video_url:
            changes["upstream_video_url"] = self.upstream_video_url = video_url[:2000]
        if video_id:
            # task_result.videos[0].id: video-extend and lip-sync name the video by it.
            changes["upstream_video_id"] = self.upstream_video_id = video_id[:128]
        Generation.objects.filter(pk=self.pk).update(**changes)

    def note_progress(self, progress: int) -> None:
        """A running task's progress (0-100); only while processing, so a late answer is ignored."""
        Generation.objects.filter(pk=self.pk, status=Status.PROCESSING).update(progress=progress)

    def note_failed_download(self) -> int:
        """Count a failed copy of the result; returns the attempts so far (from the database).

        F() + 1: two workers failing at once both count.
        """
        Generation.objects.filter(pk=self.pk).update(download_attempts=F("download_attempts") + 1)
        self.refresh_from_db(fields=["download_attempts"])
        return self.download_attempts

    def store_input(self, field: str, name: str) -> None:
        """An input given by URL, now fetched and kept in storage under name."""
        getattr(self, field).name = name
        Generation.objects.filter(pk=self.pk).update(**{field: name})

    def nudge(self) -> None:
        """Make the next step due now (an upstream callback arrived, or an admin asked)."""
        now = timezone.now()
        Generation.objects.filter(pk=self.pk, status__in=self.PENDING).update(next_poll_at=now)
        self.next_poll_at = now

    def claim(self, seconds: float | None = None) -> bool:
        """Take the lease on this job for one step; False if another worker holds it."""
        now = timezone.now()
        length = settings.STUDIO_LEASE_SECONDS if seconds is None else seconds
        lease = now + timedelta(seconds=length)
        won = (
            Generation.objects.filter(pk=self.pk, status__in=self.PENDING)
            .filter(Q(lease_until__lt=now) | Q(lease_until__isnull=True))
            .update(lease_until=lease)
        )
        if won:
            self.lease_until = lease
        return bool(won)

    def extend_lease(self, seconds: float) -> bool:
        """Keep holding this job for a long step (a download) that outlasts the usual lease.

        Only while the lease is still ours (see release); False when it was lost, or never
        taken: lease_until=None would match a job nobody holds (IS NULL) and take it unclaimed.
        """
        if self.lease_until is None:
            return False
        lease = timezone.now() + timedelta(seconds=seconds)
        won = Generation.objects.filter(pk=self.pk, lease_until=self.lease_until).update(
            lease_until=lease
        )
        if won:
            self.lease_until = lease
        return bool(won)

    def release(self, next_poll_in: float | None = None) -> bool:
        """Give the lease back and set when the next step is due; False if it was no longer ours.

        Conditional on the lease value we took (it works as a token): a worker whose step
        outlasted its lease (a slow upstream, a stalled download) may find another worker
        holding the job by now, and must not clear that worker's lease nor its due time,
        or a third worker would poll the job while the second still does.
        """
        next_at = (
            timezone.now() + timedelta(seconds=next_poll_in) if next_poll_in is not None else None
        )
        won = Generation.objects.filter(pk=self.pk, lease_until=self.lease_until).update(
            lease_until=None, next_poll_at=next_at
        )
        if won:
            self.lease_until, self.next_poll_at = None, next_at
        return bool(won)


NOT_WAITING: dict[str, Any] = {"waiting_reason": "", "waiting_since": None, "waiting_attempts": 0}


def describe_wait(reason: str, attempts: int, next_at: datetime | None) -> str:
    """The line that says what holds a job up; from fields, so API rows can use it too.

    In the active language: the page's, or English on the API (studio.middleware).
    """
    if not reason:
        return ""
    parts = [gettext("waiting for %(reason)s") % {"reason": reason}]
    if attempts:  # none yet when a job arrives with every provider already down
        parts.append(
            ngettext("%(count)d attempt", "%(count)d attempts", attempts) % {"count": attempts}
        )
    if next_at is not None:
        seconds = math.ceil((next_at - timezone.now()).total_seconds())
        parts.append(
            gettext("next in %(seconds)d s") % {"seconds": seconds}
            if seconds > 0
            else gettext("next try due now")
        )
    return gettext(", ").join(parts)


def waiting_message_of(row: Mapping[str, Any]) -> str:
    """describe_wait for a values() row (API task objects); a row without the fields is silent."""
    return describe_wait(
        row.get("waiting_reason", ""), row.get("waiting_attempts", 0), row.get("next_poll_at")
    )


class EffectScene(models.Model):
    """One of Kling's effect scenes (kling-kinds.md §7.7): data, so a new scene needs no code.

    Names not listed here still pass through to the upstream (the list grows faster than
    any release); a retired scene is refused, naming its successor.
    """

    name = models.SlugField(max_length=64, unique=True)
    label = models.CharField(max_length=100, blank=True)
    dual = models.BooleanField(default=False, help_text=_("takes two images side by side"))
    retired_on = models.DateField(null=True, blank=True)
    successor = models.CharField(max_length=64, blank=True)
    enabled = models.BooleanField(default=True, help_text=_("offered in the scene picker"))
    sort_order = models.PositiveIntegerField(default=100)

    class Meta:
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_retired(self) -> bool:
        return self.retired_on is not None and self.retired_on <= timezone.localdate()


def _input_path(instance: GenerationInput, filename: str) -> str:
    return f"inputs/{instance.generation_id}/{instance.role}-{instance.position}-{filename}"


class GenerationInput(models.Model):
    """One input of the newer kinds, in list order: a reference image, a video, a voice line.

    The first and last frames of text2video/image2video keep their own Generation fields;
    these are the lists of kling-kinds.md §7 (image_list, video_list, the lip-sync audio,
    an effect's images). Given by URL, an input is fetched by the worker like a frame.
    """

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="inputs")
    role = models.CharField(max_length=20, help_text=_("image, video, audio"))
    position = models.PositiveSmallIntegerField(default=0)
    file = models.FileField(upload_to=_input_path, blank=True, max_length=300)
    url = models.URLField(max_length=2000, blank=True)
    # Per-entry settings: image type (first_frame/end_frame), refer_type, keep_original_sound.
    meta = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["role", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["generation", "role", "position"], name="one_input_per_place"
            )
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.position} of {self.generation_id}"

    @property
    def field(self) -> str:
        """Its name among a request's staged files, e.g. "image.0"."""
        return f"{self.role}.{self.position}"

    def keep_file(self, name: str) -> None:
        """An input given by URL, now fetched and kept in storage under name."""
        self.file.name = name
        GenerationInput.objects.filter(pk=self.pk).update(file=name)


class GenerationEvent(models.Model):
    """One line of a generation's timeline: a status change, an upstream answer, an error."""

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=20)  # status, upstream, error, info, admin
    status = models.CharField(max_length=12, blank=True)
    message = models.TextField(blank=True)
    data = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%H:%M:%S} {self.kind}: {self.message}"


# ---- upstream balance (kling-kinds.md §7.8) ---------------------------------------------------
BALANCE_REFRESH_SECONDS = 60  # /account/costs is free but ≤ 1 QPS: once a minute is plenty
BALANCE_LAG = timedelta(hours=12)  # how far the upstream's remaining may lag its spend
EXPIRY_WARNING = timedelta(days=7)  # a counted pack expiring within this is worth a banner
DEFAULT_LOW_BALANCE_UNITS = Decimal(100)


def _units_text(units: Decimal) -> str:
    """Units as people read them: 1000, 12.5 (no exponent, no trailing zeros)."""
    return format(units.normalize(), "f") if units else "0"


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


class ProviderBalance(models.Model):
    """The last known resource packs of a Kling provider's account, and its alert settings.

    Written by the due loop (tasks.refresh_balances) at most once a minute; the usage page,
    the admin and the staff banner read it. A separate row, not Provider columns: the
    packs change every minute, the provider's settings rarely.
    """

    provider = models.OneToOneField(
        Provider, on_delete=models.CASCADE, primary_key=True, related_name="balance"
    )
    # Each pack as stored: name, pack_id, pack_type, total, remaining, status and ISO times.
    packs = models.JSONField(default=list, blank=True, editable=False)
    checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    refreshed_at = models.DateTimeField(null=True, blank=True, editable=False)
    message = models.CharField(max_length=500, blank=True, editable=False)
    counted_packs = models.JSONField(
        default=list,
        blank=True,
        help_text="resource pack ids the alert counts; empty means every online pack",
    )
    low_threshold = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=DEFAULT_LOW_BALANCE_UNITS,
        help_text="alert when the counted units left, minus the last 12 h of spend, fall below",
    )
    used_up_at = models.DateTimeField(
        null=True, blank=True, help_text="when the upstream last answered 1102 (packs used up)"
    )

    def __str__(self) -> str:
        return f"balance of {self.provider_id}"

    @classmethod
    def claim_refresh(cls, provider: Provider, now: datetime) -> bool:
        """Take the right to ask the upstream now; False if it was asked less than a minute ago.

        A conditional UPDATE: two workers running the due loop at once ask once between them.
        """
        cls.objects.get_or_create(provider=provider)
        cutoff = now - timedelta(seconds=BALANCE_REFRESH_SECONDS)
        return bool(
            cls.objects.filter(provider=provider)
            .filter(Q(checked_at__isnull=True) | Q(checked_at__lte=cutoff))
            .update(checked_at=now)
        )

    @classmethod
    def store(cls, provider: Provider, packs: list[Any], now: datetime) -> None:
        """Keep the packs an upstream listed (ResourcePack objects)."""
        rows = [
            {
                "name": p.name,
                "pack_id": p.pack_id,
                "pack_type": p.pack_type,
                "total": str(p.total),
                "remaining": str(p.remaining),
                "status": p.status,
                "purchase_time": _iso(p.purchase_time),
                "effective_time": _iso(p.effective_time),
                "invalid_time": _iso(p.invalid_time),
            }
            for p in packs
        ]
        cls.objects.filter(provider=provider).update(packs=rows, refreshed_at=now, message="")

    @classmethod
    def store_failure(cls, provider: Provider, message: str) -> None:
        """Keep the last packs (stale is better than none) and say why they were not renewed."""
        cls.objects.filter(provider=provider).update(message=message[:500])

    @classmethod
    def note_used_up(cls, provider: Provider, now: datetime | None = None) -> None:
        """The upstream answered 1102: alert at once (§7.8), whatever the last packs said."""
        row, _ = cls.objects.get_or_create(provider=provider)
        cls.objects.filter(pk=row.pk).update(used_up_at=now or timezone.now())

    # ---- what the admin reads -----------------------------------------------------------------
    def pack_rows(self) -> list[dict[str, Any]]:
        """The packs with their times as datetimes and whether the alert counts each."""
        out = []
        for pack in self.packs:
            row = dict(pack)
            for name in ("purchase_time", "effective_time", "invalid_time"):
                row[name] = datetime.fromisoformat(pack[name]) if pack.get(name) else None
            row["total"], row["remaining"] = Decimal(pack["total"]), Decimal(pack["remaining"])
            row["counted"] = (
                pack["pack_id"] in self.counted_packs
                if self.counted_packs
                else pack["status"] == "online"
            )
            out.append(row)
        return out

    def counted_remaining(self) -> Decimal:
        return sum((p["remaining"] for p in self.pack_rows() if p["counted"]), Decimal(0))

    def recent_spend(self, now: datetime) -> Decimal:
        """Σ final_unit_deduction of the provider's tasks finished in the last 12 hours."""
        total = Generation.objects.filter(
            provider_id=self.provider_id, finished_at__gte=now - BALANCE_LAG
        ).aggregate(n=models.Sum("units"))["n"]
        return total or Decimal(0)

    def alerts(self, now: datetime | None = None) -> list[str]:
        """Why an admin should look now (kling-kinds.md §7.8); empty when all is well.

        Upstream's remaining lags its spend by up to 12 h, so the spend of the last 12 h is
        taken off it: the figure may then be low, never falsely high. A 1102 alerts at once
        and for those 12 h (no refresh can disprove it sooner); an admin may clear it.
        """
        now = now or timezone.now()
        alerts = []
        if self.used_up_at and now - self.used_up_at < BALANCE_LAG:
            alerts.append(gettext("the upstream answered 1102: resource packs used up"))
        if self.refreshed_at is None:
            return alerts
        left = self.counted_remaining() - self.recent_spend(now)
        if left < self.low_threshold:
            alerts.append(
                gettext("%(left)s units left after the last 12 h of spend (alert below %(low)s)")
                % {"left": _units_text(left), "low": _units_text(self.low_threshold)}
            )
        for pack in self.pack_rows():
            expires = pack["invalid_time"]
            if pack["counted"] and expires and now <= expires < now + EXPIRY_WARNING:
                alerts.append(
                    gettext("pack %(name)s expires on %(when)s UTC with %(left)s units left")
                    % {
                        "name": pack["name"],
                        "when": f"{expires:%Y-%m-%d %H:%M}",
                        "left": _units_text(pack["remaining"]),
                    }
                )
        return alerts

    def summary(self) -> str:
        """One line for lists: units left in counted packs, or why there are no figures."""
        if self.refreshed_at is None:
            return self.message or gettext("not checked yet")
        text = gettext("%(left)s units left in %(count)s counted packs") % {
            "left": _units_text(self.counted_remaining()),
            "count": sum(p["counted"] for p in self.pack_rows()),
        }
        if self.message:
            text += " " + gettext("(last refresh failed: %(why)s)") % {"why": self.message}
        return text


def balance_summary(provider: Provider) -> str:
    """What the admin lists for a provider's balance: the local renderer is not metered."""
    if provider.kind == Provider.Kind.LOCAL:
        return gettext("not metered")
    if provider.kind != Provider.Kind.KLING:
        return gettext("not asked (gateways have no /account/costs)")
    try:
        return provider.balance.summary()
    except ProviderBalance.DoesNotExist:
        return gettext("not checked yet")


# kling-kinds.md §7.6: the upstream's lifetime is unconfirmed; ours is a day.
LIP_SYNC_SESSION_HOURS = 24


class LipSyncSessionQuerySet(models.QuerySet["LipSyncSession"]):
    def live(self) -> LipSyncSessionQuerySet:
        return self.filter(expires_at__gt=timezone.now())


class LipSyncSession(models.Model):
    """The faces identify-face found in one clip (kling-kinds.md §7.6), under OUR session id.

    The upstream's session id exists only on the provider that identified the faces (the
    one that made the clip): a lip-sync using this session is pinned there. faces holds
    [{"face_id", "start_time", "end_time" (ms), "image" (a storage name)}].
    """

    id = models.BigIntegerField(primary_key=True, default=new_task_id, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lip_sync_sessions"
    )
    api_key = models.ForeignKey(
        "api.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The studio clip whose faces were identified, or None for a video given by URL (whose
    # copy we keep in `video`, for its length and for the local renderer).
    source = models.ForeignKey(
        Generation, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    video_url = models.URLField(max_length=2000, blank=True)
    video = models.FileField(upload_to="lip-sync/", blank=True, max_length=300)
    video_duration = models.FloatField(null=True, blank=True)
    provider = models.ForeignKey(Provider, null=True, on_delete=models.SET_NULL, related_name="+")
    upstream_session_id = models.CharField(max_length=128)
    faces = models.JSONField(default=list)
    units = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    objects = LipSyncSessionQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"lip-sync session {self.pk} of {self.source_id or self.video_url}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def video_ms(self) -> int:
        """The length of the video the faces are in, in ms."""
        seconds = self.source.video_duration if self.source else self.video_duration
        return round((seconds or 0) * 1000)

    @property
    def video_name(self) -> str:
        """The storage name of that video (the clip's, or our copy of the URL's)."""
        if self.source is not None:
            return self.source.video.name if self.source.video else ""
        return self.video.name if self.video else ""

    def face(self, face_id: str) -> dict[str, Any] | None:
        return next((f for f in self.faces if f.get("face_id") == face_id), None)

    @staticmethod
    def lifetime() -> timedelta:
        return timedelta(hours=LIP_SYNC_SESSION_HOURS)

    def delete_with_files(self) -> None:
        """Delete the session with its face pictures and our copy of a URL's video (a clip's
        own video is the clip's)."""
        names = [face["image"] for face in self.faces if face.get("image")]
        if self.video:
            names.append(self.video.name)
        self.delete()
        for name in names:
            default_storage.delete(name)

    @classmethod
    def purge_expired(cls, now: datetime | None = None, batch: int = 100) -> int:
        """Delete sessions expired by now (injectable: tests step the clock), with their files.

        A session a pending lip-sync still names is kept until that job ends: its body needs
        the upstream session id, the local render its video. A few per pass (the due loop).
        """
        now = now or timezone.now()
        pending = Generation.objects.filter(kind=Kind.LIP_SYNC, status__in=Generation.PENDING)
        in_use = {
            int(ref)
            for ref in (p.get("session_id") for p in pending.values_list("params", flat=True))
            if str(ref or "").isdigit()
        }
        expired = list(
            cls.objects.filter(expires_at__lte=now)
            .exclude(pk__in=in_use)
            .order_by("expires_at")[:batch]
        )
        for session in expired:
            session.delete_with_files()
        return len(expired)
