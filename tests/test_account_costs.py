"""GET /account/costs on the studio API (kling-kinds.md §7.8, §9): the caller's key as one pack."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from api.openapi_spec import openapi_document
from tests.api_helpers import bearer, hs256_jwt, issue, post_json
from videos.models import Generation, Provider, ProviderBalance, Status

pytestmark = pytest.mark.django_db

COSTS = "/kling/account/costs"
WINDOW = {"start_time": "0", "end_time": str(int(timezone.now().timestamp() * 1000))}
T2V = "/kling/v1/videos/text2video"
PRO = {"model_name": "kling-v1", "prompt": "a red fox", "duration": "5", "mode": "pro"}


def _costs(client: Client, secret: str, path: str = COSTS, **params: str) -> dict:
    response = client.get(path, {**WINDOW, **params}, **bearer(secret))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["code"] == 0 and body["message"] == "SUCCEED" and body["request_id"]
    return body["data"]


def test_it_answers_the_keys_budget_as_one_pack(client: Client, user) -> None:
    key, secret = issue(user, "render-farm", unit_budget=Decimal("10.00"))
    data = _costs(client, secret)
    created_ms = int(key.created_at.timestamp() * 1000)
    assert data == {
        "code": 0,
        "msg": "SUCCEED",
        "resource_pack_subscribe_infos": [
            {
                "resource_pack_name": "render-farm",
                "resource_pack_id": str(key.pk),
                "resource_pack_type": "decreasing_total",
                "total_quantity": 10.0,
                "remaining_quantity": 10.0,
                "purchase_time": created_ms,
                "effective_time": created_ms,
                "invalid_time": 0,
                "status": "online",
            }
        ],
    }


def test_used_units_lower_remaining_pending_by_estimate_then_final(client: Client, user) -> None:
    _key, secret = issue(user, unit_budget=Decimal("10.00"))
    task_id = post_json(client, T2V, PRO, secret).json()["data"]["task_id"]
    (pack,) = _costs(client, secret)["resource_pack_subscribe_infos"]
    assert pack["remaining_quantity"] == 6.5  # kling-v1 pro: 3.5 units per 5 s, estimated
    Generation.objects.filter(pk=task_id).update(status=Status.SUCCEEDED, units=Decimal("2"))
    (pack,) = _costs(client, secret)["resource_pack_subscribe_infos"]
    assert pack["remaining_quantity"] == 8.0 and pack["status"] == "online"
    Generation.objects.filter(pk=task_id).update(status=Status.FAILED, units=None)
    assert _costs(client, secret)["resource_pack_subscribe_infos"][0]["remaining_quantity"] == 10


def test_a_spent_budget_reads_run_out(client: Client, user) -> None:
    _key, secret = issue(user, unit_budget=Decimal("3.50"))
    assert post_json(client, T2V, PRO, secret).status_code == 200
    (pack,) = _costs(client, secret)["resource_pack_subscribe_infos"]
    assert pack["remaining_quantity"] == 0.0 and pack["status"] == "runOut"


def test_the_same_route_answers_without_the_kling_prefix(client: Client, user) -> None:
    _key, secret = issue(user, unit_budget=Decimal("7"))
    assert _costs(client, secret, "/account/costs") == _costs(client, secret)


def test_a_key_expiring_later_says_when(client: Client, user) -> None:
    expires = timezone.now() + timedelta(days=30)
    _key, secret = issue(user, unit_budget=Decimal("7"), expires_at=expires)
    (pack,) = _costs(client, secret)["resource_pack_subscribe_infos"]
    assert pack["invalid_time"] == int(expires.timestamp() * 1000)


def test_a_key_without_a_budget_lists_no_pack(client: Client, user) -> None:
    _key, secret = issue(user)
    assert _costs(client, secret)["resource_pack_subscribe_infos"] == []


def test_each_key_sees_only_its_own_budget(client: Client, user, other_user) -> None:
    _mine, mine = issue(user, "mine", unit_budget=Decimal("5"))
    _second, second = issue(user, "second", unit_budget=Decimal("9"))
    _theirs, theirs = issue(other_user, "theirs", unit_budget=Decimal("3"))
    post_json(client, T2V, {**PRO, "mode": "std"}, mine)
    names = {
        secret: [
            (p["resource_pack_name"], p["remaining_quantity"])
            for p in _costs(client, secret)["resource_pack_subscribe_infos"]
        ]
        for secret in (mine, second, theirs)
    }
    assert names == {mine: [("mine", 4.0)], second: [("second", 9.0)], theirs: [("theirs", 3.0)]}


def test_the_upstream_balance_never_shows(client: Client, user) -> None:
    kling = Provider.objects.create(name="kling-main", kind=Provider.Kind.KLING)
    ProviderBalance.objects.create(
        provider=kling,
        refreshed_at=timezone.now(),
        packs=[{"name": "Upstream secret pack", "pack_id": "up-1", "pack_type": "x",
                "total": "5000", "remaining": "4000", "status": "online"}],
    )  # fmt: skip
    _key, secret = issue(user, unit_budget=Decimal("5"))
    response = client.get(COSTS, WINDOW, **bearer(secret))
    assert b"Upstream secret pack" not in response.content and b"4000" not in response.content


def test_it_filters_by_resource_pack_name(client: Client, user) -> None:
    _key, secret = issue(user, "farm", unit_budget=Decimal("5"))
    assert len(_costs(client, secret, resource_pack_name="farm")["resource_pack_subscribe_infos"])
    assert _costs(client, secret, resource_pack_name="other")["resource_pack_subscribe_infos"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"end_time": "1"}, "start_time"),
        ({"start_time": "1"}, "end_time"),
        ({"start_time": "soon", "end_time": "1"}, "start_time"),
        ({"start_time": "١٢", "end_time": "1"}, "start_time"),
        ({"start_time": "-1", "end_time": "1"}, "start_time"),
        ({"start_time": "5", "end_time": "1"}, "end_time"),
        ({"start_time": "1", "end_time": "9" * 40}, "end_time"),
    ],
)
def test_a_bad_window_is_400_1201_naming_the_field(
    client: Client, user, params: dict, field: str
) -> None:
    _key, secret = issue(user, unit_budget=Decimal("5"))
    response = client.get(COSTS, params, **bearer(secret))
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 1201 and field in body["message"]


def test_no_key_is_401_and_a_kling_jwt_works(client: Client, user) -> None:
    assert client.get(COSTS, WINDOW).json()["code"] == 1001
    key, secret = issue(user, "sdk", unit_budget=Decimal("5"))
    token = hs256_jwt(key.access_id, secret)
    response = client.get(COSTS, WINDOW, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert (
        response.json()["data"]["resource_pack_subscribe_infos"][0]["resource_pack_name"] == "sdk"
    )


def test_a_post_is_404_1202(client: Client, user) -> None:
    _key, secret = issue(user)
    response = post_json(client, COSTS, {}, secret)
    assert response.status_code == 404 and response.json()["code"] == 1202


def test_the_openapi_document_describes_both_routes() -> None:
    paths = openapi_document("http://studio.invalid")["paths"]
    for path in ("/account/costs", "/kling/account/costs"):
        operation = paths[path]["get"]
        required = {p["name"] for p in operation["parameters"] if p.get("required")}
        assert required == {"start_time", "end_time"}
        assert "400" in operation["responses"] and "401" in operation["responses"]


def test_the_api_docs_page_shows_how_to_ask(alice_client: Client) -> None:
    html = alice_client.get("/api/").content.decode()
    assert 'id="account-costs"' in html
    assert "http://testserver/kling/account/costs?start_time=0&amp;end_time=" in html
