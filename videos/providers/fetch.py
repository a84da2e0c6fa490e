"""Fetching URLs that users give us, without letting them reach our private network.

The address check happens when the socket is opened, for every connection (redirects
included), on the address actually connected to: a DNS answer that changes between a
check and the use cannot slip through.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpcore
import httpx
from django.conf import settings

USER_AGENT = "Studio/0.1 (+self-hosted video studio)"


class BlockedAddress(httpx.ConnectError):
    """The URL resolves to an address the studio must not call."""


def address_allowed(ip: str, allow_loopback: bool | None = None) -> bool:
    """Public addresses only; loopback only when the development setting allows it."""
    if allow_loopback is None:
        allow_loopback = settings.STUDIO_ALLOW_LOOPBACK_URLS
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.sixtofour is not None:
            # 6to4 (2002:aabb:ccdd::) is routed through a relay to the wrapped IPv4
            # address's network: refused when that is not public. It never reaches this
            # machine, so even the development setting does not make 2002:7f00:1:: local.
            return _public(addr.sixtofour)
        # IPv4-mapped (::ffff:a.b.c.d) on a dual-stack socket *is* that IPv4 address,
        # this machine's loopback included: judge the address inside.
        addr = addr.ipv4_mapped or addr
    if addr.is_loopback:
        return allow_loopback
    return _public(addr)


def _public(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """An address on the internet (not loopback, private, link-local, reserved, ...)."""
    return not (
        addr.is_private
        or addr.is_link_local  # includes 169.254.169.254, the cloud metadata address
        or addr.is_reserved
        or addr.is_multicast
        or addr.is_unspecified
        # Not private, yet not on the internet: the carrier-NAT range 100.64.0.0/10 holds
        # Alibaba Cloud's metadata address (100.100.100.200); fec0::/10 is old site-local.
        or not addr.is_global
        or (isinstance(addr, ipaddress.IPv6Address) and addr.is_site_local)
    )


class GuardedBackend(httpcore.SyncBackend):
    """A network backend that resolves the host itself and refuses forbidden addresses."""

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, **kwargs: Any) -> Any:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        for _family, _type, _proto, _name, sockaddr in infos:
            ip = sockaddr[0]
            if address_allowed(ip):
                return super().connect_tcp(ip, port, timeout=timeout, **kwargs)
        raise httpcore.ConnectError(f"{host} resolves to a private or loopback address; refused")


def guarded_client(timeout: float = 30.0, **kwargs: Any) -> httpx.Client:
    """An httpx client whose every connection goes through the address guard."""
    transport = httpx.HTTPTransport(retries=0)
    # httpx has no public hook for the network backend; the pool owns it.
    transport._pool._network_backend = GuardedBackend()  # noqa: SLF001
    return httpx.Client(
        transport=transport,
        timeout=timeout,
        follow_redirects=True,
        max_redirects=5,
        headers={"User-Agent": USER_AGENT},
        **kwargs,
    )


def without_credentials(url: str) -> str:
    """The URL as a message may show it: a user name or password in it is left out.

    Messages about a fetch reach the generation's timeline and status, which the whole
    team sees; "http://user:pass@host/a" is shown as "http://host/a".
    """
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


class FetchError(Exception):
    """A URL could not be fetched: the message says why, for the user."""


@contextmanager
def open_url(
    url: str, *, max_bytes: int, allowed_types: tuple[str, ...] = (), timeout: float = 30.0
) -> Iterator[Iterator[bytes]]:
    """Stream a URL's body in chunks, enforcing a size cap and a content type."""
    shown = without_credentials(url)  # every message below is shown to the team
    try:
        with guarded_client(timeout=timeout) as client, client.stream("GET", url) as response:
            if response.status_code != 200:
                raise FetchError(f"fetching {shown} answered HTTP {response.status_code}")
            ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if allowed_types and ctype not in allowed_types:
                raise FetchError(
                    f"{shown} is {ctype or 'of no content type'}, "
                    f"expected {', '.join(allowed_types)}"
                )
            length = response.headers.get("content-length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise FetchError(
                    f"{shown} is {int(length)} bytes, more than the {max_bytes} allowed"
                )

            def chunks() -> Iterator[bytes]:
                seen = 0
                for chunk in response.iter_bytes(1 << 16):
                    seen += len(chunk)
                    if seen > max_bytes:
                        raise FetchError(f"{shown} is larger than the {max_bytes} bytes allowed")
                    yield chunk

            yield chunks()
    except httpx.TimeoutException as exc:
        raise FetchError(f"fetching {shown} timed out") from exc
    except httpx.HTTPError as exc:
        reason = str(exc).replace(url, shown)  # httpx may name the URL it was given
        raise FetchError(f"cannot fetch {shown}: {reason}") from exc
