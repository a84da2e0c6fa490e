"""Admin troubleshooting: poll now, retry as a new generation, mark failed; provider test."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from .creation import rerun
from .models import Generation, Provider
from .tasks import enqueue_next_step, probe_and_audit

TEMPLATE = "videos/troubleshoot.html"


class MarkFailedForm(forms.Form):
    reason = forms.CharField(max_length=500, strip=True)


def staff_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Troubleshooting spends or stops real upstream work: admins only (403 for others)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied(_("admins only"))
        return view(request, *args, **kwargs)

    return wrapped


def _panel(request: HttpRequest, generation: Generation, **context: Any) -> HttpResponse:
    """The troubleshooting partial for htmx, or back to the generation's page."""
    if request.htmx:
        generation.refresh_from_db()
        return render(request, f"{TEMPLATE}#troubleshoot", {"generation": generation, **context})
    return redirect(generation)


@require_GET
@staff_only
def panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The troubleshooting panel alone (htmx refreshes it after an action)."""
    generation = get_object_or_404(Generation, pk=pk)
    return render(request, f"{TEMPLATE}#troubleshoot", {"generation": generation})


@require_POST
@staff_only
def poll_now(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask the upstream right now instead of waiting for the next scheduled poll."""
    generation = get_object_or_404(Generation, pk=pk)
    if not generation.is_pending:
        return _panel(request, generation, notice="This generation is finished: nothing to poll.")
    generation.record("admin", f"poll now, asked by {request.user.get_username()}")
    enqueue_next_step(generation, "poll-now")
    return _panel(request, generation, notice="Polled (or queued a poll).")


@require_POST
@staff_only
def retry(request: HttpRequest, pk: int) -> HttpResponse:
    """Start a new generation with the same parameters, linked to this one as its parent."""
    original = get_object_or_404(Generation, pk=pk)
    try:
        # On the owner's behalf: the retry is theirs, like the original.
        copy = rerun(original, original.owner)
    except ValidationError as exc:
        return _panel(request, original, notice=f"Cannot retry: {' '.join(exc.messages)}")
    copy.record("admin", f"retry of #{original.pk}, asked by {request.user.get_username()}")
    original.record("admin", f"retried as #{copy.pk} by {request.user.get_username()}")
    if request.htmx:
        return HttpResponseClientRedirect(copy.get_absolute_url())
    return redirect(copy)


@require_POST
@staff_only
def mark_failed(request: HttpRequest, pk: int) -> HttpResponse:
    """Stop waiting for a stuck generation: fail it with the admin's reason."""
    generation = get_object_or_404(Generation, pk=pk)
    form = MarkFailedForm(request.POST)
    if not form.is_valid():
        return _panel(request, generation, fail_form=form)
    reason = form.cleaned_data["reason"]
    if not generation.mark_failed(f"marked failed by an admin: {reason}"):
        return _panel(request, generation, notice=f"It is already {generation.status}.")
    generation.record("admin", f"marked failed by {request.user.get_username()}")
    return _panel(request, generation, notice="Marked failed.")


@require_POST
@staff_only
def provider_test(request: HttpRequest, pk: int) -> HttpResponse:
    """The admin's "test" button: a cheap real call, its answer shown, health updated."""
    provider = get_object_or_404(Provider, pk=pk)
    ok, message = probe_and_audit(provider, request.user.pk)
    (messages.success if ok else messages.error)(request, f"{provider.name}: {message}")
    return redirect(reverse("admin:videos_provider_change", args=[provider.pk]))
