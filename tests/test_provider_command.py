"""`manage.py provider add|list|test|disable`: upstreams from the shell, secrets never in clear."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from simulator import Simulator
from videos.models import Provider

SECRET = "sk-very-secret-0123456789abcdef012345"
API_KEY = "gw-key-never-shown-0123456789abcdef"
WEBHOOK = "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI="


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(access_key="ak-command-test", secret_key=SECRET) as running:
        yield running


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("provider", *args, stdout=out)
    return out.getvalue()


def add(kind: str, name: str, base_url: str, *extra: str) -> str:
    return run("add", "--kind", kind, "--name", name, "--base-url", base_url, *extra)


def add_kling(sim: Simulator, *extra: str) -> str:
    keys = ("--access-key", sim.access_key, "--secret-key", SECRET, "--priority", "5")
    return add("kling", "kling-main", sim.url, *keys, *extra)


def add_gateway(api_key: str = API_KEY) -> str:
    return add("kling-gateway", "gw", "https://gw.example", "--api-key", api_key)


def test_it_adds_a_kling_provider_with_encrypted_masked_credentials(db, sim, staff_user) -> None:
    out = add_kling(sim, "--webhook-secret", WEBHOOK, "--models", "kling-v1,kling-v1-6")
    provider = Provider.objects.get(name="kling-main")
    assert out.startswith("kling-main: added (kling, http://127.0.0.1:")
    assert SECRET not in out and "sk-v…45" in out
    assert provider.get_credentials() == {"access_key": sim.access_key, "secret_key": SECRET}
    assert provider.get_webhook_secret() == WEBHOOK
    assert (provider.priority, provider.allowed_models) == (5, ["kling-v1", "kling-v1-6"])
    assert SECRET not in provider.credentials_encrypted
    entry = LogEntry.objects.get(object_id=str(provider.pk))
    assert entry.action_flag == ADDITION and entry.user == staff_user


def test_a_gateway_gets_the_kling_prefix_and_a_bearer_key(db) -> None:
    add_gateway()
    provider = Provider.objects.get(name="gw")
    assert provider.path_prefix == "/kling" and provider.get_credentials() == {"api_key": API_KEY}


def test_it_reads_a_secret_from_standard_input(db, monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(API_KEY + "\n"))
    add_gateway("-")
    assert Provider.objects.get(name="gw").get_credentials() == {"api_key": API_KEY}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--access-key", "ak"], "secret_key: Give both"),
        ([], "api_key: Give an access key and secret key, or an API key."),
        (
            ["--api-key", "k", "--base-url", ""],
            "base_url: A Kling or gateway provider needs a base URL.",
        ),
        (["--api-key", "k", "--base-url", "not a url"], "base_url: Enter a valid URL."),
    ],
)
def test_it_refuses_incomplete_providers(db, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        add("kling", "bad", "https://api.example", *args)
    assert not Provider.objects.filter(name="bad").exists()


def test_adding_again_updates_and_keeps_the_stored_secret(db, sim) -> None:
    add_kling(sim)
    out = add("kling", "kling-main", sim.url, "--priority", "1")
    provider = Provider.objects.get(name="kling-main")
    assert out.startswith("kling-main: updated") and provider.priority == 1
    assert provider.get_credentials()["secret_key"] == SECRET


def test_list_shows_masked_credentials_and_health(db, sim) -> None:
    add_kling(sim)
    Provider.objects.get(name="kling-main").mark_unhealthy("code 1101: arrears")
    out = run("list")
    line = next(row for row in out.splitlines() if row.startswith("kling-main"))
    assert "UNHEALTHY" in line and "code 1101: arrears" in line and "priority 5" in line
    assert SECRET not in out and "secret_key: sk-v…45" in line
    assert any(row.startswith("local\tlocal") for row in out.splitlines())


def test_test_makes_a_cheap_real_call(db, sim, staff_user) -> None:
    add_kling(sim)
    out = run("test", "kling-main")
    assert out.strip() == "kling-main: OK: answered a list query (0 tasks on the first page)"
    assert sim.counts["list"] == 1 and Provider.objects.get(name="kling-main").healthy
    entry = LogEntry.objects.filter(action_flag=CHANGE).get()
    assert entry.user == staff_user
    assert entry.change_message == "Tested: OK: answered a list query (0 tasks on the first page)"


def test_test_reports_bad_credentials_and_marks_unhealthy(db, sim, staff_user) -> None:
    add_kling(sim, "--secret-key", "wrong-secret-0123456789abcdef0123456")
    with pytest.raises(CommandError, match=r"kling-main: FAILED: token invalid.*code 1002"):
        run("test", "kling-main")
    assert not Provider.objects.get(name="kling-main").healthy
    entry = LogEntry.objects.filter(action_flag=CHANGE).get()
    assert entry.change_message.startswith("Tested: failed: token invalid")


def test_test_without_a_superuser_probes_and_logs_nothing(db, sim) -> None:
    add_kling(sim)
    assert run("test", "kling-main").startswith("kling-main: OK")
    assert not LogEntry.objects.exists()


def test_disable_and_enable(db, sim) -> None:
    add_kling(sim)
    assert run("disable", "kling-main").strip() == "kling-main: disabled"
    assert not Provider.objects.get(name="kling-main").enabled
    run("enable", "kling-main")
    assert Provider.objects.get(name="kling-main").enabled
    with pytest.raises(CommandError, match="no provider named 'nope'"):
        run("disable", "nope")


def test_secrets_are_absent_from_database_dumps(db, sim) -> None:
    add_kling(sim, "--webhook-secret", WEBHOOK)
    add_gateway()
    dumped = io.StringIO()
    call_command("dumpdata", "videos", "admin", stdout=dumped)
    sql = "\n".join(connection.connection.iterdump())  # the whole SQLite database as SQL
    for secret in (SECRET, API_KEY, WEBHOOK, WEBHOOK.removeprefix("whsec_")):
        assert secret not in dumped.getvalue()
        assert secret not in sql
    assert "kling-main" in sql  # the dump did include the provider rows
