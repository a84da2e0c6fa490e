"""The API docs page (curl examples with this studio's base URL) and the OpenAPI description."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern

from api import urls as api_urls
from tests.api_helpers import issue

pytestmark = pytest.mark.django_db


def test_the_docs_show_curl_examples_with_the_base_url(alice_client: Client) -> None:
    html = alice_client.get("/api/").content.decode()
    assert "curl -X POST http://testserver/kling/v1/videos/text2video" in html
    assert "http://testserver/v1/video/generations" in html
    assert 'OpenAI(base_url="http://testserver/v1"' in html
    assert '"camera_control": {"type": "zoom", "config": {"value": -5}}' in html
    assert "Create a key" in html  # alice has no key yet


def test_the_docs_use_the_public_url_and_name_my_key(alice_client: Client, user, settings) -> None:
    settings.STUDIO_PUBLIC_URL = "https://studio.example.org"
    key, secret = issue(user, "laptop")
    html = alice_client.get("/api/").content.decode()
    assert "curl -X POST https://studio.example.org/kling/v1/videos/text2video" in html
    assert key.prefix in html and "laptop" in html and secret not in html


def test_the_docs_need_a_login_and_appear_in_the_navigation(alice_client: Client) -> None:
    response = Client().get("/api/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    nav = alice_client.get("/keys/").content.decode()
    assert 'href="/api/"' in nav and 'href="/keys/"' in nav


def test_the_openapi_document_describes_every_api_route(client: Client) -> None:
    response = client.get("/api/openapi.json")  # public: tools fetch it without a session
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1") and document["servers"] == [
        {"url": "http://testserver"}
    ]
    paths = set(document["paths"])
    for pattern in api_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        route = str(pattern.pattern)
        if not route.startswith(("kling/", "v1/")):
            continue  # web pages
        for kind in ("text2video", "image2video"):
            path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route.replace("<kind:kind>", kind))
            assert path in paths, path
    create = document["paths"]["/kling/v1/videos/text2video"]["post"]
    assert set(create["responses"]) == {"200", "400", "401", "403", "404", "429"}
    assert "camera_control" in document["components"]["schemas"]["KlingCreate"]["properties"]
