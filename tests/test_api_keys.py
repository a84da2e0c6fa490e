"""Studio keys: issued by the command, the admin and the My keys page; hashed; revocable; usage."""

from __future__ import annotations

import re
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client

from api.models import ApiKey, RequestBucket
from api.ratelimit import flush_all
from tests.api_helpers import bearer, issue, post_json
from videos.models import Generation

pytestmark = pytest.mark.django_db

T2V = "/kling/v1/videos/text2video"
BODY = {"model_name": "kling-v1", "prompt": "a lantern", "duration": "5"}


def run_apikey(*args: str) -> list[str]:
    out = StringIO()
    call_command("apikey", *args, stdout=out)
    return out.getvalue().strip().splitlines()


def all_database_text() -> str:
    """Every text value in every table: what someone with a copy of the database can read."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (table names from introspection)
            chunks.extend(str(value) for row in cursor.fetchall() for value in row)
    return "\n".join(chunks)


# ---- the command -----------------------------------------------------------------------------
def test_the_command_prints_the_access_id_and_the_secret_last(
    client: Client, user, staff_user
) -> None:
    lines = run_apikey(
        "create", "--user", "alice", "--name", "ci", "--models", "kling-v1,kling-v1-6"
    )
    access_line = [line for line in lines if line.startswith("access id: ")]
    assert len(access_line) == 1
    access_id, secret = access_line[0].removeprefix("access id: "), lines[-1]
    key = ApiKey.objects.get(access_id=access_id)
    assert (
        key.owner == user and key.name == "ci" and key.allowed_models == ["kling-v1", "kling-v1-6"]
    )
    assert secret.startswith(key.prefix) and client.get(T2V, **bearer(secret)).status_code == 200
    entry = LogEntry.objects.get(object_id=str(key.pk))
    assert (
        entry.action_flag == ADDITION
        and entry.user == staff_user
        and secret not in entry.change_message
    )


def test_the_command_refuses_unknown_users_and_models(user) -> None:
    with pytest.raises(CommandError, match="no user"):
        run_apikey("create", "--user", "nobody", "--name", "x")
    with pytest.raises(CommandError, match="unknown model"):
        run_apikey("create", "--user", "alice", "--name", "x", "--models", "kling-v9")
    assert not ApiKey.objects.exists()


def test_the_command_lists_and_revokes(client: Client, user) -> None:
    key, secret = issue(user, "ops")
    assert any(key.access_id in line and "active" in line for line in run_apikey("list"))
    run_apikey("revoke", key.access_id)
    assert client.get(T2V, **bearer(secret)).json()["code"] == 1000
    assert any("revoked" in line for line in run_apikey("list"))


# ---- storage -----------------------------------------------------------------------------------
def test_secrets_are_not_in_the_database_in_plain_text(client: Client, user, staff_client) -> None:
    key, secret = issue(user)
    lines = run_apikey("create", "--user", "alice", "--name", "second")
    created = staff_client.post(
        "/admin/api/apikey/add/",
        {
            "owner": user.pk,
            "name": "from admin",
            "max_concurrent": 3,
            "requests_per_minute": 60,
        },
    )
    admin_secret = re.search(r'id="admin-secret">([^<]+)<', created.content.decode())[1]
    page = Client()
    page.force_login(user)
    mine = page.post("/keys/new/", {"name": "mine"})
    page_secret = re.search(r'id="new-secret" class="mono">([^<]+)<', mine.content.decode())[1]
    post_json(client, T2V, BODY, secret)  # a use leaves traces too (last used, buckets, jobs)
    text = all_database_text()
    for plain in (secret, lines[-1], admin_secret, page_secret, key.get_webhook_secret()):
        assert plain not in text
        assert plain[len("sk_") :][:24] not in text
    assert key.secret_hash in text and key.prefix in text  # the hash and prefix are what is kept


# ---- the admin ----------------------------------------------------------------------------------
def test_the_admin_issues_a_key_and_shows_the_secret_once(
    client: Client, staff_client, user
) -> None:
    response = staff_client.post(
        "/admin/api/apikey/add/",
        {
            "owner": user.pk,
            "name": "render farm",
            "allowed_models": ["kling-v1"],
            "max_concurrent": 4,
            "requests_per_minute": 30,
            "unit_budget": "100",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200 and "shown only this once" in html
    secret = re.search(r'id="admin-secret">([^<]+)<', html)[1]
    key = ApiKey.objects.get(name="render farm")
    assert (key.max_concurrent, key.requests_per_minute, key.unit_budget) == (4, 30, Decimal("100"))
    assert client.get(T2V, **bearer(secret)).status_code == 200
    assert LogEntry.objects.filter(object_id=str(key.pk), action_flag=ADDITION).exists()
    change_page = staff_client.get(f"/admin/api/apikey/{key.pk}/change/").content.decode()
    assert secret not in change_page and key.prefix in change_page


def test_the_admin_revokes_and_rotates_with_an_audit_trail(
    client: Client, staff_client, user
) -> None:
    key, secret = issue(user)
    url = "/admin/api/apikey/"
    rotated = staff_client.post(url, {"action": "rotate_key", "_selected_action": [key.pk]})
    new_secret = re.search(r'id="admin-secret">([^<]+)<', rotated.content.decode())[1]
    assert client.get(T2V, **bearer(secret)).json()["code"] == 1002
    assert client.get(T2V, **bearer(new_secret)).status_code == 200
    staff_client.post(url, {"action": "revoke_keys", "_selected_action": [key.pk]})
    assert client.get(T2V, **bearer(new_secret)).json()["code"] == 1000
    messages = list(
        LogEntry.objects.filter(object_id=str(key.pk), action_flag=CHANGE).values_list(
            "change_message", flat=True
        )
    )
    assert sorted(messages) == ["Revoked.", "Secret rotated."]


def test_the_admin_shows_usage_per_key(client: Client, staff_client, user) -> None:
    key, secret = issue(user, "busy")
    for _ in range(3):
        post_json(client, T2V, BODY, secret)
    flush_all()  # request counts reach the database within a second; now, for the test
    Generation.objects.filter(api_key=key).first().mark_failed("upstream refused")
    Generation.objects.filter(api_key=key).update(units=Decimal("1.50"))
    annotated = ApiKey.objects.with_usage().get(pk=key.pk)
    assert (annotated.usage_requests, annotated.usage_generations, annotated.usage_failures) == (
        3,
        3,
        1,
    )
    assert annotated.usage_units == Decimal("4.50")
    html = staff_client.get("/admin/api/apikey/").content.decode()
    assert "busy" in html and "4.50" in html


def test_usage_counts_are_not_multiplied_by_joins(user) -> None:
    key, _secret = issue(user)
    for minute in range(4):
        RequestBucket.hit(key.access_id, minute=minute)
    Generation.objects.create(owner=user, api_key=key, prompt="a")
    Generation.objects.create(owner=user, api_key=key, prompt="b")
    annotated = ApiKey.objects.with_usage().get(pk=key.pk)
    assert (annotated.usage_requests, annotated.usage_generations) == (4, 2)


# ---- the My keys page ----------------------------------------------------------------------------
def test_my_keys_lists_only_my_keys(alice_client: Client, user, other_user) -> None:
    mine, _ = issue(user, "alice laptop")
    theirs, _ = issue(other_user, "bob server")
    html = alice_client.get("/keys/").content.decode()
    assert "alice laptop" in html and mine.prefix in html and mine.access_id in html
    assert "bob server" not in html and theirs.prefix not in html


def test_my_keys_needs_a_login() -> None:
    response = Client().get("/keys/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_creating_a_key_shows_its_secret_once_with_a_copy_button(
    client: Client, alice_client: Client, user
) -> None:
    response = alice_client.post(
        "/keys/new/", {"name": "notebook", "expires_in_days": 30, "allowed_models": ["kling-v1"]}
    )
    html = response.content.decode()
    secret = re.search(r'id="new-secret" class="mono">([^<]+)<', html)[1]
    assert 'data-copy="#new-secret"' in html and "js/api.js" in html
    key = ApiKey.objects.get(owner=user, name="notebook")
    assert key.allowed_models == ["kling-v1"] and key.expires_at is not None
    assert client.get(T2V, **bearer(secret)).status_code == 200
    assert secret not in alice_client.get("/keys/").content.decode()  # never shown again


def test_creating_a_key_with_htmx_returns_the_partial(alice_client: Client) -> None:
    response = alice_client.post("/keys/new/", {"name": "htmx"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="key-create"') and 'id="new-secret"' in html
    assert "<html" not in html


def test_creating_a_key_with_htmx_also_swaps_in_the_new_key_list(
    alice_client: Client, user
) -> None:
    issue(user, "older key")
    response = alice_client.post("/keys/new/", {"name": "fresh"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    key = ApiKey.objects.get(name="fresh")
    # One answer, two targets: the form's section, and the list out of band (htmx oob swap).
    assert html.lstrip().startswith('<section id="key-create"')
    oob = html[html.index('<section id="key-list"') :]
    assert oob.startswith('<section id="key-list" hx-swap-oob="true"')
    assert f'id="key-{key.pk}"' in oob and "fresh" in oob and "older key" in oob
    assert 'id="new-secret"' not in oob  # the secret stays in its one place


def test_an_invalid_htmx_key_form_leaves_the_list_alone(alice_client: Client) -> None:
    html = alice_client.post("/keys/new/", {"name": ""}, HTTP_HX_REQUEST="true").content.decode()
    assert "has-error" in html and 'id="key-list"' not in html


def test_keys_created_on_my_keys_are_in_the_audit_log(alice_client: Client, user) -> None:
    alice_client.post("/keys/new/", {"name": "audited"})
    key = ApiKey.objects.get(name="audited")
    entry = LogEntry.objects.get(object_id=str(key.pk))
    assert (entry.user, entry.action_flag, entry.object_repr) == (user, ADDITION, str(key))
    assert entry.change_message == "Created by its owner on the My keys page."
    alice_client.post("/keys/new/", {"name": ""})  # refused: nothing to audit
    assert LogEntry.objects.count() == 1


def test_an_invalid_key_form_rerenders_with_errors_and_creates_nothing(
    alice_client: Client,
) -> None:
    response = alice_client.post(
        "/keys/new/", {"name": "", "expires_in_days": 0}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200 and "has-error" in html and "This field is required" in html
    assert not ApiKey.objects.exists()


def test_i_can_revoke_my_key_but_not_someone_elses(
    client: Client, alice_client: Client, user, other_user
) -> None:
    mine, my_secret = issue(user, "mine")
    theirs, their_secret = issue(other_user, "theirs")
    response = alice_client.post(f"/keys/{mine.pk}/revoke/", HTTP_HX_REQUEST="true")
    assert (
        response.content.decode().lstrip().startswith('<section id="key-list"')
        and "revoked" in response.content.decode()
    )
    assert client.get(T2V, **bearer(my_secret)).json()["code"] == 1000
    assert alice_client.post(f"/keys/{theirs.pk}/revoke/").status_code == 404
    assert client.get(T2V, **bearer(their_secret)).status_code == 200
    assert LogEntry.objects.get(object_id=str(mine.pk)).change_message.startswith(
        "Revoked by its owner"
    )


def test_revoke_needs_post(alice_client: Client, user) -> None:
    key, _ = issue(user)
    assert alice_client.get(f"/keys/{key.pk}/revoke/").status_code == 405
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None


def test_my_keys_htmx_returns_the_key_list_partial(alice_client: Client, user) -> None:
    issue(user, "partial key")
    html = alice_client.get("/keys/", HTTP_HX_REQUEST="true").content.decode()
    assert html.lstrip().startswith('<section id="key-list"') and "partial key" in html


def test_old_request_counts_are_merged_per_day_without_losing_any(user) -> None:
    import time

    from api.tasks import compact_request_buckets

    key, _secret = issue(user)
    now_minute = int(time.time() // 60)
    old_day = now_minute - 10 * 1440
    old_day -= old_day % 1440
    for minute in (old_day + 5, old_day + 600, old_day + 1439, old_day + 1440 + 3, now_minute):
        RequestBucket.hit(key.access_id, minute=minute, n=2)
    assert compact_request_buckets() == 2  # four minutes of two old days became two rows
    minutes = sorted(RequestBucket.objects.filter(key=key).values_list("minute", "count"))
    assert minutes == [(old_day, 6), (old_day + 1440, 2), (now_minute, 2)]
    assert ApiKey.objects.with_usage().get(pk=key.pk).usage_requests == 10
    assert compact_request_buckets() == 0  # idempotent
