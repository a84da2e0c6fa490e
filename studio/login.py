"""A login view that slows down password guessing.

Attempts are counted per username and address in a store every web process shares: the
database by default (studio.models.LoginThrottle), Redis when REDIS_URL is configured.
A per-process cache would not do: gunicorn runs several workers, each would count only
the guesses it happened to answer.

An attempt is counted before its password is checked, in the same atomic step as the
check of the count: of attempts that arrive at once, exactly MAX_FAILURES are checked.
An attempt that succeeds is given back (it was not a failure).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, Protocol

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .models import LoginThrottle

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60


def now() -> float:
    return time.time()


class AttemptStore(Protocol):
    def take(self, digest: str) -> bool: ...

    def give_back(self, digest: str) -> None: ...


class DatabaseAttempts:
    def take(self, digest: str) -> bool:
        return LoginThrottle.take_attempt(digest, now(), MAX_FAILURES, WINDOW_SECONDS)

    def give_back(self, digest: str) -> None:
        LoginThrottle.give_back(digest)


class RedisAttempts:
    """Redis INCR is atomic; the key expires with its window."""

    def take(self, digest: str) -> bool:
        key = f"login-attempts:{digest}"
        cache.add(key, 0, WINDOW_SECONDS)
        try:
            return cache.incr(key) <= MAX_FAILURES
        except ValueError:  # expired between add and incr: a new window
            cache.add(key, 0, WINDOW_SECONDS)
            return cache.incr(key) <= MAX_FAILURES

    def give_back(self, digest: str) -> None:
        try:
            cache.decr(f"login-attempts:{digest}")
        except ValueError:  # the window ended meanwhile
            pass


def attempt_store() -> AttemptStore:
    return RedisAttempts() if settings.REDIS_URL else DatabaseAttempts()


class ThrottledAuthenticationForm(AuthenticationForm):
    """Refuse further attempts for a username+address after repeated failures."""

    def _digest(self) -> str:
        username = (self.data.get("username") or "").strip().lower()
        address = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        return hashlib.sha256(f"{address}\n{username}".encode(errors="surrogatepass")).hexdigest()

    def clean(self) -> dict[str, Any]:
        store, digest = attempt_store(), self._digest()
        if not store.take(digest):
            raise ValidationError(
                _(
                    "Too many failed logins for this account from your address; "
                    "try again in 15 minutes."
                ),
                code="throttled",
            )
        cleaned = super().clean()  # a wrong password raises: the attempt stays counted
        store.give_back(digest)
        return cleaned


class ThrottledLoginView(LoginView):
    authentication_form = ThrottledAuthenticationForm
