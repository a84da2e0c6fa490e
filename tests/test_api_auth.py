"""Key authentication on the studio API: Bearer secrets, Kling-style JWTs, and their errors."""

from __future__ import annotations

import base64
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from api import ratelimit
from api.auth import JWT_MAX_LIFETIME_SECONDS
from api.models import ApiKey, RecentKeys, RequestBucket
from api.ratelimit import flush_all
from tests.api_helpers import OMIT, bearer, hs256_jwt, issue, signed_jwt
from videos.models import Generation

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
    for claims in ({"exp": OMIT}, {"exp": OMIT, "nbf": OMIT}, {"exp": OMIT, "iat": 1}):
        token = hs256_jwt(key.access_id, secret, **claims)
        assert b'"exp"' not in base64.urlsafe_b64decode(token.split(".")[1] + "==")
        response = client.get(LIST, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert kling_error(response) == (401, 1002) and "exp" in response.json()["message"]


@pytest.mark.parametrize(
    "exp",
    ["{now}", "1e12", True, None, [1], {"at": 1}, "soon"],
    ids=["string-of-digits", "string-float", "true", "null", "list", "object", "word"],
)
def test_an_exp_that_is_not_a_number_is_refused(client: Client, key_and_secret, exp) -> None:
    key, secret = key_and_secret
    if exp == "{now}":
        exp = str(int(time.time()) + 600)
    token = hs256_jwt(key.access_id, secret, exp=exp)
    response = client.get(LIST, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert kling_error(response) == (401, 1002) and "exp" in response.json()["message"]


@pytest.mark.parametrize(
    "exp_in",
    [JWT_MAX_LIFETIME_SECONDS + 120, 365 * 86400, 100 * 365 * 86400, 10**30, 10**400],
    ids=["cap-and-2-minutes", "a-year", "a-century", "1e30", "1e400-as-an-integer"],
)
def test_a_jwt_living_longer_than_the_cap_is_refused(
    client: Client, key_and_secret, exp_in
) -> None:
    key, secret = key_and_secret
    token = hs256_jwt(key.access_id, secret, exp_in=exp_in)
    response = client.get(LIST, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert kling_error(response) == (401, 1002)
    assert "24 hours" in response.json()["message"]
    openai = client.get("/v1/videos", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert openai.status_code == 401 and openai.json()["error"]["code"] == "invalid_api_key"


def test_a_jwt_just_within_the_cap_works(client: Client, key_and_secret) -> None:
    key, secret = key_and_secret
    token = hs256_jwt(key.access_id, secret, exp_in=JWT_MAX_LIFETIME_SECONDS - 60)
    assert client.get(LIST, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


@pytest.mark.parametrize(
    "iss",
    [r"\ud800", r"\udfff", r"ak_\ud83e", r"ak_\u0000x", r"\u202eak_x"],  # JSON escapes
    ids=["lone-high-surrogate", "lone-low-surrogate", "half-an-emoji", "nul", "rtl-override"],
)
def test_a_jwt_whose_iss_is_not_text_is_401_1002(client: Client, key_and_secret, iss) -> None:
    key, secret = key_and_secret
    now = int(time.time())
    payload = f'{{"iss": "{iss}", "exp": {now + 600}, "nbf": {now - 5}}}'.encode()
    token = signed_jwt(payload, secret)
    bad = Client(raise_request_exception=False)
    response = bad.get(LIST, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert kling_error(response) == (401, 1002), response.content[:300]
    assert "iss" in response.json()["message"]
    create = bad.post(
        "/v1/videos", {"prompt": "a fox"}, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )  # fmt: skip
    assert create.status_code == 401 and create.json()["error"]["code"] == "invalid_api_key"
    assert not Generation.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [
        b'{"iss": "\xff\xfe", "exp": 1}',
        b"\xff\xfe\x00",
        b'{"iss": 12, "exp": 4102444800}',
        b'{"iss": ["ak_x"], "exp": 4102444800}',
        b'{"iss": {"id": "ak_x"}, "exp": 4102444800}',
        b'{"iss": true, "exp": 4102444800}',
        b'["ak_x"]',
        b'{"iss": "ISS", "exp": NaN}',
        b'{"iss": "ISS", "exp": 1e400}',
        b'{"iss": "ISS", "exp": 4102444800, "nbf": "yesterday"}',
    ],
    ids=[
        "latin1-bytes",
        "not-json",
        "number",
        "list",
        "object",
        "bool",
        "array",
        "nan-exp",
        "infinite-exp",
        "word-nbf",
    ],  # fmt: skip
)
def test_undecodable_or_non_text_claims_are_401_1002(
    client: Client, key_and_secret, payload
) -> None:
    key, secret = key_and_secret
    token = signed_jwt(payload.replace(b"ISS", key.access_id.encode()), secret)
    bad = Client(raise_request_exception=False)
    assert kling_error(bad.get(LIST, HTTP_AUTHORIZATION=f"Bearer {token}")) == (401, 1002)


def test_a_key_whose_owner_is_inactive_is_refused(client: Client, key_and_secret, user) -> None:
    key, secret = key_and_secret
    assert client.get(LIST, **bearer(secret)).status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)
    body = '{"prompt": "a lantern"}'
    for response in (
        client.post(LIST, data=body, content_type="application/json", **bearer(secret)),
        client.post(
            LIST, data=body, content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {hs256_jwt(key.access_id, secret)}",
        ),
    ):  # fmt: skip
        assert kling_error(response) == (401, 1000)
        assert "inactive" in response.json()["message"]
    assert not Generation.objects.exists()


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


def test_a_key_whose_owner_is_inactive_is_401_1000_for_bearer_and_jwt(
    client: Client, key_and_secret, user
) -> None:
    key, secret = key_and_secret
    user.is_active = False  # the account was disabled; its keys stop with it
    user.save(update_fields=["is_active"])
    token = hs256_jwt(key.access_id, secret)
    for headers in (bearer(secret), {"HTTP_AUTHORIZATION": f"Bearer {token}"}):
        response = client.get(LIST, **headers)
        assert kling_error(response) == (401, 1000) and "inactive" in response.json()["message"]
        body = '{"prompt": "from a disabled account"}'
        create = client.post(LIST, data=body, content_type="application/json", **headers)
        assert kling_error(create) == (401, 1000)
    assert not user.generations.exists()
    assert ApiKey.objects.get(pk=key.pk).last_used_at is None  # not even recorded as a use


def test_an_owner_disabled_elsewhere_cannot_create_even_with_a_cached_key(
    client: Client, key_and_secret, user
) -> None:
    _key, secret = key_and_secret
    assert client.get(LIST, **bearer(secret)).status_code == 200  # the key is now cached
    type(user).objects.filter(pk=user.pk).update(is_active=False)  # another process
    body = '{"prompt": "after the account was disabled"}'
    create = client.post(LIST, data=body, content_type="application/json", **bearer(secret))
    assert kling_error(create) == (401, 1000) and not user.generations.exists()


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
