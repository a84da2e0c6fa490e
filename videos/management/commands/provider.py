"""`manage.py provider add|list|test|disable|enable`: manage upstreams from the shell."""

from __future__ import annotations

import json
import sys
from argparse import ArgumentParser
from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from videos.admin import ProviderForm
from videos.models import Provider
from videos.tasks import probe_and_audit

SECRET_OPTIONS = ("access_key", "secret_key", "api_key", "webhook_secret")


class Command(BaseCommand):
    help = "Add, list, test, disable or enable upstream providers (secrets are stored encrypted)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add or update a provider")
        add.add_argument("--kind", required=True, choices=[k.value for k in Provider.Kind])
        add.add_argument("--name", required=True)
        add.add_argument("--base-url", default="")
        add.add_argument("--path-prefix", default=None, help='gateways default to "/kling"')
        add.add_argument("--access-key", default="")
        add.add_argument("--secret-key", default="", help='"-" reads it from standard input')
        add.add_argument("--api-key", default="", help='"-" reads it from standard input')
        add.add_argument("--webhook-secret", default="")
        add.add_argument("--priority", type=int, default=100)
        add.add_argument("--max-concurrent", type=int, default=5)
        add.add_argument("--models", default="", help="comma-separated model names it serves")
        add.add_argument(
            "--model-map",
            default=None,
            help="studio=upstream model names where they differ, comma-separated "
            '(e.g. "MiniMax-Hailuo-02=minimax/hailuo-02")',
        )
        sub.add_parser("list", help="list providers with masked credentials and health")
        for name, text in (
            ("test", "make a cheap real call"),
            ("disable", "stop using"),
            ("enable", "start using again"),
        ):
            one = sub.add_parser(name, help=f"{text} a provider")
            one.add_argument("name")
        for action in sub.choices.values():
            action.add_argument("--by", default="", help="admin username recorded in the log")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            self._list()
            return
        if action == "add":
            self._add(options)
            return
        provider = Provider.objects.filter(name=options["name"]).first()
        if provider is None:
            raise CommandError(f"no provider named {options['name']!r}")
        if action == "test":
            user = self._user(options)
            ok, message = probe_and_audit(provider, user.pk if user else None)
            if not ok:
                raise CommandError(f"{provider.name}: FAILED: {message}")
            self.stdout.write(f"{provider.name}: OK: {message}")
            return
        provider.enabled = action == "enable"
        provider.save(update_fields=["enabled"])
        self._log(options, provider, CHANGE, f"{action}d from the command line")
        self.stdout.write(f"{provider.name}: {action}d")

    def _add(self, options: dict[str, Any]) -> None:
        for key in SECRET_OPTIONS:
            if options.get(key) == "-":
                options[key] = sys.stdin.readline().strip()
        prefix = options["path_prefix"]
        if prefix is None:
            prefix = "/kling" if options["kind"] == Provider.Kind.GATEWAY else ""
        instance = Provider.objects.filter(name=options["name"]).first()
        models = [m.strip() for m in options["models"].split(",") if m.strip()]
        model_map = _model_map(options.get("model_map"))
        form = ProviderForm(
            {
                "name": options["name"],
                "kind": options["kind"],
                "base_url": options["base_url"],
                "path_prefix": prefix,
                "enabled": True,
                "priority": options["priority"],
                "max_concurrent": options["max_concurrent"],
                # Names, as the admin's checkboxes send them (the form checks the catalogue).
                "allowed_models": models or (instance.allowed_models if instance else []),
                # JSON text: the form's JSONField reads {} and [] as "no value".
                "model_map": json.dumps(
                    model_map if model_map is not None else (instance.model_map if instance else {})
                ),
                **{key: options[key] for key in SECRET_OPTIONS},
            },
            instance=instance,
        )
        if not form.is_valid():
            problems = "; ".join(
                f"{field}: {' '.join(errs)}" for field, errs in form.errors.items()
            )
            raise CommandError(problems)
        with transaction.atomic():
            provider = form.save()
        verb = "updated" if instance else "added"
        self._log(
            options, provider, CHANGE if instance else ADDITION, f"{verb} from the command line"
        )
        creds = ", ".join(f"{k}: {v}" for k, v in provider.masked_credentials().items()) or "none"
        self.stdout.write(
            f"{provider.name}: {verb} ({provider.kind}, {provider.base_url or '-'}; {creds})"
        )

    def _list(self) -> None:
        rows = Provider.objects.order_by("priority", "name")
        if not rows:
            self.stdout.write("no providers")
        for p in rows:
            creds = ", ".join(f"{k}: {v}" for k, v in p.masked_credentials().items()) or "none"
            state = ("enabled" if p.enabled else "disabled") + (
                ", healthy" if p.healthy else ", UNHEALTHY"
            )
            line = (
                f"{p.name}\t{p.kind}\t{p.base_url or '-'}{p.path_prefix}\tpriority {p.priority}\t"
                f"{p.running_count()}/{p.max_concurrent} running\t{state}\t{creds}"
            )
            if p.health_message:
                line += f"\t{p.health_message}"
            self.stdout.write(line)

    def _user(self, options: dict[str, Any]) -> AbstractBaseUser | None:
        """Who the audit log names: --by, else a superuser (LogEntry needs a user)."""
        users = get_user_model().objects.filter(is_active=True, is_superuser=True)
        return users.filter(username=options["by"]).first() if options.get("by") else users.first()

    def _log(self, options: dict[str, Any], provider: Provider, flag: int, message: str) -> None:
        """Audit the change like the admin would."""
        user = self._user(options)
        if user is None:
            return
        LogEntry.objects.log_actions(
            user_id=user.pk,
            queryset=[provider],
            action_flag=flag,
            change_message=message[:500],
            single_object=True,
        )


def _model_map(text: str | None) -> dict[str, str] | None:
    """--model-map "a=b,c=d" as {a: b, c: d}; None when the option was not given."""
    if text is None:
        return None
    pairs = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        studio, sep, upstream = item.partition("=")
        if not sep or not studio.strip() or not upstream.strip():
            raise CommandError(f"--model-map: {item!r} is not studio=upstream")
        pairs[studio.strip()] = upstream.strip()
    return pairs
