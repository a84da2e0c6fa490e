"""Studio API keys: what programs use to call the studio's Kling-compatible API."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiKey(models.Model):
    """A studio key: a public access id plus a secret stored only as a hash (and encrypted for JWT)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
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
    allowed_models = models.JSONField(default=list, blank=True, help_text="empty means every model")
    max_concurrent = models.PositiveIntegerField(default=10)
    requests_per_minute = models.PositiveIntegerField(default=120)
    unit_budget = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
