"""Studio API keys: what programs use to call the studio's Kling-compatible API."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, connection, models
from django.db.models import Count, DecimalField, F, IntegerField, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from videos.crypto import decrypt_json, encrypt_json
from videos.limits import LimitExceeded

from .errors import bad_field

if TYPE_CHECKING:
    from videos.forms import GenerationForm
    from videos.models import Generation

SECRET_PREFIX = "sk_"
ACCESS_ID_PREFIX = "ak_"
WEBHOOK_SECRET_PREFIX = "whsec_"
# Writing last_used on every request would turn every GET into a write; a
# minute's precision is what an admin needs to see whether a key is in use.
LAST_USED_PRECISION = timedelta(seconds=60)


def hash_secret(secret: str) -> str:
    """SHA-256 of a secret: secrets are 256 random bits, so a slow salted hash adds nothing."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: whsec_ + Base64 of 32 random bytes."""
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


class RecentKeys:
    """Keys looked up in the last few seconds, per process, for read-only requests.

    Finding the key is a third of a task query's cost; clients poll in loops, so a key
    seen a moment ago is reused for GETs. A revocation in this process applies at once
    (forget); elsewhere reads may go on for up to SECONDS, creates never (they always
    read the key afresh, under a lock).
    """

    SECONDS = 2.0
    MAX_ENTRIES = 1000

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, ApiKey]] = {}
        self._lock = threading.Lock()

    def get(self, lookup: str) -> ApiKey | None:
        entry = self._entries.get(lookup)
        if entry is None or time.monotonic() - entry[0] > self.SECONDS:
            return None
        return entry[1]

    def put(self, lookup: str, key: ApiKey) -> None:
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[lookup] = (time.monotonic(), key)

    def forget(self, key: ApiKey) -> None:
        with self._lock:
            for lookup in [k for k, (_at, cached) in self._entries.items() if cached.pk == key.pk]:
                del self._entries[lookup]


recent_keys = RecentKeys()


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def with_usage(self) -> ApiKeyQuerySet:
        """Annotate requests, generations, units and failures (subqueries: joins would multiply)."""
        from videos.models import Generation, Status

        generations = Generation.objects.filter(api_key=OuterRef("pk")).order_by().values("api_key")
        requests = RequestBucket.objects.filter(key=OuterRef("pk")).order_by().values("key")
        money = DecimalField(max_digits=12, decimal_places=2)
        return self.annotate(
            usage_requests=Coalesce(
                Subquery(requests.annotate(n=Sum("count")).values("n")),
                0,
                output_field=IntegerField(),
            ),
            usage_generations=Coalesce(
                Subquery(generations.annotate(n=Count("pk")).values("n")),
                0,
                output_field=IntegerField(),
            ),
            usage_units=Coalesce(
                Subquery(generations.annotate(n=Sum("units")).values("n")),
                Decimal(0),
                output_field=money,
            ),
            usage_failures=Coalesce(
                Subquery(
                    generations.filter(status=Status.FAILED).annotate(n=Count("pk")).values("n")
                ),
                0,
                output_field=IntegerField(),
            ),
        )

    def owned_by(self, user: Any) -> ApiKeyQuerySet:
        return self.filter(owner=user)


class ApiKey(models.Model):
    """A studio key: a public access id and a secret kept hashed (and encrypted, for JWTs)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    access_id = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=16, db_index=True)
    secret_hash = models.CharField(max_length=128, unique=True)
    # HS256 JWTs are signed with the secret, so verifying one needs the secret
    # itself: it is kept encrypted (Fernet), never in plain text.
    secret_encrypted = models.TextField(blank=True)
    webhook_secret_encrypted = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    allowed_models = models.JSONField(
        default=list, blank=True, help_text=_("empty means every model")
    )
    max_concurrent = models.PositiveIntegerField(default=10)
    requests_per_minute = models.PositiveIntegerField(default=120)
    unit_budget = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "studio API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    # ---- creation and secrets ------------------------------------------------------------
    @classmethod
    def issue(cls, owner: Any, name: str, **fields: Any) -> tuple[ApiKey, str]:
        """Create a key; returns it with its secret, which is never available again."""
        key = cls(owner=owner, name=name, **fields)
        secret = key.prepare_new()
        key.save()
        return key, secret

    def prepare_new(self) -> str:
        """Give an unsaved key its access id, secret and webhook secret; returns the secret."""
        self.access_id = ACCESS_ID_PREFIX + secrets.token_hex(16)
        self.webhook_secret_encrypted = encrypt_json({"secret": new_webhook_secret()})
        return self._new_secret()

    def _new_secret(self) -> str:
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        self.prefix = secret[:10]
        self.secret_hash = hash_secret(secret)
        self.secret_encrypted = encrypt_json({"secret": secret})
        return secret

    def rotate(self) -> str:
        """Replace the secret (the access id stays); the old secret stops working at once."""
        secret = self._new_secret()
        self.save(update_fields=["prefix", "secret_hash", "secret_encrypted"])
        recent_keys.forget(self)
        return secret

    def get_secret(self) -> str:
        return decrypt_json(self.secret_encrypted).get("secret", "")

    def get_webhook_secret(self) -> str:
        return decrypt_json(self.webhook_secret_encrypted).get("secret", "")

    def revoke(self) -> bool:
        """Revoke once; a conditional update so the first revocation time is kept."""
        now = timezone.now()
        won = ApiKey.objects.filter(pk=self.pk, revoked_at__isnull=True).update(revoked_at=now)
        recent_keys.forget(self)
        if won:
            self.revoked_at = now
        return bool(won)

    # ---- state ------------------------------------------------------------------------
    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return not self.is_revoked and not self.is_expired

    def allows_model(self, model_name: str) -> bool:
        return not self.allowed_models or model_name in self.allowed_models

    def touch(self, ip: str | None) -> None:
        """Record the last use, at most once a minute per key unless the address changed."""
        now = timezone.now()
        if (
            self.last_used_at
            and now - self.last_used_at < LAST_USED_PRECISION
            and ip == self.last_used_ip
        ):
            return
        ApiKey.objects.filter(pk=self.pk).update(last_used_at=now, last_used_ip=ip)
        self.last_used_at, self.last_used_ip = now, ip

    def running_count(self) -> int:
        from videos.models import Generation

        return Generation.objects.filter(api_key=self, status__in=Generation.PENDING).count()

    def units_committed(self) -> Decimal:
        """Units spent or reserved: final units when known, the estimate while pending."""
        from videos.models import Generation, Status

        total = (
            Generation.objects.filter(api_key=self)
            .exclude(status__in=[Status.FAILED, Status.CANCELLED])
            .aggregate(n=Sum(Coalesce("units", "estimated_units")))["n"]
        )
        return total or Decimal(0)

    def as_resource_pack(self) -> dict[str, Any] | None:
        """This key as one Kling resource pack (kling-kinds.md §9), or None without a budget.

        Used counts what the create limit counts (final units, estimates while pending), so
        remaining is exactly what the next create may still spend.
        """
        if self.unit_budget is None:
            return None
        used = self.units_committed().quantize(Decimal("0.01"))
        remaining = max(self.unit_budget - used, Decimal(0))
        if not self.is_active:
            status = "expired"
        elif remaining <= 0:
            status = "runOut"
        else:
            status = "online"
        created_ms = int(self.created_at.timestamp() * 1000)
        return {
            "resource_pack_name": self.name,
            "resource_pack_id": str(self.pk),
            "resource_pack_type": "decreasing_total",
            "total_quantity": float(self.unit_budget),
            "remaining_quantity": float(remaining),
            "purchase_time": created_ms,
            "effective_time": created_ms,
            # No expiry: 0, as Kling spells "no time" in its millisecond fields.
            "invalid_time": int(self.expires_at.timestamp() * 1000) if self.expires_at else 0,
            "status": status,
        }

    def start_generation(
        self,
        form: GenerationForm,
        *,
        family: str,
        base_url: str,
        external_task_id: str = "",
        callback_url: str = "",
    ) -> Generation:
        """Create a generation within this key's limits (the one create path), or raise.

        Raises LimitExceeded (the API maps it to 403/1103 or 429) or ApiError, with nothing
        written.
        """
        from videos.creation import Origin, create_generation

        if (
            external_task_id
            and ApiTask.objects.filter(
                owner=self.owner_id, external_task_id=external_task_id
            ).exists()
        ):
            raise bad_field(
                "external_task_id", f"{external_task_id!r} is already used by another task"
            )

        def record(generation: Generation) -> None:
            ApiTask.objects.create(
                generation=generation,
                owner_id=self.owner_id,
                family=family,
                external_task_id=external_task_id,
                base_url=base_url,
            )

        origin = Origin(
            owner=self.owner,
            api_key=self,
            client_callback_url=callback_url,
            limits=[KeyLimit(self)],
            record=record,
        )
        try:
            return create_generation(form, origin)
        except IntegrityError as exc:
            if not external_task_id:
                raise  # not the one constraint a client can hit: a bug, not a 400
            # A concurrent create took the same external_task_id after the check above.
            raise bad_field(
                "external_task_id", f"{external_task_id!r} is already used by another task"
            ) from exc


class KeyLimit:
    """A key's limits on creates: its models, running tasks and unit budget (kling-api.md §3.4)."""

    def __init__(self, key: ApiKey) -> None:
        self.key = key

    def check(self, model_name: str, estimate: Decimal) -> None:
        """Inside the create's transaction: lock the key row, count, refuse past a limit.

        The lock serialises two creates racing for the last slot or the last units;
        without it both would pass the counts.
        """
        if not self.key.allows_model(model_name):
            raise LimitExceeded(
                "model", f"this key may not use the model {model_name!r}", field="model"
            )
        key = ApiKey.objects.select_for_update().get(pk=self.key.pk)
        running = key.running_count()
        if running >= key.max_concurrent:
            raise LimitExceeded(
                "concurrency",
                f"too many running tasks: {running} of {key.max_concurrent} allowed for this key",
            )
        if key.unit_budget is not None:
            spent = key.units_committed().quantize(Decimal("0.01"))
            if spent + estimate > key.unit_budget:
                raise LimitExceeded(
                    "budget",
                    f"unit budget spent: {spent} of {key.unit_budget} units used, "
                    f"this task needs {estimate}",
                )


class RequestBucket(models.Model):
    """Requests of one key in one minute: the rate limit and the admin's request counts.

    The limit is decided on this row, in one atomic statement per decision (api/ratelimit.py):
    `accepted + reserved` never exceeds the key's requests per minute, whichever process asks.
    """

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="request_buckets")
    minute = models.BigIntegerField(help_text=_("Unix time // 60"))
    count = models.PositiveIntegerField(
        default=0, help_text=_("requests counted, refused included")
    )
    accepted = models.PositiveIntegerField(default=0, help_text=_("requests let through"))
    # Reads far below the limit are let through from blocks a process reserved here in
    # advance: reserved requests count against the limit until the block is settled.
    reserved = models.PositiveIntegerField(default=0)
    reserved_until = models.FloatField(default=0, help_text=_("Unix time the last block expires"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "minute"], name="one_bucket_per_key_minute")
        ]

    def __str__(self) -> str:
        return f"{self.key_id} @ {self.minute}: {self.count}"

    @classmethod
    def _upsert(cls, values: str, update: str, where: str, params: list[Any]) -> int | None:
        """INSERT the key's row for a minute or UPDATE it when `where` holds: the new count.

        None when nothing changed (`where` did not hold, or there is no such key).
        One statement (an upsert with RETURNING, SQLite ≥ 3.35 and PostgreSQL alike): the
        condition is checked and the row changed under the row's lock, so concurrent
        processes each decide on the true totals. The key is found by access id inside the
        statement: a key deleted meanwhile changes nothing.
        """
        table = connection.ops.quote_name(cls._meta.db_table)
        keys = connection.ops.quote_name(ApiKey._meta.db_table)
        with connection.cursor() as cursor:
            # "WHERE" in the SELECT also keeps SQLite from reading ON CONFLICT as a join clause.
            cursor.execute(
                f"INSERT INTO {table} (key_id, minute, count, accepted, reserved, reserved_until) "  # noqa: S608
                f"SELECT id, {values} FROM {keys} WHERE access_id = %s "
                f"ON CONFLICT (key_id, minute) DO UPDATE SET {update.format(t=table)} "
                f"WHERE {where.format(t=table)} RETURNING count",
                params,
            )
            row = cursor.fetchone()
            return None if row is None else int(row[0])

    @classmethod
    def admit(cls, access_id: str, minute: int, limit: int) -> bool:
        """Count one request and let it through if the minute's accepted + reserved allow it."""
        if limit <= 0:
            return False
        done = cls._upsert(
            "%s, 1, 1, 0, 0",
            "count = {t}.count + 1, accepted = {t}.accepted + 1",
            "{t}.accepted + {t}.reserved < %s",
            [minute, access_id, limit],
        )
        return done is not None

    @classmethod
    def reserve(cls, access_id: str, minute: int, size: int, below: int, until: float) -> bool:
        """Let one request through and reserve size - 1 more, if all stay within `below`."""
        if size > below:
            return False
        done = cls._upsert(
            "%s, 1, 1, %s, %s",
            "count = {t}.count + 1, accepted = {t}.accepted + 1, "
            "reserved = {t}.reserved + %s, reserved_until = CASE "
            "WHEN {t}.reserved_until > %s THEN {t}.reserved_until ELSE %s END",
            "{t}.accepted + {t}.reserved + %s <= %s",
            [minute, size - 1, until, access_id, size - 1, until, until, size, below],
        )
        return done is not None

    @classmethod
    def settle(cls, access_id: str, minute: int, used: int, reserved: int) -> None:
        """Count the used part of a block and release the whole reservation."""
        cls.objects.filter(key__access_id=access_id, minute=minute).update(
            count=F("count") + used,
            accepted=F("accepted") + used,
            reserved=F("reserved") - reserved,
        )

    @classmethod
    def refuse(cls, access_id: str, minute: int) -> None:
        """Count one request that was not let through."""
        cls._upsert("%s, 1, 0, 0, 0", "count = {t}.count + 1", "1 = 1", [minute, access_id])

    @classmethod
    def hit(cls, access_id: str, minute: int | None = None, n: int = 1) -> int:
        """Count n accepted requests of a key whatever the limit; returns the minute's count."""
        minute = int(time.time() // 60) if minute is None else minute
        total = cls._upsert(
            "%s, %s, %s, 0, 0",
            "count = {t}.count + %s, accepted = {t}.accepted + %s",
            "1 = 1",
            [minute, n, n, access_id, n, n],
        )
        return total or 0


class ApiTask(models.Model):
    """What the API knows about a generation it created: the client's id and our base URL."""

    generation = models.OneToOneField(
        "videos.Generation", primary_key=True, on_delete=models.CASCADE, related_name="api_task"
    )
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    family = models.CharField(max_length=10, help_text=_("kling, generic or openai"))
    external_task_id = models.CharField(max_length=128, blank=True)
    # Callbacks run in a worker with no request: absolute result URLs need the
    # address the client used when no STUDIO_PUBLIC_URL is configured.
    base_url = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            # Kling's external_task_id is unique per account; ours per owner. A client
            # retrying a create with the same id gets an error, not a second paid task.
            models.UniqueConstraint(
                fields=["owner", "external_task_id"],
                condition=~Q(external_task_id=""),
                name="external_task_id_unique_per_owner",
            )
        ]

    def __str__(self) -> str:
        return f"{self.family} task {self.generation_id}"


class CallbackDeliveryQuerySet(models.QuerySet["CallbackDelivery"]):
    def retry_due(self, now: Any = None) -> CallbackDeliveryQuerySet:
        """Failed attempts whose retry is due, oldest first (the due loop sends them)."""
        return self.filter(next_retry_at__lte=now or timezone.now()).order_by("next_retry_at")


class CallbackDelivery(models.Model):
    """One attempt to post a status change to a client's callback_url.

    A failed attempt that will be retried carries `next_retry_at` until its retry is made;
    the due loop (videos.tasks.run_due_once) sends due retries. Not a django-q2 schedule:
    a retry must never be able to stop the scheduler that polls every paid job.
    """

    generation = models.ForeignKey(
        "videos.Generation", on_delete=models.CASCADE, related_name="callback_deliveries"
    )
    api_key = models.ForeignKey(
        ApiKey, null=True, on_delete=models.SET_NULL, related_name="callback_deliveries"
    )
    url = models.URLField(max_length=2000)
    task_status = models.CharField(max_length=12)
    webhook_id = models.CharField(max_length=100)
    attempt = models.PositiveSmallIntegerField(default=1)
    at = models.DateTimeField(default=timezone.now)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)

    objects = CallbackDeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "callback deliveries"
        indexes = [
            # The due loop looks for due retries every second; only pending ones are indexed.
            models.Index(
                fields=["next_retry_at"],
                condition=Q(next_retry_at__isnull=False),
                name="callback_retry_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.webhook_id} #{self.attempt}: {'ok' if self.ok else 'failed'}"

    def claim_retry(self, seconds: float) -> bool:
        """Take this pending retry for `seconds`; False if another worker took it first.

        A conditional UPDATE on the due time we read: several due loops and retry jobs
        may see the same row, and exactly one of them must send the retry. If the one
        that took it dies, the retry is due again when `seconds` have passed.
        """
        if self.next_retry_at is None:
            return False
        until = timezone.now() + timedelta(seconds=seconds)
        won = CallbackDelivery.objects.filter(pk=self.pk, next_retry_at=self.next_retry_at).update(
            next_retry_at=until
        )
        if won:
            self.next_retry_at = until
        return bool(won)

    def drop_retry(self) -> None:
        """Stop retrying this attempt."""
        CallbackDelivery.objects.filter(pk=self.pk).update(next_retry_at=None)
        self.next_retry_at = None

    def supersede_earlier(self) -> None:
        """This attempt replaces every earlier one of its status change: none awaits a retry."""
        CallbackDelivery.objects.filter(
            generation_id=self.generation_id,
            task_status=self.task_status,
            pk__lt=self.pk,
            next_retry_at__isnull=False,
        ).update(next_retry_at=None)
