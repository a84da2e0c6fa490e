"""One writer of API error bodies: each route answers its own family's shape, the 413 included.

The body-size guard runs before any view, so it once guessed the family from the path's
prefix and gave the unprefixed Kling route (/v1/videos/text2video) an OpenAI-shaped 413.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from api.errors import api_family

pytestmark = pytest.mark.django_db

OVER = str(settings.STUDIO_MAX_REQUEST_BYTES + 1)

# (method, path, family)
ROUTES = [
    ("POST", "/kling/v1/videos/text2video", "kling"),
    ("POST", "/kling/v1/videos/image2video", "kling"),
    ("POST", "/v1/videos/text2video", "kling"),
    ("POST", "/v1/videos/image2video", "kling"),
    ("GET", "/v1/videos/text2video/12", "kling"),
    ("POST", "/v1/video/generations", "generic"),
    ("GET", "/v1/video/generations/12", "generic"),
    ("POST", "/v1/videos", "openai"),
    ("DELETE", "/v1/videos/12", "openai"),
    ("GET", "/v1/videos/12/content", "openai"),
]


def _shape(response: Any) -> str:
    body = response.json()
    if set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}:
        assert response["x-request-id"]
        return "openai"
    assert set(body) == {"code", "message", "request_id"} and body["request_id"], body
    return "kling"


@pytest.mark.parametrize(("method", "path", "family"), ROUTES)
def test_an_oversized_body_is_answered_in_the_routes_own_error_shape(
    method: str, path: str, family: str
) -> None:
    client = Client(raise_request_exception=False)
    too_big = client.generic(
        method, path, b"{}", content_type="application/json", CONTENT_LENGTH=OVER
    )
    assert too_big.status_code == 413
    no_key = client.generic(method, path, b"{}", content_type="application/json")
    assert no_key.status_code == 401
    # The same family as the route's own errors (generic routes speak Kling's shape).
    assert _shape(too_big) == _shape(no_key) == ("openai" if family == "openai" else "kling")
    if family == "openai":
        error = too_big.json()["error"]
        assert error["code"] == "request_too_large" and error["type"] == "invalid_request_error"
    else:
        assert too_big.json()["code"] == 1201
    assert "the limit is" in too_big.content.decode()


@pytest.mark.parametrize(("method", "path", "family"), ROUTES)
def test_the_family_is_read_from_the_route(method: str, path: str, family: str) -> None:
    assert api_family(path) == family


@pytest.mark.parametrize("path", ["/history/", "/generations/new/", "/v1/nothing-here", "/api/"])
def test_pages_and_unknown_paths_are_not_api_routes(path: str, alice_client: Client) -> None:
    assert api_family(path) is None
    response = alice_client.generic("POST", path, b"x", CONTENT_LENGTH=OVER)
    assert response.status_code == 413 and response["Content-Type"].startswith("text/plain")
