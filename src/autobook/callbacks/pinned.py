"""Connect a callback to exactly the addresses that were checked (no DNS rebinding).

`ssrf.problem` resolves a callback's host and checks every address; but if httpx then resolved
the name again, a DNS server that answers a public address first and 127.0.0.1 a second later
would pass the check and still aim the POST at loopback. So the delivery's HTTP client
resolves only once, here, at connect time: `CheckedBackend.connect_tcp` resolves the host,
checks every address it got against the SSRF rules (one refused address refuses the host), and
opens the socket to those checked IP addresses, never to the name. httpcore keeps the URL's host
for the TLS SNI and certificate check and for the `Host` header, so https still verifies the
receiver's name.

`AUTOBOOK_CALLBACK_ALLOW_PRIVATE=true` lifts the check, as everywhere: the addresses are still
resolved once and connected to directly.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from autobook.callbacks import ssrf


class RefusedAddress(Exception):
    """The host resolved, at connect time, to an address callbacks may not reach."""


def checked_addresses(
    host: str, port: int, *, allow_private: bool, resolve: ssrf.Resolver
) -> list[tuple[int, str]]:
    """(family, IP) for every address of `host`, each checked; raises RefusedAddress."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        found: list[Any] = [
            (socket.AF_INET6 if literal.version == 6 else socket.AF_INET, 0, 0, "", (str(literal),))
        ]
    else:
        try:
            found = resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"host {host} does not resolve") from exc
    addresses: list[tuple[int, str]] = []
    for entry in found:
        try:
            ip = ipaddress.ip_address(str(entry[4][0]).split("%")[0])
        except (ValueError, IndexError, TypeError):
            raise RefusedAddress(
                f"host {host} resolves to something that is not an IP address"
            ) from None
        if not allow_private:
            why = ssrf.refused_address(ip)
            if why is not None:
                raise RefusedAddress(f"host {host} resolves to {why}")
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        if (family, str(ip)) not in addresses:
            addresses.append((family, str(ip)))
    if not addresses:
        raise httpcore.ConnectError(f"host {host} does not resolve")
    return addresses


class CheckedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting only to checked addresses (module docstring)."""

    def __init__(self, *, allow_private: bool, resolve: ssrf.Resolver | None = None) -> None:
        self._allow_private = allow_private
        self._resolve: ssrf.Resolver = resolve or ssrf.system_resolve

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = checked_addresses(
            host, port, allow_private=self._allow_private, resolve=self._resolve
        )
        last: Exception | None = None
        for _family, ip in addresses:
            try:
                # An IP literal: create_connection does no DNS lookup of its own.
                return super().connect_tcp(ip, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last


class PinnedTransport(httpx.HTTPTransport):
    """httpx's transport, with its connection pool on a `CheckedBackend`."""

    def __init__(
        self,
        *,
        allow_private: bool,
        resolve: ssrf.Resolver | None = None,
        verify: bool = True,
    ) -> None:
        super().__init__(verify=verify, trust_env=False)
        # The same pool httpx builds for no proxy, with our backend (httpx's constructor
        # takes no backend; the pool is its only state, replaced before any request).
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            network_backend=CheckedBackend(allow_private=allow_private, resolve=resolve),
        )
