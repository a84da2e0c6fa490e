"""The admin: catalogue, providers (secrets masked, write-only), generations with their timeline."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from .models import (
    Generation,
    GenerationEvent,
    LipSyncSession,
    Project,
    Provider,
    ProviderBalance,
    VideoModel,
    balance_summary,
)
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


class CatalogueModelsField(forms.MultipleChoiceField):
    """allowed_models ticked from the catalogue; stored as the JSON list of names it always was."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "none ticked: every model")
        super().__init__(choices=self.catalogue, required=False, **kwargs)

    @staticmethod
    def catalogue() -> list[tuple[str, str]]:
        return [
            (m.name, m.name if m.enabled else f"{m.name} (disabled)")
            for m in VideoModel.objects.order_by("sort_order", "name")
        ]

    def keep_stored(self, names: list[str]) -> None:
        """Offer (ticked) the stored names the catalogue no longer has.

        Dropping them unseen would shorten the list on the next save, and an emptied list
        means "every model": a restriction must only ever be lifted by unticking it.
        """
        known = {name for name, _ in self.choices}
        gone = [name for name in names or [] if name not in known]
        self.choices = [*self.choices, *((n, f"{n} (not in the catalogue)") for n in gone)]


class ProviderForm(forms.ModelForm):
    """Secrets are write-only: blank keeps the stored value, and they are never shown again."""

    # Typed secrets survive a form error (render_value=True): retyping three keys because the
    # base URL was missing loses them, or gets them wrong. The value goes back only in the
    # answer to the POST of the admin who just typed it, same origin, on an admin page that
    # is never cached (never_cache), framed (X-Frame-Options DENY) or scripted from elsewhere
    # (CSP). Stored secrets never reach these fields (they are not model fields), so a GET of
    # the change form shows none. The other way, stashing them server-side for the retry,
    # would put plain secrets in the session table: worse.
    access_key = forms.CharField(required=False, help_text=_("Kling AK (leave blank to keep)"))
    secret_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=True),
        help_text=_("Kling SK (leave blank to keep)"),
    )
    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=True),
        help_text=_("gateway or Kling API key"),
    )
    webhook_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=True),
        help_text=_("whsec_… for callbacks"),
    )
    allowed_models = CatalogueModelsField(
        help_text=_("models this provider serves; none ticked: every catalogue model")
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
            "typical_seconds",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["allowed_models"].keep_stored(self.instance.allowed_models)

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
        if kind in Provider.GATEWAY_KINDS:
            # kling-kinds.md §8a/§8b: a gateway key (Bearer); no AK/SK pair exists there.
            if not data.get("base_url"):
                self.add_error("base_url", "A gateway provider needs a base URL.")
            if data.get("access_key") or data.get("secret_key"):
                self.add_error("access_key", "This gateway takes an API key, not an AK/SK pair.")
            elif not (data.get("api_key") or stored):
                self.add_error("api_key", "Give the gateway's API key.")
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


class ProviderBalanceForm(forms.ModelForm):
    """The admin picks the packs the alert counts from those last listed (default: online)."""

    counted_packs = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="none ticked: every online pack counts",
    )

    class Meta:
        model = ProviderBalance
        fields = ["counted_packs", "low_threshold", "used_up_at"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        listed = [(p["pack_id"], f"{p['name']} ({p['status']})") for p in self.instance.packs]
        ids = {pack_id for pack_id, _label in listed}
        # A ticked pack the upstream no longer lists stays ticked until the admin unticks it.
        gone = [(i, f"{i} (no longer listed)") for i in self.instance.counted_packs if i not in ids]
        self.fields["counted_packs"].choices = listed + gone


class ProviderBalanceInline(admin.StackedInline):
    """A Kling provider's resource packs (refreshed by the due loop) and its alert settings."""

    model = ProviderBalance
    form = ProviderBalanceForm
    extra = 0
    max_num = 1
    can_delete = False
    fields = [
        "pack_table",
        "alert_list",
        "refreshed_at",
        "message",
        "counted_packs",
        "low_threshold",
        "used_up_at",
    ]
    readonly_fields = ["pack_table", "alert_list", "refreshed_at", "message"]
    verbose_name = verbose_name_plural = "balance (resource packs, kling-kinds.md §7.8)"

    @admin.display(description="resource packs")
    def pack_table(self, obj: ProviderBalance) -> str:
        if not obj.packs:
            return "none listed yet"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} of {}</td><td>{}</td>"
            "<td>{}</td></tr>",
            (
                (
                    p["name"], p["pack_id"], p["pack_type"], p["status"], p["remaining"],
                    p["total"], f"{p['invalid_time']:%Y-%m-%d %H:%M}" if p["invalid_time"] else "—",
                    "yes" if p["counted"] else "no",
                )
                for p in obj.pack_rows()
            ),
        )  # fmt: skip
        return format_html(
            "<table><thead><tr><th>Name</th><th>Id</th><th>Type</th><th>Status</th>"
            "<th>Remaining</th><th>Expires (UTC)</th><th>Counted</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="alerts")
    def alert_list(self, obj: ProviderBalance) -> str:
        return "; ".join(obj.alerts()) or "none"


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
        "balance_left",
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

    def get_queryset(self, request: HttpRequest) -> QuerySet[Provider]:
        return super().get_queryset(request).select_related("balance")

    def get_inlines(self, request: HttpRequest, obj: Provider | None) -> list[Any]:
        # Only the official Kling API reports packs; the local renderer is not metered.
        return [ProviderBalanceInline] if obj and obj.kind == Provider.Kind.KLING else []

    # Not named "balance": a model's own attribute (here the reverse one-to-one) wins there.
    @admin.display(description=_("balance"))
    def balance_left(self, obj: Provider) -> str:
        return balance_summary(obj)

    @admin.display(description=_("stored credentials"))
    def stored_credentials(self, obj: Provider) -> str:
        return ", ".join(f"{k}: {v}" for k, v in obj.masked_credentials().items()) or "none"

    @admin.display(description=_("test"))
    def test_button(self, obj: Provider) -> str:
        """A button inside the change form that posts (with its CSRF token) to the test view."""
        if not obj.pk:
            return "save the provider first"
        return format_html(
            '<button type="submit" formaction="{}" formmethod="post" formnovalidate>'
            "Test now (a cheap list query)</button>",
            reverse("provider_test", args=[obj.pk]),
        )

    @admin.action(description=_("Test selected providers (a cheap real call each)"))
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
    # "deleted_at: not empty" is the trash (hidden from the studio's pages until purged).
    list_filter = [
        "status",
        "kind",
        "model_name",
        "provider",
        ("deleted_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["id", "prompt", "upstream_task_id"]
    raw_id_fields = ["owner", "parent", "api_key"]
    inlines = [GenerationEventInline]
    readonly_fields = [
        "status",
        "upstream_task_id",
        "submitted_at",
        "finished_at",
        "batch_id",
        "batch_index",
        "batch_size",
        "deleted_at",
    ]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    """Projects are made on their own pages; here admins see them all and adjust budgets."""

    list_display = ("name", "created_by", "budget_units", "created_at")
    search_fields = ("name", "description")
    raw_id_fields = ("created_by",)


@admin.register(LipSyncSession)
class LipSyncSessionAdmin(admin.ModelAdmin):
    """Read-only: sessions come from identify-face and go when they expire (the due loop)."""

    list_display = ["id", "owner", "source_label", "provider", "faces_count", "expires_at"]
    list_select_related = ["owner", "source", "provider"]
    list_filter = ["provider"]
    search_fields = ["id", "owner__username", "upstream_session_id"]
    readonly_fields = [
        "id",
        "owner",
        "api_key",
        "source",
        "video_url",
        "video",
        "video_duration",
        "provider",
        "upstream_session_id",
        "faces",
        "units",
        "created_at",
        "expires_at",
    ]

    @admin.display(description="source")
    def source_label(self, obj: LipSyncSession) -> str:
        return f"#{obj.source_id}" if obj.source_id else obj.video_url

    @admin.display(description="faces")
    def faces_count(self, obj: LipSyncSession) -> int:
        return len(obj.faces or [])

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deleting here would leave the face pictures behind
