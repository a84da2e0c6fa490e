"""Web pages of the api app: the API docs with curl examples, and each user's own keys."""

from __future__ import annotations

from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from studio.typing import HtmxHttpRequest

from .forms import KeyCreateForm
from .http import public_base_url
from .models import ApiKey, CallbackDelivery
from .openapi_spec import openapi_document


@login_not_required
@require_GET
def openapi(request: HttpRequest) -> JsonResponse:
    """The OpenAPI description of the studio API (public: it holds no secrets)."""
    return JsonResponse(openapi_document(public_base_url(request)), json_dumps_params={"indent": 1})


@require_GET
def api_docs(request: HttpRequest) -> HttpResponse:
    """How to call the studio: routes and curl examples with this studio's base URL."""
    key = ApiKey.objects.owned_by(request.user).filter(revoked_at__isnull=True).first()
    return render(request, "api/docs.html", {"base_url": public_base_url(request), "key": key})


def _keys_context(request: HttpRequest) -> dict:
    keys = ApiKey.objects.owned_by(request.user).with_usage()
    return {"keys": keys, "form": KeyCreateForm(), "base_url": public_base_url(request)}


@require_GET
def my_keys(request: HtmxHttpRequest) -> HttpResponse:
    """The signed-in user's keys with their usage; create and revoke them here."""
    template_name = "api/my_keys.html"
    if request.htmx:
        template_name += "#key-list"
    return render(request, template_name, _keys_context(request))


def _audit(request: HttpRequest, key: ApiKey, action: int, message: str) -> None:
    """Log an owner's change to their key where the admin's changes go (the usage page's log)."""
    LogEntry.objects.log_actions(request.user.pk, [key], action, change_message=message)


@require_POST
def key_create(request: HtmxHttpRequest) -> HttpResponse:
    """Create a key for the signed-in user; its secret is in this answer and nowhere else."""
    form = KeyCreateForm(request.POST)
    context = _keys_context(request)
    if form.is_valid():
        with transaction.atomic():  # no key without its audit entry
            key, secret = ApiKey.issue(request.user, **form.key_fields())
            _audit(request, key, ADDITION, "Created by its owner on the My keys page.")
        context.update(created=key, secret=secret, webhook_secret=key.get_webhook_secret())
    else:
        context["form"] = form
    # Rendered, not redirected: a secret in a flash message would sit in a cookie or the session.
    if not request.htmx:
        return render(request, "api/my_keys.html", context)
    html = render_to_string("api/my_keys.html#key-create", context, request)
    if form.is_valid():
        # The new key joins the list in the same answer (an out-of-band swap), not on reload.
        html += render_to_string("api/my_keys.html#key-list", {**context, "oob": True}, request)
    return HttpResponse(html)


@require_POST
def key_revoke(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Revoke one of the user's own keys (another user's key is a 404)."""
    key = get_object_or_404(ApiKey.objects.owned_by(request.user), pk=pk)
    if key.revoke():
        _audit(request, key, CHANGE, "Revoked by its owner on the My keys page.")
    if request.htmx:
        return render(request, "api/my_keys.html#key-list", _keys_context(request))
    return redirect("my_keys")


@require_GET
@never_cache  # it shows the key's webhook secret: no copy in any cache
def key_deliveries(request: HttpRequest, pk: int) -> HttpResponse:
    """The callback delivery log of one of the user's keys, and its webhook secret."""
    key = get_object_or_404(ApiKey.objects.owned_by(request.user), pk=pk)
    deliveries = CallbackDelivery.objects.filter(api_key=key).select_related("generation")[:200]
    context = {"key": key, "deliveries": deliveries, "webhook_secret": key.get_webhook_secret()}
    return render(request, "api/deliveries.html", context)
