"""`manage.py apikey create --user USER --name NAME [--models M,...]`, plus list and revoke."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from api.models import ApiKey
from videos.models import VideoModel


class Command(BaseCommand):
    help = (
        "Create, list or revoke studio API keys. create prints the secret once, on the last line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="issue a key; the secret is printed once")
        create.add_argument("--user", required=True, help="username of the owner")
        create.add_argument("--name", required=True)
        create.add_argument(
            "--models", default="", help="comma-separated model names (default: all)"
        )
        create.add_argument("--expires-days", type=int, default=None)
        create.add_argument("--rpm", type=int, default=None, help="requests per minute")
        create.add_argument("--max-concurrent", type=int, default=None)
        create.add_argument("--budget", default=None, help="unit budget")
        sub.add_parser("list", help="list keys with their usage")
        revoke = sub.add_parser("revoke", help="revoke a key by access id or prefix")
        revoke.add_argument("key", help="access id or secret prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _create(self, options: dict[str, Any]) -> None:
        User = get_user_model()
        try:
            owner = User.objects.get(username=options["user"])
        except User.DoesNotExist as exc:
            raise CommandError(f"no user named {options['user']!r}") from exc
        models = [m.strip() for m in options["models"].split(",") if m.strip()]
        unknown = set(models) - set(VideoModel.objects.values_list("name", flat=True))
        if unknown:
            raise CommandError(f"unknown model(s): {', '.join(sorted(unknown))}")
        fields: dict[str, Any] = {"allowed_models": models}
        if options["expires_days"]:
            fields["expires_at"] = timezone.now() + timedelta(days=options["expires_days"])
        if options["rpm"] is not None:
            fields["requests_per_minute"] = options["rpm"]
        if options["max_concurrent"] is not None:
            fields["max_concurrent"] = options["max_concurrent"]
        if options["budget"] is not None:
            fields["unit_budget"] = Decimal(options["budget"])
        key, secret = ApiKey.issue(owner, options["name"], **fields)
        _audit(key, ADDITION, "Created with manage.py apikey create.")
        self.stdout.write(f"key: {key.name} (owner {owner.get_username()}, prefix {key.prefix})")
        self.stdout.write(f"access id: {key.access_id}")
        self.stdout.write(f"webhook secret: {key.get_webhook_secret()}")
        self.stdout.write("secret (shown once, on the next line):")
        self.stdout.write(secret)

    def _list(self, options: dict[str, Any]) -> None:
        for key in ApiKey.objects.select_related("owner").with_usage():
            state = "revoked" if key.is_revoked else "expired" if key.is_expired else "active"
            self.stdout.write(
                f"{key.access_id}  {key.prefix}…  {key.owner.get_username():<12} "
                f"{key.name:<20} {state:<8}"
                f" requests={key.usage_requests} generations={key.usage_generations}"
                f" units={key.usage_units} failures={key.usage_failures}"
            )

    def _revoke(self, options: dict[str, Any]) -> None:
        ident = options["key"]
        keys = list(ApiKey.objects.filter(access_id=ident)) or list(
            ApiKey.objects.filter(prefix=ident)
        )
        if len(keys) != 1:
            raise CommandError(f"{len(keys)} keys match {ident!r}; give the access id")
        if keys[0].revoke():
            _audit(keys[0], CHANGE, "Revoked with manage.py apikey revoke.")
        self.stdout.write(f"revoked {keys[0]}")


def _audit(key: ApiKey, flag: int, message: str) -> None:
    """Admin history for changes made outside the admin, attributed to the first superuser."""
    admin = get_user_model().objects.filter(is_superuser=True).order_by("pk").first()
    if admin is not None:
        LogEntry.objects.log_actions(admin.pk, [key], flag, change_message=message)
