"""URLs with a user name or password: refused where they come in, never repeated in a message.

A frame URL ends up in status messages and parameter lists the whole team sees, and a
callback URL in the delivery log: http://user:pass@host/ would show the password to all.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client

from tests.api_helpers import issue
from tests.images import image_bytes
from videos.inputs import InputFetchError, ensure_input_stored
from videos.models import Generation
from videos.providers.fetch import FetchError, open_url, without_credentials

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-pw"
USER = "alice-login"
CREDENTIALS = [
    f"http://{USER}:{SECRET}@example.com/a.jpg",
    f"https://{USER}@example.com/a.jpg",
    f"https://:{SECRET}@example.com/a.jpg",
    f"{USER}:{SECRET}@example.com/a.jpg",  # no scheme
    f"https://{USER}:{SECRET}@example.com:8443/a.jpg?x=1",
]
FRAME = base64.b64encode(image_bytes(640, 360)).decode()


def _leaks(text: str) -> bool:
    return SECRET in text or USER in text


@pytest.fixture
def secret(user: Any) -> str:
    return issue(user, requests_per_minute=100_000)[1]


# ---- refused where they come in ------------------------------------------------------------
@pytest.mark.parametrize("url", CREDENTIALS)
@pytest.mark.parametrize("field", ["image_url", "image_tail_url"])
def test_the_web_form_refuses_a_frame_url_with_credentials(
    alice_client: Client, field: str, url: str
) -> None:
    data = {"kind": "image2video", "model_name": "kling-v1", "duration": "5", field: url}
    response = alice_client.post("/generations/new/", data)
    html = response.content.decode()
    assert response.status_code == 200 and f'id="field-{field}"' in html
    # Every message on the page (the input itself keeps what the user typed, for them alone).
    alerts = re.findall(r'role="alert"[^>]*>(.*?)</', html, re.DOTALL)
    start = html.index(f'id="field-{field}"')
    # Without a scheme Django reads "user:" as one, and refuses it as not a URL at all.
    expected = "user name or password" if "://" in url else "Enter a valid URL."
    assert expected in html[start : html.index("</div>", start)]
    assert alerts and not any(_leaks(text) for text in alerts), alerts
    assert not Generation.objects.exists()


API_FIELDS = [
    ("/kling/v1/videos/image2video", lambda url: {"image": url}, "image"),
    ("/kling/v1/videos/image2video", lambda url: {"image_tail": url}, "image_tail"),
    ("/v1/video/generations", lambda url: {"prompt": "a kite", "image": url}, "image"),
    (
        "/v1/videos",
        lambda url: {"prompt": "a kite", "input_reference": {"image_url": url}},
        "input_reference",
    ),
    ("/v1/videos", lambda url: {"prompt": "a kite", "input_reference": url}, "input_reference"),
    (
        "/kling/v1/videos/text2video",
        lambda url: {"prompt": "a", "callback_url": url},
        "callback_url",
    ),
    ("/v1/video/generations", lambda url: {"prompt": "a", "callback_url": url}, "callback_url"),
]


@pytest.mark.parametrize("url", [u for u in CREDENTIALS if u.startswith("http")])
@pytest.mark.parametrize(("route", "make", "name"), API_FIELDS)
def test_the_api_refuses_urls_with_credentials_by_field(
    route: str, make: Any, name: str, url: str, secret: str
) -> None:
    response = Client().post(
        route, json.dumps(make(url)), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )  # fmt: skip
    assert response.status_code == 400, response.content[:300]
    text = response.content.decode()
    assert "user name or password" in text and not _leaks(text)
    body = response.json()
    if route == "/v1/videos":
        assert body["error"]["param"] == name
    else:
        assert body["message"].startswith(f"{name}: ")
    assert not Generation.objects.exists()


def test_a_url_without_credentials_is_still_accepted(secret: str) -> None:
    body = {"image": "https://example.com/a@b.jpg?who=me@example.com"}  # @ after the host
    response = Client().post(
        "/kling/v1/videos/image2video", json.dumps(body), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )  # fmt: skip
    assert response.status_code == 200, response.content[:300]


# ---- never repeated in a message -----------------------------------------------------------
@pytest.fixture
def server() -> Iterator[str]:
    """A local server: /missing is 404, /page is HTML, /big is too large, /bad is not an image."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            status, ctype, body = {
                "/missing": (404, "text/plain", b"no"),
                "/page": (200, "text/html", b"<p>hi</p>"),
                "/big": (200, "image/png", b"x" * 4096),
                "/bad": (200, "image/png", b"not a png at all"),
            }.get(self.path, (500, "text/plain", b""))
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://{USER}:{SECRET}@127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("path", ["/missing", "/page", "/big", "closed"])
def test_fetch_errors_never_repeat_the_credentials(server: str, path: str, settings: Any) -> None:
    settings.STUDIO_ALLOW_LOOPBACK_URLS = True
    url = (
        f"http://{USER}:{SECRET}@127.0.0.1:{_closed_port()}/a"
        if path == "closed"
        else server + path
    )
    with pytest.raises(FetchError) as caught:
        with open_url(url, max_bytes=1000, allowed_types=("image/png",)) as chunks:
            for _chunk in chunks:
                pass
    message = str(caught.value)
    assert "127.0.0.1" in message and not _leaks(message), message


@pytest.mark.parametrize("path", ["/missing", "/bad"])
def test_a_frame_fetched_for_a_stored_url_never_repeats_the_credentials(
    server: str, path: str, settings: Any, make_generation: Any
) -> None:
    settings.STUDIO_ALLOW_LOOPBACK_URLS = True
    # A row written before credentials were refused at create.
    generation = make_generation(kind="image2video", prompt="", image_url=server + path)
    with pytest.raises(InputFetchError) as caught:
        ensure_input_stored(generation, "image")
    message = str(caught.value)
    assert "first frame" in message and "127.0.0.1" in message and not _leaks(message), message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://u:p@host/a?b=c", "http://host/a?b=c"),
        ("https://u@host:8443/a", "https://host:8443/a"),
        ("https://host/a@b", "https://host/a@b"),
        ("not a url", "not a url"),
    ],
)
def test_without_credentials_keeps_everything_but_the_user_and_password(
    url: str, shown: str
) -> None:
    assert without_credentials(url) == shown
