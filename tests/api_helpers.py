"""Helpers for the studio API tests: keys, auth headers, seed bodies, a hand-rolled JWT."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

from api.models import ApiKey

SEEDS = Path(__file__).parent / "fixtures" / "seed_requests"


def issue(owner: Any, name: str = "script", **fields: Any) -> tuple[ApiKey, str]:
    return ApiKey.issue(owner, name, **fields)


def bearer(secret: str) -> dict[str, str]:
    """Headers for django.test.Client: Authorization: Bearer <secret>."""
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def seed(name: str) -> dict[str, Any]:
    return json.loads((SEEDS / name).read_text())


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


OMIT = object()  # a claim value meaning "leave this claim out"


def hs256_jwt(
    access_id: Any, secret: str, *, exp_in: int = 1800, nbf_in: int = -5, **claims: Any
) -> str:
    """A Kling-style JWT built by hand (HMAC-SHA256), independent of PyJWT.

    A claim given as OMIT is left out of the payload (iss, exp and nbf included).
    """
    now = int(time.time())
    every = {"iss": access_id, "exp": now + exp_in, "nbf": now + nbf_in, **claims}
    payload = json.dumps({name: value for name, value in every.items() if value is not OMIT})
    return signed_jwt(payload.encode(), secret)


def signed_jwt(payload: bytes, secret: str) -> str:
    """A JWT of any payload bytes (even invalid JSON or UTF-8), signed with HS256."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signing_input = f"{header}.{_b64url(payload)}".encode()
    signature = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{_b64url(payload)}.{_b64url(signature)}"


def post_json(client: Any, path: str, body: Any, secret: str | None = None, **headers: Any) -> Any:
    if secret:
        headers.update(bearer(secret))
    return client.post(path, data=json.dumps(body), content_type="application/json", **headers)
