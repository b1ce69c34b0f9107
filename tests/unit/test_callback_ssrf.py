"""The SSRF rule of callback URLs (`autobook.callbacks.ssrf`), with a resolver we control."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from autobook.callbacks.ssrf import problem


def resolver(*addresses: str) -> Any:
    def resolve(host: str, port: int) -> list[Any]:
        if not addresses:
            raise socket.gaierror("no such name")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    return resolve


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://127.0.0.1/hook", "loopback"),
        ("https://10.0.0.8/hook", "private"),
        ("https://10.255.1.1:8443/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "metadata"),
        ("https://[::1]/hook", "loopback"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),
        ("https://0.0.0.0/hook", "address"),
        ("http://crm.example.com/hook", "https"),
    ],
)
def test_literal_addresses_and_plain_http_are_refused(url: str, why: str) -> None:
    found = problem(url, allow_private=False, must_resolve=True, resolve=resolver("93.184.216.34"))
    assert found is not None
    assert why in found


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "192.168.1.9"])
def test_a_name_that_resolves_to_an_inner_address_is_refused(address: str) -> None:
    found = problem(
        "https://hooks.example.com/x",
        allow_private=False,
        must_resolve=False,
        resolve=resolver("93.184.216.34", address),
    )
    assert found is not None
    assert "resolves to" in found


def test_a_public_https_url_passes() -> None:
    public = resolver("93.184.216.34")
    assert (
        problem(
            "https://hooks.example.com/x", allow_private=False, must_resolve=True, resolve=public
        )
        is None
    )


def test_a_name_that_does_not_resolve_passes_intake_but_not_delivery() -> None:
    nowhere = resolver()
    assert (
        problem("https://x.example.com/", allow_private=False, must_resolve=False, resolve=nowhere)
        is None
    )
    found = problem(
        "https://x.example.com/", allow_private=False, must_resolve=True, resolve=nowhere
    )
    assert found is not None
    assert "does not resolve" in found


def test_the_setting_lets_local_receivers_through() -> None:
    loopback = resolver("127.0.0.1")
    assert (
        problem("http://127.0.0.1:9000/x", allow_private=True, must_resolve=True, resolve=loopback)
        is None
    )
    assert problem("ftp://127.0.0.1/x", allow_private=True, must_resolve=True) is not None
