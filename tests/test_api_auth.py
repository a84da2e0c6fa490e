"""Key authentication on the studio API: Bearer secrets, Kling-style JWTs, and their errors."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.test import Client
from django.utils import timezone

from api import ratelimit
from api.models import ApiKey, RecentKeys, RequestBucket
from api.ratelimit import flush_all
from tests.api_helpers import bearer, hs256_jwt, issue

pytestmark = pytest.mark.django_db

LIST = "/kling/v1/videos/text2video"


def kling_error(response) -> tuple[int, int]:
    return response.status_code, response.json()["code"]


@pytest.fixture
def key_and_secret(user) -> tuple[ApiKey, str]:
    return issue(user)


def test_a_bearer_secret_works_and_records_last_use(client: Client, key_and_secret) -> None:
    key, secret = key_and_secret
    response = client.get(LIST, **bearer(secret), REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200 and response.json()["data"] == []
    key.refresh_from_db()
    assert key.last_used_ip == "203.0.113.9"
    assert timezone.now() - key.last_used_at < timedelta(seconds=5)


def test_a_kling_jwt_signed_by_hand_works(client: Client, key_and_secret) -> None:
    key, secret = key_and_secret
    token = hs256_jwt(key.access_id, secret)
    response = client.get(LIST, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200 and response.json()["code"] == 0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, (401, 1001)),
        ({"HTTP_AUTHORIZATION": ""}, (401, 1001)),
        ({"HTTP_AUTHORIZATION": "Bearer"}, (401, 1002)),
        ({"HTTP_AUTHORIZATION": "Basic dXNlcjpwYXNz"}, (401, 1002)),
        ({"HTTP_AUTHORIZATION": "Bearer sk_not-a-real-key"}, (401, 1002)),
        ({"HTTP_AUTHORIZATION": "Bearer eyJhbGciOi.garbage.sig"}, (401, 1002)),
    ],
)
def test_missing_or_bad_keys_are_refused(client: Client, key_and_secret, headers, expected) -> None:
    response = client.get(LIST, **headers)
    assert kling_error(response) == expected
    assert response.json()["message"] and response.json()["request_id"]


def test_an_expired_jwt_is_401_1004(client: Client, key_and_secret) -> None:
    key, secret = key_and_secret
    token = hs256_jwt(key.access_id, secret, exp_in=-60, nbf_in=-1800)
    assert kling_error(client.get(LIST, HTTP_AUTHORIZATION=f"Bearer {token}")) == (401, 1004)


def test_a_jwt_not_valid_yet_is_401_1003(client: Client, key_and_secret) -> None:
    key, secret = key_and_secret
    token = hs256_jwt(key.access_id, secret, nbf_in=600)
    assert kling_error(client.get(LIST, HTTP_AUTHORIZATION=f"Bearer {token}")) == (401, 1003)


def test_a_jwt_signed_with_another_secret_or_issuer_is_401_1002(
    client: Client, key_and_secret, other_user
) -> None:
    key, secret = key_and_secret
    _other, other_secret = issue(other_user)
    forged = hs256_jwt(key.access_id, other_secret)
    unknown = hs256_jwt("ak_nobody", secret)
    assert kling_error(client.get(LIST, HTTP_AUTHORIZATION=f"Bearer {forged}")) == (401, 1002)
    assert kling_error(client.get(LIST, HTTP_AUTHORIZATION=f"Bearer {unknown}")) == (401, 1002)


def test_a_jwt_without_expiry_is_refused(client: Client, key_and_secret) -> None:
    key, secret = key_and_secret
    token = hs256_jwt(key.access_id, secret, exp=None)
    assert kling_error(client.get(LIST, HTTP_AUTHORIZATION=f"Bearer {token}")) == (401, 1002)


def test_a_revoked_key_is_401_1000_for_bearer_and_jwt(client: Client, key_and_secret) -> None:
    key, secret = key_and_secret
    key.revoke()
    assert kling_error(client.get(LIST, **bearer(secret))) == (401, 1000)
    token = hs256_jwt(key.access_id, secret)
    response = client.get(LIST, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert kling_error(response) == (401, 1000) and "revoked" in response.json()["message"]


def test_an_expired_key_is_401_1000(client: Client, user) -> None:
    _key, secret = issue(user, expires_at=timezone.now() - timedelta(minutes=1))
    response = client.get(LIST, **bearer(secret))
    assert kling_error(response) == (401, 1000) and "expired" in response.json()["message"]


def test_a_rotated_secret_stops_the_old_one(client: Client, key_and_secret) -> None:
    key, old = key_and_secret
    new = key.rotate()
    assert kling_error(client.get(LIST, **bearer(old))) == (401, 1002)
    assert client.get(LIST, **bearer(new)).status_code == 200
    assert (
        client.get(LIST, HTTP_AUTHORIZATION=f"Bearer {hs256_jwt(key.access_id, new)}").status_code
        == 200
    )


def test_too_many_requests_is_429_1302_with_retry_after(client: Client, user) -> None:
    key, secret = issue(user, requests_per_minute=3)
    codes = [client.get(LIST, **bearer(secret)).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    response = client.get(LIST, **bearer(secret))
    assert kling_error(response) == (429, 1302)
    assert 1 <= int(response["Retry-After"]) <= 60
    assert sum(RequestBucket.objects.filter(key=key).values_list("count", flat=True)) == 4


def test_the_request_counter_is_per_key_and_per_minute(user) -> None:
    key, _secret = issue(user)
    other, _ = issue(user, "other")
    assert [RequestBucket.hit(key.access_id, minute=100) for _ in range(3)] == [1, 2, 3]
    assert RequestBucket.hit(key.access_id, minute=100, n=5) == 8
    assert RequestBucket.hit(key.access_id, minute=101) == 1
    assert RequestBucket.hit(other.access_id, minute=100) == 1
    assert (
        RequestBucket.hit("ak_deleted", minute=100) == 0
    )  # a key deleted meanwhile counts nothing


def test_requests_far_below_the_limit_are_written_in_batches(
    client: Client, key_and_secret
) -> None:
    key, secret = key_and_secret
    for _ in range(5):
        assert client.get(LIST, **bearer(secret)).status_code == 200
    written = sum(RequestBucket.objects.filter(key=key).values_list("count", flat=True))
    assert 1 <= written < 5  # the first request of a minute is written, the rest batched
    flush_all()
    assert sum(RequestBucket.objects.filter(key=key).values_list("count", flat=True)) == 5


def test_reads_from_a_block_at_the_turn_of_a_minute_are_still_written(user, monkeypatch) -> None:
    key, _secret = issue(user)  # 120 per minute: blocks of 7 reads
    clock = SimpleNamespace(time=lambda: 6000.0, monotonic=lambda: 50.0, sleep=None)
    monkeypatch.setattr(ratelimit, "time", clock)
    assert [ratelimit.admit(key, read=True) for _ in range(3)] == [True] * 3  # 2 from the block
    clock.time = lambda: 6060.5  # the next minute
    assert ratelimit.admit(key, read=True)
    rows = RequestBucket.objects.filter(key=key).values_list("minute", "count", "reserved")
    # The old minute's two reads from its block were written on the way, its rest released.
    assert sorted(rows) == [(100, 3, 0), (101, 1, 6)]
    ratelimit.flush_all()
    rows = RequestBucket.objects.filter(key=key).values_list("minute", "count", "reserved")
    assert sorted(rows) == [(100, 3, 0), (101, 1, 0)]


def test_near_the_limit_every_request_is_counted_at_once(client: Client, user) -> None:
    key, secret = issue(user, requests_per_minute=10)
    statuses = [client.get(LIST, **bearer(secret)).status_code for _ in range(12)]
    assert statuses == [200] * 10 + [429] * 2
    assert sum(RequestBucket.objects.filter(key=key).values_list("count", flat=True)) == 12


def test_openai_routes_answer_the_openai_error_shape(client: Client, key_and_secret) -> None:
    response = client.get("/v1/videos")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "authentication_error" and error["code"] == "missing_api_key"
    assert error["message"].startswith("Authorization header is missing") and error["param"] is None


def test_api_routes_need_no_session_and_no_csrf_token(key_and_secret) -> None:
    _key, secret = key_and_secret
    client = Client(enforce_csrf_checks=True)
    body = '{"prompt": "a lantern in the wind"}'
    response = client.post(LIST, data=body, content_type="application/json", **bearer(secret))
    assert response.status_code == 200 and response.json()["data"]["task_status"] == "submitted"


def test_a_revocation_elsewhere_stops_creates_at_once_and_reads_within_seconds(
    client: Client, key_and_secret, monkeypatch
) -> None:
    key, secret = key_and_secret
    assert client.get(LIST, **bearer(secret)).status_code == 200  # the key is now cached
    # Another process revokes it: this process's cache does not hear of it.
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    assert client.get(LIST, **bearer(secret)).status_code == 200  # a read within the window
    monkeypatch.setattr(RecentKeys, "SECONDS", 0.0)
    assert kling_error(client.get(LIST, **bearer(secret))) == (401, 1000)


def test_creates_always_read_the_key_afresh(client: Client, key_and_secret) -> None:
    key, secret = key_and_secret
    assert client.get(LIST, **bearer(secret)).status_code == 200  # the key is now cached
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())  # elsewhere
    body = '{"prompt": "after revocation"}'
    create = client.post(LIST, data=body, content_type="application/json", **bearer(secret))
    assert kling_error(create) == (401, 1000)
    assert kling_error(client.get(LIST, **bearer(secret))) == (401, 1000)  # and the cache learnt it
