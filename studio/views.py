"""Answers of the project itself, outside any app: the favicon at the site root."""

from django.contrib.auth.decorators import login_not_required
from django.contrib.staticfiles import finders
from django.http import FileResponse, HttpRequest
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe


@login_not_required
@require_safe
@cache_control(max_age=7 * 24 * 3600, public=True)
def favicon(request: HttpRequest) -> FileResponse:
    """static/favicon.ico at /favicon.ico, where browsers ask whatever a page links."""
    icon = open(finders.find("favicon.ico"), "rb")  # closed by FileResponse when sent
    return FileResponse(icon, content_type="image/x-icon")
