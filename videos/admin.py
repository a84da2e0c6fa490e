"""The admin: catalogue, providers (secrets masked, write-only), generations with their timeline."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from .models import Generation, GenerationEvent, Provider, VideoModel
from .tasks import probe_and_audit


@admin.register(VideoModel)
class VideoModelAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "label",
        "kinds",
        "durations",
        "typical_seconds",
        "units_std",
        "units_pro",
        "enabled",
    ]
    list_editable = ["enabled"]
    search_fields = ["name", "label"]


class ProviderForm(forms.ModelForm):
    """Secrets are write-only: blank keeps the stored value, and they are never shown again."""

    access_key = forms.CharField(required=False, help_text="Kling AK (leave blank to keep)")
    secret_key = forms.CharField(
        required=False, widget=forms.PasswordInput, help_text="Kling SK (leave blank to keep)"
    )
    api_key = forms.CharField(
        required=False, widget=forms.PasswordInput, help_text="gateway or Kling API key"
    )
    webhook_secret = forms.CharField(
        required=False, widget=forms.PasswordInput, help_text="whsec_… for callbacks"
    )

    class Meta:
        model = Provider
        fields = [
            "name",
            "kind",
            "base_url",
            "path_prefix",
            "enabled",
            "priority",
            "max_concurrent",
            "allowed_models",
            "model_map",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("kind")
        stored = self.instance.pk and self.instance.credentials_encrypted
        if kind in (Provider.Kind.KLING, Provider.Kind.GATEWAY):
            if not data.get("base_url"):
                self.add_error("base_url", "A Kling or gateway provider needs a base URL.")
            has_pair = data.get("access_key") and data.get("secret_key")
            if bool(data.get("access_key")) != bool(data.get("secret_key")):
                self.add_error("secret_key", "Give both the access key and the secret key.")
            elif not (has_pair or data.get("api_key") or stored):
                self.add_error("api_key", "Give an access key and secret key, or an API key.")
        return data

    def save(self, commit: bool = True) -> Provider:
        provider = super().save(commit=False)
        entered = {k: self.cleaned_data.get(k) for k in ("access_key", "secret_key", "api_key")}
        if any(entered.values()):
            provider.set_credentials(**{k: v for k, v in entered.items() if v})
        if self.cleaned_data.get("webhook_secret"):
            provider.set_webhook_secret(self.cleaned_data["webhook_secret"])
        if commit:
            provider.save()
        return provider


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    list_display = [
        "name",
        "kind",
        "base_url",
        "enabled",
        "healthy",
        "health_message",
        "consecutive_failures",
        "priority",
        "max_concurrent",
    ]
    list_filter = ["kind", "enabled", "healthy"]
    readonly_fields = [
        "stored_credentials",
        "healthy",
        "health_message",
        "consecutive_failures",
        "health_checked_at",
        "test_button",
    ]
    actions = ["test_providers"]

    @admin.display(description="stored credentials")
    def stored_credentials(self, obj: Provider) -> str:
        return ", ".join(f"{k}: {v}" for k, v in obj.masked_credentials().items()) or "none"

    @admin.display(description="test")
    def test_button(self, obj: Provider) -> str:
        """A button inside the change form that posts (with its CSRF token) to the test view."""
        if not obj.pk:
            return "save the provider first"
        return format_html(
            '<button type="submit" formaction="{}" formmethod="post" formnovalidate>'
            "Test now (a cheap list query)</button>",
            reverse("provider_test", args=[obj.pk]),
        )

    @admin.action(description="Test selected providers (a cheap real call each)")
    def test_providers(self, request: HttpRequest, queryset: QuerySet[Provider]) -> None:
        for provider in queryset:
            ok, message = probe_and_audit(provider, request.user.pk)
            level = messages.SUCCESS if ok else messages.ERROR
            self.message_user(request, f"{provider.name}: {message}", level)


class GenerationEventInline(admin.TabularInline):
    model = GenerationEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "kind", "status", "message", "data"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "kind", "model_name", "status", "provider", "created_at"]
    list_filter = ["status", "kind", "model_name", "provider"]
    search_fields = ["id", "prompt", "upstream_task_id"]
    raw_id_fields = ["owner", "parent", "api_key"]
    inlines = [GenerationEventInline]
    readonly_fields = ["status", "upstream_task_id", "submitted_at", "finished_at"]
