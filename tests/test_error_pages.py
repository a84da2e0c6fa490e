"""Error pages a lost user can act on (400, 403, 404, 500) and the favicon every page asks for."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client, RequestFactory
from django.views.defaults import server_error

pytestmark = pytest.mark.django_db
STYLED = '<link rel="stylesheet" href="/static/css/studio.css">'


def test_an_unknown_page_is_a_styled_404_with_ways_back(alice_client: Client) -> None:
    response = alice_client.get("/generations/not-a-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "<title>Page not found · Studio</title>" in html and STYLED in html
    assert "/generations/not-a-page/" in html  # says which address was wrong
    assert 'href="/history/">' in html and 'href="/">' in html
    assert 'href="/keys/">My keys</a>' in html  # the usual header: the user is signed in


def test_a_missing_generation_is_the_same_404(alice_client: Client) -> None:
    response = alice_client.get("/generations/987654/")
    assert response.status_code == 404 and "<title>Page not found · Studio</title>" in (
        response.content.decode()
    )


def test_a_forbidden_page_is_a_styled_403_that_says_why(alice_client: Client) -> None:
    response = alice_client.get("/usage/")
    html = response.content.decode()
    assert response.status_code == 403
    assert "<title>Not allowed · Studio</title>" in html and STYLED in html
    assert "The usage page is for admins." in html
    assert 'href="/">' in html


def test_a_bad_request_is_a_styled_400(client: Client) -> None:
    response = client.get("/login/", HTTP_HOST="not-this-studio.example")  # DisallowedHost
    html = response.content.decode()
    assert response.status_code == 400
    assert "<title>Bad request · Studio</title>" in html and STYLED in html


def test_a_server_error_is_a_styled_500_that_needs_nothing_from_the_request() -> None:
    # Django renders 500.html without the request (the error may be in the middleware or
    # the database), so the page must render from an empty context.
    response = server_error(RequestFactory().get("/anything/"))
    html = response.content.decode()
    assert response.status_code == 500
    assert "<title>Server error · Studio</title>" in html and STYLED in html
    assert "try again" in html.lower()


def test_the_favicon_is_a_real_icon_for_everyone(client: Client) -> None:
    response = client.get("/favicon.ico")
    icon = b"".join(response.streaming_content)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert icon[:4] == b"\x00\x00\x01\x00" and int.from_bytes(icon[4:6], "little") >= 2
    assert "max-age=" in response["Cache-Control"]
    svg = client.get("/static/favicon.svg")
    assert svg.status_code == 200 and svg["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in b"".join(svg.streaming_content)


def test_every_page_links_the_favicon(alice_client: Client, user: User) -> None:
    html = alice_client.get("/").content.decode()
    assert re.search(r'<link rel="icon" href="/static/favicon.svg" type="image/svg\+xml">', html)
    assert '<link rel="icon" href="/favicon.ico" sizes="32x32">' in html
