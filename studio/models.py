"""What the studio itself keeps in the database: failed logins, each user's preferences."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db import connection, models
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

# Where the session keeps the user's language ("" for none): studio.middleware reads it.
SESSION_LANGUAGE = "_studio_language"


class LoginThrottle(models.Model):
    """Login attempts of one username from one address within a window (studio/login.py).

    In the database, not a per-process cache: gunicorn runs several worker processes, and a
    count each of them keeps for itself lets a guesser through after MAX_FAILURES × workers.
    """

    # sha256 of address and username: failed usernames are often mistyped passwords.
    digest = models.CharField(max_length=64, unique=True)
    attempts = models.PositiveIntegerField(default=0)
    window_ends_at = models.FloatField(db_index=True, help_text=_("Unix time"))

    def __str__(self) -> str:
        return f"{self.digest[:12]}…: {self.attempts}"

    @classmethod
    def take_attempt(cls, digest: str, now: float, most: int, window: float) -> bool:
        """Count an attempt if fewer than `most` were counted in the window; False if not.

        One upsert: the check and the count happen under the row's lock, so attempts that
        arrive at once in different processes cannot all pass a check none has counted yet.
        A window that has ended starts again at one.
        """
        table = connection.ops.quote_name(cls._meta.db_table)
        ended = f"{table}.window_ends_at <= %s"
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (digest, attempts, window_ends_at) VALUES (%s, 1, %s) "  # noqa: S608
                f"ON CONFLICT (digest) DO UPDATE SET "
                f"attempts = CASE WHEN {ended} THEN 1 ELSE {table}.attempts + 1 END, "
                f"window_ends_at = CASE WHEN {ended} THEN %s ELSE {table}.window_ends_at END "
                f"WHERE {table}.attempts < %s OR {ended} RETURNING attempts",
                [digest, now + window, now, now, now + window, most, now],
            )
            taken = cursor.fetchone() is not None
        # Ended windows are of no use: they go as the next attempts come.
        cls.objects.filter(window_ends_at__lt=now).delete()
        return taken

    @classmethod
    def give_back(cls, digest: str) -> None:
        """An attempt that succeeded is not a failure: uncount it."""
        cls.objects.filter(digest=digest, attempts__gt=0).update(attempts=models.F("attempts") - 1)


class UserPreference(models.Model):
    """What one user chose for the interface: their language, on every device they sign in on.

    A cookie alone is per browser; the choice belongs to the person (studio.middleware).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference"
    )
    # A code of settings.LANGUAGES; empty means "follow the browser" (Accept-Language).
    language = models.CharField(max_length=15, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.language or '-'}"

    @classmethod
    def language_of(cls, user: Any) -> str:
        """The user's remembered language code, or "" when they never chose one."""
        return cls.objects.filter(user=user).values_list("language", flat=True).first() or ""

    @classmethod
    def remember_language(cls, user: Any, language: str) -> None:
        cls.objects.update_or_create(user=user, defaults={"language": language})


@receiver(user_logged_in)
def _language_into_session(
    sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    """At sign-in the user's language joins the session: no page has to look it up.

    Django's own login signal, the one hook every way of signing in passes through
    (the login form, the admin's, a test's force_login). A language chosen with the switch
    on the login page, before the user had chosen one, becomes theirs.
    """
    if request is None or not hasattr(request, "session"):
        return
    language = UserPreference.language_of(user)
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    if not language and chosen in dict(settings.LANGUAGES):
        UserPreference.remember_language(user, chosen)
        language = chosen
    request.session[SESSION_LANGUAGE] = language
