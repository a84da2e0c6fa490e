"""Errors on the studio API (kling-api.md §3.5): one exception, two wire shapes."""

from __future__ import annotations

from django.http import JsonResponse


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


def bad_field(field: str, message: str) -> ApiError:
    """400/1201: an invalid parameter, the message names the field."""
    text = message if message.startswith(f"{field}:") else f"{field}: {message}"
    return ApiError(400, 1201, text, param=field)


# ---- the error bodies ------------------------------------------------------------------------
OPENAI_TYPES = {
    400: "invalid_request_error",
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
            "code": OPENAI_CODES.get(error.code, str(error.code)),
        }
    }
    response = JsonResponse(body, status=error.http_status)
    response["x-request-id"] = request_id
    for name, value in error.headers.items():
        response[name] = value
    return response
