"""Project-wide request guards."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from api.errors import ApiError, api_family, error_response, new_request_id


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
            family = api_family(request.path)
            if family:  # an API route answers in its own family's error shape
                return error_response(family, ApiError(413, 1201, message), new_request_id())
            return HttpResponse(message, status=413, content_type="text/plain")
        return self.get_response(request)
