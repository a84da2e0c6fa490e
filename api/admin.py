"""The admin for studio keys: issue, limit, revoke and rotate; usage per key; callback log."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from videos.admin import CatalogueModelsField

from .models import ApiKey, CallbackDelivery


class ApiKeyForm(forms.ModelForm):
    """Everything but the secrets: those are generated, hashed and shown once."""

    allowed_models = CatalogueModelsField()

    class Meta:
        model = ApiKey
        fields = [
            "owner",
            "name",
            "expires_at",
            "allowed_models",
            "max_concurrent",
            "requests_per_minute",
            "unit_budget",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["allowed_models"].keep_stored(self.instance.allowed_models)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = [
        "name",
        "owner",
        "prefix",
        "access_id",
        "state",
        "created_at",
        "expires_at",
        "last_used_at",
        "last_used_ip",
        "requests",
        "generations",
        "units",
        "failures",
    ]
    list_filter = ["revoked_at", "owner"]
    search_fields = ["name", "prefix", "access_id", "owner__username"]
    readonly_fields = [
        "access_id",
        "prefix",
        "created_at",
        "revoked_at",
        "last_used_at",
        "last_used_ip",
        "requests",
        "generations",
        "units",
        "failures",
    ]
    actions = ["revoke_keys", "rotate_key"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiKey]:
        return super().get_queryset(request).select_related("owner").with_usage()

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        fields = list(ApiKeyForm.Meta.fields)
        return fields if obj is None else fields + self.readonly_fields

    @admin.display(description=_("state"))
    def state(self, obj: ApiKey) -> str:
        return "revoked" if obj.is_revoked else "expired" if obj.is_expired else "active"

    @admin.display(description=_("Requests"), ordering="usage_requests")
    def requests(self, obj: ApiKey) -> int:
        return obj.usage_requests

    @admin.display(description=_("Generations"), ordering="usage_generations")
    def generations(self, obj: ApiKey) -> int:
        return obj.usage_generations

    @admin.display(description=_("Units"), ordering="usage_units")
    def units(self, obj: ApiKey) -> str:
        return f"{obj.usage_units:.2f}"

    @admin.display(description=_("Failures"), ordering="usage_failures")
    def failures(self, obj: ApiKey) -> int:
        return obj.usage_failures

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if not change:
            # Kept on the request only, for response_add: never in a message (cookie/session).
            request._new_api_key_secret = obj.prepare_new()
        super().save_model(request, obj, form, change)

    def response_add(
        self, request: HttpRequest, obj: ApiKey, post_url_continue: Any = None
    ) -> HttpResponse:
        secret = getattr(request, "_new_api_key_secret", "")
        if not secret:
            return super().response_add(request, obj, post_url_continue)
        return self._secret_page(request, obj, secret, "created")

    def _secret_page(
        self, request: HttpRequest, key: ApiKey, secret: str, what: str
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "key": key,
            "secret": secret,
            "webhook_secret": key.get_webhook_secret(),
            "what": what,
            "title": f"Key {what}: copy the secret now",
        }
        return TemplateResponse(request, "api/admin_secret.html", context)

    @admin.action(description=_("Revoke the selected keys"))
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = [key for key in queryset if key.revoke()]
        for key in revoked:
            self.log_change(request, key, "Revoked.")
        count = len(revoked)
        self.message_user(
            request,
            ngettext("Revoked %(count)d key.", "Revoked %(count)d keys.", count) % {"count": count},
        )

    @admin.action(description=_("Rotate the secret of the selected key (shown once)"))
    def rotate_key(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(
                request,
                _("Rotate one key at a time: its new secret is shown once."),
                level="error",
            )
            return None
        key = queryset.get()
        secret = key.rotate()
        self.log_change(request, key, "Secret rotated.")
        return self._secret_page(request, key, secret, "rotated")


@admin.register(CallbackDelivery)
class CallbackDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "at",
        "generation",
        "api_key",
        "task_status",
        "attempt",
        "ok",
        "http_status",
        "url",
        "error",
    ]
    list_filter = ["ok", "task_status"]
    search_fields = ["url", "webhook_id"]
    raw_id_fields = ["generation"]
