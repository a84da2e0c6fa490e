"""Idempotent set-up run by `make run` and every deploy: demo admin, local provider, schedules."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from studio.schedules import sync_schedules
from videos.models import Provider

PASSWORD_FILE = Path(settings.BASE_DIR) / ".run" / "admin-password"


class Command(BaseCommand):
    help = "Create the demo admin and the local provider, and upsert every job schedule."

    def handle(self, *args: Any, **options: Any) -> None:
        password, source = self._admin_password()
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        if created or source == "STUDIO_ADMIN_PASSWORD":
            user.set_password(password)
            user.is_staff = user.is_superuser = True
            user.save()
        Provider.objects.get_or_create(
            name="local",
            defaults={"kind": Provider.Kind.LOCAL, "priority": 1000, "max_concurrent": 2},
        )
        sync_schedules()  # every job schedule, declared once in studio/schedules.py
        shown = (
            password
            if source != "existing"
            else "(unchanged: set STUDIO_ADMIN_PASSWORD to reset it)"
        )
        self.stdout.write(f"login: admin / {shown}")

    def _admin_password(self) -> tuple[str, str]:
        """From STUDIO_ADMIN_PASSWORD, else generated once and kept in .run/ for later runs."""
        import os

        if os.environ.get("STUDIO_ADMIN_PASSWORD"):
            return os.environ["STUDIO_ADMIN_PASSWORD"], "STUDIO_ADMIN_PASSWORD"
        if PASSWORD_FILE.exists():
            return PASSWORD_FILE.read_text().strip(), "file"
        if get_user_model().objects.filter(username="admin").exists():
            return "", "existing"
        password = secrets.token_urlsafe(12)
        PASSWORD_FILE.parent.mkdir(exist_ok=True)
        PASSWORD_FILE.write_text(password + "\n")
        PASSWORD_FILE.chmod(0o600)
        return password, "generated"
