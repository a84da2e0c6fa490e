"""A login view that slows down password guessing."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.core.exceptions import ValidationError

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60


class ThrottledAuthenticationForm(AuthenticationForm):
    """Refuse further attempts for a username+address after repeated failures."""

    def _key(self) -> str:
        username = (self.data.get("username") or "").strip().lower()
        address = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        return f"login-failures:{address}:{username}"

    def clean(self) -> dict[str, Any]:
        key = self._key()
        if cache.get(key, 0) >= MAX_FAILURES:
            raise ValidationError(
                "Too many failed logins for this account from your address; "
                "try again in 15 minutes.",
                code="throttled",
            )
        try:
            return super().clean()
        except ValidationError:
            try:
                cache.incr(key)
            except ValueError:
                cache.set(key, 1, WINDOW_SECONDS)
            raise


class ThrottledLoginView(LoginView):
    authentication_form = ThrottledAuthenticationForm
