"""Where a callback may go: `https`, and only to public addresses (no server-side request forgery).

A callback URL comes from a request, so from outside: aimed at 127.0.0.1, 10.0.0.0/8 or the cloud
metadata address 169.254.169.254 it would make autobook POST into its own network. The rule:
the scheme is `https`, and every address the host resolves to is global (not loopback, private,
link-local, shared, reserved, multicast or unspecified). It is checked at intake, where a name
that does not resolve (yet) is let through, and again before every delivery, where it must
resolve. `AUTOBOOK_CALLBACK_ALLOW_PRIVATE=true` lifts both rules (plain http included): it is
for tests and closed networks only, and unsafe anywhere else.

`problem(url, ...)` returns why a URL is refused, or None; it never raises.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any
from urllib.parse import urlsplit

Resolver = Callable[[str, int], list[Any]]
HTTPS_PORT = 443
# Cloud metadata addresses that are not link-local everywhere (AWS's IPv6, Alibaba's).
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}
)


def system_resolve(host: str, port: int) -> list[Any]:
    return socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)


def refused_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES or address == ipaddress.ip_address("169.254.169.254"):
        return "a cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private:
        return "a private address"
    if not address.is_global or address.is_multicast:
        return "not a public address"
    return None


def problem(
    url: str, *, allow_private: bool, must_resolve: bool, resolve: Resolver = system_resolve
) -> str | None:
    """Why `url` may not receive callbacks, or None (see the module docstring)."""
    try:
        parts = urlsplit(url)
        port = parts.port or HTTPS_PORT
    except ValueError:
        return "is not a valid URL"
    if allow_private:
        return None if parts.scheme in ("https", "http") and parts.hostname else "is not a URL"
    if parts.scheme != "https":
        return "must be https"
    host = parts.hostname
    if not host:
        return "has no host"
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        why = refused_address(literal)
        return None if why is None else f"points to {why}"
    try:
        found = resolve(host, port)
    except (OSError, UnicodeError):
        return f"host {host} does not resolve" if must_resolve else None
    if not found and must_resolve:
        return f"host {host} does not resolve"
    for entry in found:
        try:
            address = ipaddress.ip_address(entry[4][0].split("%")[0])
        except (ValueError, IndexError, TypeError):
            return f"host {host} resolves to something that is not an IP address"
        why = refused_address(address)
        if why is not None:
            return f"host {host} resolves to {why}"
    return None


INTAKE_RESOLVE_TIMEOUT_SECONDS = 1.0
INTAKE_RESOLVE_CACHE_SECONDS = 60.0
_resolved: dict[tuple[str, int], tuple[float, list[Any]]] = {}
_lookups = ThreadPoolExecutor(max_workers=4, thread_name_prefix="callback-dns")


def _intake_resolve(host: str, port: int) -> list[Any]:
    """The intake's resolver: cached per host, and bounded in time (a slow DNS server must not
    hold a batch of 500 requests); a name it can't resolve in time is checked at delivery."""
    now = time.monotonic()
    cached = _resolved.get((host, port))
    if cached is not None and cached[0] > now:
        return cached[1]
    try:
        found = _lookups.submit(system_resolve, host, port).result(INTAKE_RESOLVE_TIMEOUT_SECONDS)
    except (OSError, UnicodeError, FutureTimeout):
        found = []
    _resolved[(host, port)] = (now + INTAKE_RESOLVE_CACHE_SECONDS, found)
    return found


def check_callback_url(url: object) -> object:
    """The intake's check (a pydantic validator): no resolution required, the setting obeyed."""
    from autobook.config import get_settings

    why = problem(
        str(url),
        allow_private=get_settings().callback_allow_private,
        must_resolve=False,
        resolve=_intake_resolve,
    )
    if why is not None:
        raise ValueError(f"{why}: callbacks go only to public https addresses")
    return url
