"""The API docs page (curl examples with this studio's base URL) and the OpenAPI description."""

from __future__ import annotations

import json
import re

import jsonschema_rs  # installed with schemathesis (dev dependencies)
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
    assert set(create["responses"]) == {"200", "400", "401", "403", "404", "413", "429"}
    assert "camera_control" in document["components"]["schemas"]["KlingText2Video"]["properties"]


URL = "https://example.org/a.jpg"


@pytest.mark.parametrize(
    ("route", "name", "body", "valid"),
    [
        ("/kling/v1/videos/text2video", "KlingText2Video", {}, False),
        ("/kling/v1/videos/text2video", "KlingText2Video", {"prompt": ""}, False),
        ("/kling/v1/videos/text2video", "KlingText2Video", {"prompt": "a kite"}, True),
        (
            "/kling/v1/videos/text2video",
            "KlingText2Video",
            {"prompt": "a", "cfg_scale": True},
            False,
        ),
        ("/kling/v1/videos/image2video", "KlingImage2Video", {}, False),
        ("/kling/v1/videos/image2video", "KlingImage2Video", {"prompt": "a kite"}, False),
        ("/kling/v1/videos/image2video", "KlingImage2Video", {"image": URL}, True),
        ("/kling/v1/videos/image2video", "KlingImage2Video", {"image_tail": URL}, True),
        ("/v1/video/generations", "GenericCreate", {}, False),
        ("/v1/video/generations", "GenericCreate", {"prompt": ""}, False),
        ("/v1/video/generations", "GenericCreate", {"prompt": {"a": [1]}}, False),
        ("/v1/video/generations", "GenericCreate", {"prompt": "a kite"}, True),
        ("/v1/video/generations", "GenericCreate", {"image": URL}, True),
        ("/v1/videos", "VideoCreate", {}, False),
        ("/v1/videos", "VideoCreate", {"prompt": ""}, False),
        ("/v1/videos", "VideoCreate", {"prompt": 12345}, False),
        ("/v1/videos", "VideoCreate", {"prompt": "a kite"}, True),
    ],
)
def test_the_published_body_schemas_require_what_the_server_requires(
    client: Client, user, route: str, name: str, body: dict, valid: bool
) -> None:
    document = client.get("/api/openapi.json").json()
    validator = jsonschema_rs.validator_for(document["components"]["schemas"][name])
    assert validator.is_valid(body) is valid
    _key, secret = issue(user)
    response = client.post(
        route, json.dumps(body), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )  # fmt: skip
    assert response.status_code == (200 if valid else 400), response.content[:300]
    create = document["paths"][route]["post"]["requestBody"]
    assert create["required"] is True
    assert create["content"]["application/json"]["schema"]["$ref"].endswith(f"/{name}")
