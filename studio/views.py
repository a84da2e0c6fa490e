"""Answers of the project itself, outside any app: the favicon, the language switch."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.staticfiles import finders
from django.http import FileResponse, HttpRequest, HttpResponse
from django.views import i18n
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST, require_safe

from .models import SESSION_LANGUAGE, UserPreference


@login_not_required
@require_safe
@cache_control(max_age=7 * 24 * 3600, public=True)
def favicon(request: HttpRequest) -> FileResponse:
    """static/favicon.ico at /favicon.ico, where browsers ask whatever a page links."""
    icon = open(finders.find("favicon.ico"), "rb")  # closed by FileResponse when sent
    return FileResponse(icon, content_type="image/x-icon")


@login_not_required  # the login page has the switcher too
@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's set_language (cookie and redirect), and remembered for the signed-in user."""
    response = i18n.set_language(request)
    language = request.POST.get(i18n.LANGUAGE_QUERY_PARAMETER, "")
    if language in dict(settings.LANGUAGES) and request.user.is_authenticated:
        UserPreference.remember_language(request.user, language)
        request.session[SESSION_LANGUAGE] = language
    return response
