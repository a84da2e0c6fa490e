"""The admins' usage page: per user, key, provider and model over a period, and the audit log."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from api.models import ApiKey
from tests.api_helpers import issue
from videos.models import Provider

pytestmark = pytest.mark.django_db


def section(html: str, title: str) -> str:
    start = html.index(f"<h2>{title}</h2>")
    return html[start : html.index("</section>", start)]


def cells(html: str, label: str) -> list[str]:
    """The cells of the table row whose first cell is `label`."""
    row = re.search(rf"<tr>\s*<td>{re.escape(label)}</td>(.*?)</tr>", html, re.S)
    assert row, f"no row {label!r}"
    return [
        re.sub(r"<[^>]+>", "", c).strip()
        for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    ]


@pytest.fixture
def usage(make_generation: Any, user: User, other_user: User, local_provider: Provider) -> None:
    key, _ = issue(other_user, "ci-bot")
    for _ in range(3):
        make_generation(status="succeeded", provider=local_provider, units=Decimal("1.50"))
    make_generation(status="failed", status_message="out of credit", provider=local_provider)
    make_generation(status="failed", status_message="out of credit", model_name="kling-v2-6")
    make_generation(status="failed", status_message="bad image", model_name="kling-v2-6")
    make_generation(
        owner=other_user,
        api_key=key,
        status="succeeded",
        units=Decimal("5"),
        model_name="kling-v2-6",
    )
    make_generation(
        created_at=timezone.now() - timedelta(days=60), units=Decimal("100"), status="succeeded"
    )


def test_it_is_for_admins_only(alice_client: Client, client: Client) -> None:
    assert alice_client.get("/usage/").status_code == 403
    response = client.get("/usage/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_it_counts_generations_failures_and_units_per_dimension(
    staff_client: Client, usage: None
) -> None:
    html = staff_client.get("/usage/", {"days": "30"}).content.decode()
    assert '<span class="big-number">7</span> generations' in html
    assert '<span class="big-number">3</span> failed' in html
    assert '<span class="big-number">9.50</span> units spent' in html
    per_user = section(html, "Per user")
    assert cells(per_user, "alice")[1:4] == ["6", "3 (50 %)", "4.50"]
    assert (
        "2× out of credit" in cells(per_user, "alice")[4]
        and "1× bad image" in cells(per_user, "alice")[4]
    )
    assert cells(per_user, "bob")[1:4] == ["1", "0", "5.00"]
    per_key = section(html, "Per API key")
    assert cells(per_key, "ci-bot")[1] == "1" and cells(per_key, "web UI (no key)")[1] == "6"
    per_provider = section(html, "Per provider")
    assert cells(per_provider, "local")[1:3] == ["4", "1 (25 %)"]
    assert cells(per_provider, "not submitted")[1] == "3"
    per_model = section(html, "Per model")
    assert cells(per_model, "kling-v2-6")[1:3] == ["3", "2 (67 %)"]
    top = section(html, "Top failure reasons")
    assert top.index("out of credit") < top.index("bad image")


def test_it_draws_bars_proportional_to_the_counts(staff_client: Client, usage: None) -> None:
    html = section(staff_client.get("/usage/").content.decode(), "Per user")
    alice_bar = re.search(
        r'aria-label="6 generations, 3 failed"><rect class="bar" x="0" y="1" width="(\d+)"', html
    )
    bob_bar = re.search(
        r'aria-label="1 generations, 0 failed"><rect class="bar" x="0" y="1" width="(\d+)"', html
    )
    assert alice_bar and bob_bar
    assert (int(alice_bar.group(1)), int(bob_bar.group(1))) == (320, 53)


def test_it_honours_the_period(staff_client: Client, usage: None) -> None:
    html = staff_client.get("/usage/", {"days": "90"}).content.decode()
    assert '<span class="big-number">8</span> generations' in html
    assert '<span class="big-number">109.50</span> units spent' in html
    today = timezone.localdate()
    old = staff_client.get(
        "/usage/",
        {"date_from": str(today - timedelta(days=61)), "date_to": str(today - timedelta(days=59))},
    ).content.decode()
    assert '<span class="big-number">1</span> generations' in old


def test_it_rejects_a_reversed_period(staff_client: Client) -> None:
    today = timezone.localdate()
    html = staff_client.get(
        "/usage/", {"date_from": str(today), "date_to": str(today - timedelta(days=3))}
    ).content.decode()
    assert "The end date is before the start date." in html and "big-number" not in html


def test_it_shows_the_audit_log_of_keys_and_providers_only(
    staff_client: Client, staff_user: User, local_provider: Provider, other_user: User
) -> None:
    key, _ = issue(other_user, "deploy")
    LogEntry.objects.log_actions(
        staff_user.pk, [key], ADDITION, change_message="created from the admin"
    )
    LogEntry.objects.log_actions(
        staff_user.pk,
        [local_provider],
        CHANGE,
        change_message=[{"changed": {"fields": ["Priority"]}}],
    )
    LogEntry.objects.log_actions(
        staff_user.pk, [other_user], CHANGE, change_message="password reset"
    )
    html = section(
        staff_client.get("/usage/").content.decode(),
        "Audit log: changes to keys and providers",
    )
    assert (
        "deploy" in html
        and "created from the admin" in html
        and "added studio api key" in html.lower()
    )
    assert "local" in html and "Changed Priority." in html
    assert "password reset" not in html
    assert "changed user" not in html.lower()


def test_the_audit_log_shows_keys_created_and_revoked_on_my_keys(
    staff_client: Client, alice_client: Client
) -> None:
    alice_client.post("/keys/new/", {"name": "alice laptop"})
    key = ApiKey.objects.get(name="alice laptop")
    alice_client.post(f"/keys/{key.pk}/revoke/")
    html = section(
        staff_client.get("/usage/").content.decode(), "Audit log: changes to keys and providers"
    )
    rows = re.findall(r"<tr><td><time.*?</tr>", html, re.S)
    assert len(rows) == 2
    texts = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)) for row in rows]
    assert "alice changed studio API key alice laptop" in texts[0]  # newest first
    assert "Revoked by its owner on the My keys page." in texts[0]
    assert "alice added studio API key alice laptop" in texts[1]
    assert "Created by its owner on the My keys page." in texts[1]


def test_the_period_select_shows_the_default_thirty_days(staff_client: Client) -> None:
    html = staff_client.get("/usage/").content.decode()
    assert '<option value="30" selected>last 30 days</option>' in html
