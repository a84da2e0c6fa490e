"""Project-wide request guards."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers

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


def remembered_language(request: HttpRequest) -> str:
    """The signed-in user's chosen language code, or "" (then the browser decides).

    Kept in the session (studio.models copies it there at login, set_language when it
    changes), so a page costs no query for it; a session from before has it looked up once.
    """
    from .models import SESSION_LANGUAGE, UserPreference

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    if SESSION_LANGUAGE not in request.session:
        request.session[SESSION_LANGUAGE] = UserPreference.language_of(user)
    language = request.session[SESSION_LANGUAGE]
    return language if language in dict(settings.LANGUAGES) else ""


class LanguageMiddleware:
    """Django's LocaleMiddleware with the user's remembered choice first and the API in English.

    Order: the user's preference (studio.models.UserPreference), then the language cookie
    set_language writes, then Accept-Language, then LANGUAGE_CODE. The Kling-compatible,
    generic and OpenAI routes always answer in English: clients parse their messages, and
    the forms they share with the web UI (videos/forms.py) would otherwise follow the
    caller's Accept-Language.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        is_api = api_family(request.path_info) is not None
        if is_api:
            language = settings.LANGUAGE_CODE
        else:
            language = remembered_language(request) or translation.get_language_from_request(
                request
            )
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        if not is_api:
            # The same URL answers in different languages: caches must tell them apart.
            patch_vary_headers(response, ("Accept-Language", "Cookie"))
            response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response
