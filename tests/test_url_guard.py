"""The address guard on URLs the studio fetches or calls: redirects, DNS rebinding, IPv6 forms.

Real HTTP servers on 127.0.0.x stand in for the internet. 127.0.0.2 plays a public host:
the guard's rule is wrapped to let exactly that address through, while every other
address is judged by the real rule with STUDIO_ALLOW_LOOPBACK_URLS off.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from api.forms import validate_callback_url
from api.models import CallbackDelivery
from api.tasks import deliver_callback
from tests.api_helpers import issue, post_json
from videos.models import Generation
from videos.providers import fetch
from videos.providers.fetch import FetchError, address_allowed, guarded_client, open_url

PUBLIC_STAND_IN = "127.0.0.2"
PUBLIC_IP = "93.184.216.34"  # a public address; never connected to (no internet here)
REAL_GETADDRINFO = socket.getaddrinfo
T2V = "/kling/v1/videos/text2video"


@dataclass
class Server:
    """A tiny HTTP server that records the paths it was asked for."""

    host: str
    redirects: dict[str, str] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)
    port: int = 0

    def url(self, path: str = "/", host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"


def _serve(server: Server, family: int = socket.AF_INET) -> Iterator[Server]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            server.hits.append(self.path)
            target = server.redirects.get(self.path)
            if target:
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = b"secret from " + server.host.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            pass

    class Httpd(ThreadingHTTPServer):
        address_family = family

    httpd = Httpd((server.host, 0), Handler)
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def public() -> Iterator[Server]:
    """The "public" server (127.0.0.2, let through by the wrapped rule)."""
    yield from _serve(Server(PUBLIC_STAND_IN))


@pytest.fixture
def inside() -> Iterator[Server]:
    """A service on loopback that must never be reached when loopback is not allowed."""
    yield from _serve(Server("127.0.0.1"))


@pytest.fixture
def inside_v6() -> Iterator[Server]:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    try:
        yield from _serve(Server("::1"), socket.AF_INET6)
    except OSError:
        pytest.skip("cannot bind ::1 here")


@pytest.fixture
def guarded(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback refused, except the stand-in for a public host."""
    settings.STUDIO_ALLOW_LOOPBACK_URLS = False
    monkeypatch.setattr(
        fetch,
        "address_allowed",
        lambda ip, allow_loopback=None: (
            ip == PUBLIC_STAND_IN or address_allowed(ip, allow_loopback)
        ),
    )


class Resolver:
    """socket.getaddrinfo with scripted answers per host name: one answer per call."""

    def __init__(self) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.calls: list[str] = []

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in self.answers:
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        self.calls.append(name)
        queue = self.answers[name]
        ips = queue.pop(0) if len(queue) > 1 else queue[0]
        infos = []
        number = int(port or 0)
        for ip in ips:
            if ":" in ip:
                infos.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, number, 0, 0)))
            else:
                infos.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, number)))
        return infos


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Resolver:
    fake = Resolver()
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


def fetch_text(url: str) -> str:
    with open_url(url, max_bytes=10_000) as chunks:
        return b"".join(chunks).decode()


# ---- redirects ----------------------------------------------------------------------------------
def test_it_follows_a_redirect_between_allowed_hosts(guarded: None, public: Server) -> None:
    public.redirects["/start"] = public.url("/landed")
    assert fetch_text(public.url("/start")) == "secret from 127.0.0.2"
    assert public.hits == ["/start", "/landed"]


def test_it_refuses_a_redirect_to_loopback(guarded: None, public: Server, inside: Server) -> None:
    public.redirects["/start"] = inside.url("/admin")
    with pytest.raises(FetchError, match="private or loopback address; refused"):
        fetch_text(public.url("/start"))
    assert public.hits == ["/start"] and inside.hits == []


def test_it_refuses_a_redirect_to_localhost_by_name(
    guarded: None, public: Server, inside: Server
) -> None:
    public.redirects["/start"] = inside.url("/admin", host="localhost")
    with pytest.raises(FetchError, match="refused"):
        fetch_text(public.url("/start"))
    assert public.hits == ["/start"] and inside.hits == []


@pytest.mark.parametrize(
    "target",
    [
        "http://10.0.0.1/internal",
        "http://192.168.1.1/router",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud metadata (shared space)
        "http://[fd00:ec2::254]/latest/meta-data/",  # AWS metadata over IPv6
        "http://0.0.0.0/",
    ],
)
def test_it_refuses_a_redirect_to_a_private_or_metadata_address(
    guarded: None, public: Server, target: str
) -> None:
    public.redirects["/start"] = target
    with pytest.raises(FetchError, match="refused"):
        fetch_text(public.url("/start"))
    assert public.hits == ["/start"]


def test_it_refuses_a_redirect_to_a_name_that_resolves_to_metadata(
    guarded: None, public: Server, resolver: Resolver
) -> None:
    resolver.answers["metadata.attacker.test"] = [["169.254.169.254"]]
    public.redirects["/start"] = "http://metadata.attacker.test/latest/"
    with pytest.raises(FetchError, match="metadata.attacker.test resolves to a private"):
        fetch_text(public.url("/start"))
    assert resolver.calls == ["metadata.attacker.test"]


# ---- DNS answers that change between the check and the use --------------------------------------
def test_it_refuses_a_name_whose_answer_turns_to_loopback_after_the_check(
    guarded: None, inside: Server, resolver: Resolver
) -> None:
    resolver.answers["rebind.attacker.test"] = [[PUBLIC_IP], ["127.0.0.1"]]
    url = inside.url("/admin", host="rebind.attacker.test")
    assert validate_callback_url(url) == url  # the first lookup sees a public address
    with pytest.raises(FetchError, match="refused"):
        fetch_text(url)  # the connection's own lookup sees 127.0.0.1
    assert resolver.calls == ["rebind.attacker.test", "rebind.attacker.test"]
    assert inside.hits == []


def test_a_client_callback_is_not_posted_to_a_name_that_rebinds(
    guarded: None, inside: Server, resolver: Resolver, make_generation: Any
) -> None:
    # First answer for the re-check in deliver_callback, second for the connection.
    resolver.answers["hook.attacker.test"] = [[PUBLIC_IP], ["127.0.0.1"]]
    generation = make_generation(client_callback_url=inside.url("/hook", host="hook.attacker.test"))
    Generation.objects.filter(pk=generation.pk).update(status="failed")
    deliver_callback(generation.pk, "failed")
    delivery = CallbackDelivery.objects.get(generation=generation)
    assert not delivery.ok and delivery.http_status is None and "refused" in delivery.error
    assert inside.hits == []


def test_the_guarded_client_checks_every_connection_not_the_first_only(
    guarded: None, public: Server, inside: Server, resolver: Resolver
) -> None:
    resolver.answers["flip.attacker.test"] = [[PUBLIC_STAND_IN], ["127.0.0.1"]]
    with guarded_client(timeout=5) as client:
        url = f"http://flip.attacker.test:{public.port}/one"
        assert client.get(url).text == "secret from 127.0.0.2"
        # A new connection (the old one closed) must be judged again.
        client.close()
    with guarded_client(timeout=5) as client, pytest.raises(Exception, match="refused"):
        client.get(f"http://flip.attacker.test:{inside.port}/two")
    assert inside.hits == []


# ---- IPv6 and mixed forms -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "ip",
    [
        "::1",  # loopback
        "fd00::1",  # unique local (ULA)
        "fc00::1",
        "fe80::1",  # link-local
        "fec0::1",  # deprecated site-local
        "::",  # unspecified
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:10.0.0.1",  # IPv4-mapped private
        "::ffff:169.254.169.254",  # IPv4-mapped metadata
        "::127.0.0.1",  # IPv4-compatible (deprecated)
        "64:ff9b::a9fe:a9fe",  # NAT64 of the metadata address
        "2002:7f00:1::1",  # 6to4 wrapping 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 wrapping 169.254.169.254
        "fd00:ec2::254",  # AWS metadata over IPv6
        "ff02::1",  # multicast
        "127.0.0.1",
        "127.9.9.9",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",  # shared address space (carrier NAT)
        "100.100.100.200",  # Alibaba Cloud metadata
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
    ],
)
def test_it_refuses_every_non_public_address_form(settings: Any, ip: str) -> None:
    settings.STUDIO_ALLOW_LOOPBACK_URLS = False
    assert address_allowed(ip) is False


@pytest.mark.parametrize("ip", ["8.8.8.8", "93.184.216.34", "2606:4700::1111", "2a00:1450::1"])
def test_it_allows_public_addresses(settings: Any, ip: str) -> None:
    settings.STUDIO_ALLOW_LOOPBACK_URLS = False
    assert address_allowed(ip) is True


@pytest.mark.parametrize("answer", [["::1"], ["::ffff:127.0.0.1"], ["fd12:3456::1"], ["fe80::1"]])
def test_it_refuses_a_name_resolving_to_ipv6_non_public_addresses(
    guarded: None, inside: Server, resolver: Resolver, answer: list[str]
) -> None:
    resolver.answers["v6.attacker.test"] = [answer]
    with pytest.raises(FetchError, match="refused"):
        fetch_text(inside.url("/", host="v6.attacker.test"))
    assert inside.hits == []


def test_it_refuses_a_literal_ipv6_loopback_url(guarded: None, inside_v6: Server) -> None:
    with pytest.raises(FetchError, match="refused"):
        fetch_text(inside_v6.url("/", host="[::1]"))
    assert inside_v6.hits == []


def test_it_refuses_a_literal_ipv4_mapped_url(guarded: None, inside: Server) -> None:
    with pytest.raises(FetchError, match="refused"):
        fetch_text(inside.url("/", host="[::ffff:127.0.0.1]"))
    assert inside.hits == []


# ---- the development setting --------------------------------------------------------------------
def test_loopback_works_when_the_development_setting_allows_it(
    settings: Any, inside: Server
) -> None:
    settings.STUDIO_ALLOW_LOOPBACK_URLS = True
    assert fetch_text(inside.url("/ok")) == "secret from 127.0.0.1"
    assert fetch_text(inside.url("/ok", host="localhost")) == "secret from 127.0.0.1"
    assert inside.hits == ["/ok", "/ok"]


def test_ipv6_loopback_works_when_the_development_setting_allows_it(
    settings: Any, inside_v6: Server
) -> None:
    settings.STUDIO_ALLOW_LOOPBACK_URLS = True
    assert fetch_text(inside_v6.url("/ok", host="[::1]")) == "secret from ::1"


@pytest.mark.parametrize("ip", ["10.0.0.1", "169.254.169.254", "fd00::1", "::ffff:192.168.0.1"])
def test_the_development_setting_allows_loopback_only(settings: Any, ip: str) -> None:
    settings.STUDIO_ALLOW_LOOPBACK_URLS = True
    assert address_allowed(ip) is False


@pytest.mark.parametrize(
    "ip",
    [
        "2002:7f00:1::",  # 6to4 of 127.0.0.1: routed to a 6to4 relay on the internet
        "2002:7f00:1::1",
        "2002:7f09:909::1",  # 6to4 of 127.9.9.9
        "::127.0.0.1",  # IPv4-compatible (deprecated): not delivered to this machine
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1: the NAT64 gateway's, not ours
    ],
)
def test_the_development_setting_allows_no_wrapped_loopback(settings: Any, ip: str) -> None:
    settings.STUDIO_ALLOW_LOOPBACK_URLS = True
    assert address_allowed(ip) is False


@pytest.mark.parametrize("ip", ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"])
def test_the_development_setting_allows_this_machines_loopback(settings: Any, ip: str) -> None:
    # ::ffff:127.0.0.1 on a dual-stack socket is this machine's 127.0.0.1.
    settings.STUDIO_ALLOW_LOOPBACK_URLS = True
    assert address_allowed(ip) is True


def test_the_development_setting_refuses_a_name_resolving_to_6to4_loopback(
    settings: Any, inside: Server, resolver: Resolver
) -> None:
    settings.STUDIO_ALLOW_LOOPBACK_URLS = True
    resolver.answers["sixtofour.attacker.test"] = [["2002:7f00:1::"]]
    with pytest.raises(FetchError, match="resolves to a private or loopback address; refused"):
        fetch_text(inside.url("/", host="sixtofour.attacker.test"))
    assert inside.hits == []


# ---- client callback URLs at create time (the studio API) ---------------------------------------
@pytest.mark.parametrize(
    ("url", "answers"),
    [
        ("http://[::ffff:10.0.0.1]/hook", None),
        ("http://[fd00::1]/hook", None),
        ("http://[fe80::1]/hook", None),
        ("http://[2002:a9fe:a9fe::1]/hook", None),
        ("http://100.100.100.200/hook", None),
        ("http://0.0.0.0:8000/hook", None),
        ("http://internal.attacker.test/hook", [["10.0.0.7"]]),
        ("http://mixed.attacker.test/hook", [[PUBLIC_IP, "127.0.0.1"]]),
        ("https://metadata.attacker.test/hook", [["169.254.169.254"]]),
        ("http://v6.attacker.test/hook", [["::1"]]),
    ],
)
def test_the_api_refuses_callback_urls_to_private_targets(
    settings: Any,
    resolver: Resolver,
    user: Any,
    url: str,
    answers: list[list[str]] | None,
) -> None:
    settings.STUDIO_ALLOW_LOOPBACK_URLS = False
    if answers:
        host = url.split("/")[2]
        resolver.answers[host] = answers
    _key, secret = issue(user)
    body = {"model_name": "kling-v1", "prompt": "a fox", "callback_url": url}
    response = post_json(Client(), T2V, body, secret)
    answer = response.json()
    assert response.status_code == 400 and answer["code"] == 1201, answer
    assert answer["message"].startswith("callback_url:") and "refused" in answer["message"]
    assert not Generation.objects.exists()


def test_the_api_accepts_a_callback_url_on_a_public_name(
    settings: Any, resolver: Resolver, user: Any
) -> None:
    settings.STUDIO_ALLOW_LOOPBACK_URLS = False
    resolver.answers["hooks.example.test"] = [[PUBLIC_IP]]
    _key, secret = issue(user)
    body = {"prompt": "a fox", "callback_url": "https://hooks.example.test/studio"}
    response = post_json(Client(), T2V, body, secret)
    assert response.status_code == 200, response.content
    generation = Generation.objects.get()
    assert generation.client_callback_url == "https://hooks.example.test/studio"


def test_validation_refuses_non_http_schemes() -> None:
    for url in ("file:///etc/passwd", "gopher://127.0.0.1/", "ftp://example.com/x"):
        with pytest.raises(ValidationError):
            validate_callback_url(url)
