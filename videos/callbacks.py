"""Callbacks from upstreams (kling-api.md §5): a nudge to poll now, never a source of truth.

Kling posts the bare task object on every status change, sometimes twice and out of
order, so the body is only logged on the timeline; the poll that follows decides.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import Generation
from .providers.webhooks import WebhookVerificationError, verify
from .tasks import enqueue_next_step

MAX_LOGGED_BODY = 20_000


class WebhookHeadersForm(forms.Form):
    """The Standard Webhooks headers; verified against the body when a secret is configured."""

    webhook_id = forms.CharField(required=False, max_length=200)
    webhook_timestamp = forms.CharField(required=False, max_length=20)
    webhook_signature = forms.CharField(required=False, max_length=2000)

    def __init__(self, data: dict[str, str], *, secret: str, body: bytes) -> None:
        super().__init__(data)
        self.secret, self.body = secret, body

    @classmethod
    def from_request(cls, request: HttpRequest, secret: str) -> WebhookHeadersForm:
        names = ("webhook-id", "webhook-timestamp", "webhook-signature")
        data = {name.replace("-", "_"): request.headers.get(name, "") for name in names}
        return cls(data, secret=secret, body=request.body)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.secret:
            try:
                verify(
                    self.secret,
                    data.get("webhook_id", ""),
                    data.get("webhook_timestamp", ""),
                    data.get("webhook_signature", ""),
                    self.body,
                )
            except WebhookVerificationError as exc:
                raise forms.ValidationError(str(exc), code="signature") from exc
        return data


def _logged_body(raw: bytes) -> Any:
    try:
        data = json.loads(raw[:MAX_LOGGED_BODY])
        # NaN, Infinity (1e400) and lone surrogates parse, but no JSON column stores them.
        json.dumps(data, ensure_ascii=False, allow_nan=False).encode()
        return data
    except ValueError:  # UnicodeEncodeError is one
        return {"unparsed": raw[:2000].decode(errors="replace")}


@csrf_exempt  # called by the upstream, authenticated by the token (and signature)
@login_not_required
@require_POST
def upstream_callback(request: HttpRequest, pk: int, token: str) -> JsonResponse:
    """Record an upstream's callback and poll the generation right away."""
    generation = (
        Generation.objects.select_related("provider", "create_provider").filter(pk=pk).first()
    )
    if (
        generation is None
        or not generation.callback_token
        or not constant_time_compare(token, generation.callback_token)
    ):
        return JsonResponse({"error": "unknown callback"}, status=404)
    provider = generation.provider or generation.create_provider
    form = WebhookHeadersForm.from_request(
        request, provider.get_webhook_secret() if provider else ""
    )
    if not form.is_valid():
        generation.record("error", f"callback rejected: {form.non_field_errors()[0]}")
        return JsonResponse({"error": form.non_field_errors()[0]}, status=401)
    generation.record("callback", "upstream callback received", _logged_body(request.body))
    if generation.is_pending:
        enqueue_next_step(generation, "nudge")
    return JsonResponse({"ok": True})
