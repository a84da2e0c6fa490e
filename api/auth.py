"""Authenticating studio API calls (kling-api.md §3.4) and the errors every API family answers."""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

import jwt
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from videos.limits import LimitExceeded

from .errors import ApiError, error_response, limit_error, new_request_id
from .models import ApiKey, hash_secret, recent_keys
from .ratelimit import admit

JWT_LEEWAY_SECONDS = 10  # clock skew between the client and us
# The longest a JWT may still be valid when it arrives (exp - now); README "The studio API".
JWT_MAX_LIFETIME_SECONDS = 24 * 3600


# ---- who is calling --------------------------------------------------------------------------
def _looks_like_jwt(token: str) -> bool:
    # Our secrets are URL-safe Base64 without dots; a JWT is three dot-separated parts.
    return token.count(".") == 2 and token.startswith("eyJ")


def _unverified_claims(token: str) -> dict[str, Any]:
    """The JWT's claims before the signature is checked: iss says whose secret verifies it."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, IndexError) as exc:  # bad Base64, bad UTF-8 and bad JSON are ValueErrors
        raise ApiError(401, 1002, "Authorization: malformed JWT") from exc
    if not isinstance(claims, dict):
        raise ApiError(401, 1002, "Authorization: malformed JWT (the payload is not an object)")
    return claims


def _jwt_issuer(claims: dict[str, Any]) -> str:
    iss = claims.get("iss")
    if not isinstance(iss, str) or not iss:
        raise ApiError(401, 1002, "Authorization: the JWT has no iss (the key's access id)")
    # JSON may spell a lone surrogate ("\ud800") or a NUL, which no database query can
    # carry; an access id is short printable ASCII, so anything else names no key.
    if not (iss.isascii() and iss.isprintable() and len(iss) <= 64):
        raise ApiError(401, 1002, "Authorization: the JWT's iss is not an access id")
    return iss


def _check_expiry(claims: dict[str, Any]) -> None:
    """exp is required, a number, and at most JWT_MAX_LIFETIME_SECONDS ahead.

    Whoever holds a leaked JWT is the key's owner until exp. Kling's SDKs sign for 30
    minutes; a token signed to live for a century is refused rather than trusted.
    """
    exp = claims.get("exp")
    if exp is None:
        raise ApiError(401, 1002, "Authorization: the JWT has no exp (its expiry time)")
    # A float may be inf or nan (1e400, NaN); an int of any size compares exactly below.
    numeric = isinstance(exp, int | float) and not isinstance(exp, bool)
    if not numeric or (isinstance(exp, float) and not math.isfinite(exp)):
        raise ApiError(401, 1002, "Authorization: the JWT's exp must be seconds since 1970")
    if exp > time.time() + JWT_MAX_LIFETIME_SECONDS + JWT_LEEWAY_SECONDS:
        hours = JWT_MAX_LIFETIME_SECONDS // 3600
        raise ApiError(401, 1002, f"Authorization: the JWT's exp is more than {hours} hours ahead")


def _find_key(lookup: str, read_only: bool, **where: str) -> ApiKey | None:
    """The key matching `where`, from the few-second cache for read-only requests."""
    key = recent_keys.get(lookup) if read_only else None
    if key is None:
        key = ApiKey.objects.filter(**where).select_related("owner").order_by().first()
        if key is not None:
            recent_keys.put(lookup, key)
    return key


def _key_from_jwt(token: str, read_only: bool) -> ApiKey:
    claims = _unverified_claims(token)
    iss = _jwt_issuer(claims)
    _check_expiry(claims)
    key = _find_key(f"iss:{iss}", read_only, access_id=iss)
    if key is None:
        raise ApiError(401, 1002, "Authorization: unknown access id")
    try:
        jwt.decode(
            token,
            key.get_secret(),
            algorithms=["HS256"],
            leeway=JWT_LEEWAY_SECONDS,
            options={"require": ["iss", "exp"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError as exc:
        raise ApiError(401, 1004, "Authorization: the JWT has expired") from exc
    except jwt.ImmatureSignatureError as exc:
        raise ApiError(401, 1003, "Authorization: the JWT is not valid yet (nbf)") from exc
    except jwt.InvalidTokenError as exc:
        raise ApiError(401, 1002, f"Authorization: invalid JWT ({exc})") from exc
    return key


def authenticate(request: HttpRequest) -> ApiKey:
    """The key of a request (Bearer secret or Kling-style JWT), or an ApiError."""
    header = request.headers.get("Authorization", "").strip()
    if not header:
        raise ApiError(
            401, 1001, "Authorization header is missing: send 'Authorization: Bearer <key>'"
        )
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, 1002, "Authorization header is malformed: expected 'Bearer <key>'")
    read_only = request.method in ("GET", "HEAD")
    if _looks_like_jwt(token):
        key = _key_from_jwt(token, read_only)
    else:
        digest = hash_secret(token)
        key = _find_key(f"hash:{digest}", read_only, secret_hash=digest)
        if key is None:
            raise ApiError(401, 1002, "Authorization: unknown API key")
    if key.is_revoked:
        raise ApiError(401, 1000, "this API key has been revoked")
    if key.is_expired:
        raise ApiError(401, 1000, "this API key has expired")
    if not key.owner.is_active:
        raise ApiError(401, 1000, "the owner of this API key is inactive")
    return key


def check_rate(key: ApiKey, *, read: bool = False) -> None:
    """Count the request; over the key's requests per minute answers 429/1302."""
    if not admit(key, read=read):
        retry = 60 - int(time.time()) % 60
        raise ApiError(
            429,
            1302,
            f"too many requests: this key allows {key.requests_per_minute} per minute",
            headers={"Retry-After": str(retry)},
        )


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


# ---- the decorator every API view wears --------------------------------------------------------
View = Callable[..., HttpResponse]


def api_endpoint(family: str, *methods: str) -> Callable[[View], View]:
    """Key auth, rate limit, method check and the family's error shape for one API view.

    A wrong method answers 404/1202 as Kling does, not Django's 405. The view gets
    request.api_key and request.request_id; raising ApiError anywhere answers it.
    """

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            request.request_id = new_request_id()
            try:
                if request.method not in methods:
                    raise ApiError(
                        404, 1202, f"{request.method} is not supported on {request.path}"
                    )
                key = authenticate(request)
                check_rate(key, read=request.method in ("GET", "HEAD"))
                key.touch(client_ip(request))
                request.api_key = key
                return view(request, *args, **kwargs)
            except ApiError as error:
                return error_response(family, error, request.request_id)
            except LimitExceeded as exc:
                return error_response(family, limit_error(exc), request.request_id)

        wrapper.api_family = family  # how api.errors.api_family finds a route's error shape
        return csrf_exempt(login_not_required(wrapper))

    return decorate
