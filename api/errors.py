"""Errors on the studio API (kling-api.md §3.5): one exception, two wire shapes.

Every API error body is written here: by api_endpoint for the views, and by the project's
body-size middleware, which runs before any view and asks api_family which shape to use.
"""

from __future__ import annotations

import uuid

from django.http import JsonResponse
from django.urls import Resolver404, resolve

from videos.limits import LimitExceeded


class ApiError(Exception):
    """An error answered to an API client: HTTP status, Kling code, a message and the field."""

    def __init__(
        self,
        http_status: int,
        code: int,
        message: str,
        *,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.param = param
        self.headers = headers or {}


# A limit's kind (videos/limits.py) as the API answers it (kling-api.md §3.5).
LIMIT_ANSWERS = {
    "model": (403, 1103),
    "budget": (429, 1102),
    "project_budget": (429, 1102),
    "rate": (429, 1302),
    "concurrency": (429, 1303),
}


def limit_error(exc: LimitExceeded) -> ApiError:
    """The API's answer to a domain limit: the HTTP status and Kling code of its kind."""
    status, code = LIMIT_ANSWERS[exc.kind]
    return ApiError(status, code, exc.message, param=exc.field or None)


def bad_field(field: str, message: str) -> ApiError:
    """400/1201: an invalid parameter, the message names the field."""
    text = message if message.startswith(f"{field}:") else f"{field}: {message}"
    return ApiError(400, 1201, text, param=field)


# ---- the error bodies ------------------------------------------------------------------------
OPENAI_TYPES = {
    400: "invalid_request_error",
    413: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    429: "rate_limit_error",
}
OPENAI_CODES = {
    1000: "invalid_api_key",
    1001: "missing_api_key",
    1002: "invalid_api_key",
    1003: "invalid_api_key",
    1004: "expired_token",
    1102: "insufficient_quota",
    1103: "model_not_allowed",
    1200: "invalid_request",
    1201: "invalid_value",
    1202: "unknown_route",
    1203: "not_found",
    1302: "rate_limit_exceeded",
    1303: "too_many_running_tasks",
}


OPENAI_CODES_BY_STATUS = {413: "request_too_large"}


def new_request_id() -> str:
    return str(uuid.uuid4())


def api_family(path: str) -> str | None:
    """The API family ("kling", "generic", "openai") of the view serving path, or None.

    Read from the view (api_endpoint marks it), not guessed from a prefix:
    /v1/videos/text2video is a Kling route though it starts like OpenAI's /v1/videos.
    """
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return getattr(match.func, "api_family", None)


def error_response(family: str, error: ApiError, request_id: str) -> JsonResponse:
    """The error body in the family's shape: OpenAI's for "openai", Kling's for the others."""
    if family == "openai":
        return openai_error_response(error, request_id)
    return kling_error_response(error, request_id)


def kling_error_response(error: ApiError, request_id: str) -> JsonResponse:
    response = JsonResponse(
        {"code": error.code, "message": error.message, "request_id": request_id},
        status=error.http_status,
    )
    for name, value in error.headers.items():
        response[name] = value
    return response


def openai_error_response(error: ApiError, request_id: str) -> JsonResponse:
    body = {
        "error": {
            "message": error.message,
            "type": OPENAI_TYPES.get(error.http_status, "api_error"),
            "param": error.param,
            "code": OPENAI_CODES_BY_STATUS.get(error.http_status)
            or OPENAI_CODES.get(error.code, str(error.code)),
        }
    }
    response = JsonResponse(body, status=error.http_status)
    response["x-request-id"] = request_id
    for name, value in error.headers.items():
        response[name] = value
    return response
