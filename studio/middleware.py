"""Project-wide request guards."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

API_PREFIXES = ("/v1/", "/kling/")


class RequestSizeLimitMiddleware:
    """Refuse bodies over STUDIO_MAX_REQUEST_BYTES before anything reads them.

    Django's DATA_UPLOAD_MAX_MEMORY_SIZE does not count uploaded file parts, so a
    multipart body could otherwise be of any size.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.STUDIO_MAX_REQUEST_BYTES
        if length > limit:
            message = f"request body is {length} bytes; the limit is {limit}"
            if request.path.startswith(API_PREFIXES):
                body = {"code": 1201, "message": message, "request_id": ""}
                if request.path.startswith("/v1/videos"):
                    body = {
                        "error": {
                            "message": message,
                            "type": "invalid_request_error",
                            "param": None,
                            "code": "request_too_large",
                        }
                    }
                return HttpResponse(json.dumps(body), status=413, content_type="application/json")
            return HttpResponse(message, status=413, content_type="text/plain")
        return self.get_response(request)
