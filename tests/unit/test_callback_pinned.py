"""`autobook.callbacks.pinned`: the delivery connects only to addresses it checked, so a DNS
answer that turns to 127.0.0.1 (in the same answer, or between the check and the connect) never
reaches the local receiver; with private addresses allowed, the name is still resolved once and
the request keeps its hostname in `Host`."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpcore
import pytest
from pydantic import SecretStr

from autobook import store
from autobook.callbacks.delivery import Backoff, Courier, build_http
from autobook.callbacks.pinned import CheckedBackend, RefusedAddress
from autobook.config import load_settings
from autobook.models import CallbackState
from tests.support.databases import migrated_session_factory, sqlite_url_in
from tests.support.outbox import booked_with_callback
from tests.support.receiver import running_receiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PUBLIC = "93.184.216.34"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _entry(address: str, port: int) -> Any:
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))


class Rebinding:
    """Answers each lookup with the next list of addresses (the last one repeats)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.lookups = 0

    def __call__(self, host: str, port: int) -> list[Any]:
        answer = self.answers[min(self.lookups, len(self.answers) - 1)]
        self.lookups += 1
        return [_entry(address, port) for address in answer]


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback socket that would see any connection aimed at it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.settimeout(0.3)
        yield sock


def _nothing_connected(sock: socket.socket) -> bool:
    try:
        sock.accept()[0].close()
    except TimeoutError:
        return True
    return False


def test_an_answer_with_a_public_address_first_and_loopback_second_never_connects(
    listener: socket.socket,
) -> None:
    port = listener.getsockname()[1]
    backend = CheckedBackend(allow_private=False, resolve=Rebinding([PUBLIC, "127.0.0.1"]))
    with pytest.raises(RefusedAddress, match="loopback"):
        backend.connect_tcp("hooks.example.com", port, timeout=1.0)
    assert _nothing_connected(listener)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.7", "169.254.169.254", "::1"])
def test_every_refused_kind_is_refused_at_connect(address: str) -> None:
    backend = CheckedBackend(allow_private=False, resolve=Rebinding([address]))
    with pytest.raises(RefusedAddress):
        backend.connect_tcp("hooks.example.com", 443, timeout=1.0)


def test_a_name_that_does_not_resolve_is_a_connect_error() -> None:
    def fails(host: str, port: int) -> list[Any]:
        raise socket.gaierror("no such name")

    with pytest.raises(httpcore.ConnectError, match="does not resolve"):
        CheckedBackend(allow_private=False, resolve=fails).connect_tcp("x.example", 443)


def test_a_rebinding_between_the_check_and_the_connect_posts_nothing(tmp_path: Path) -> None:
    """The URL check sees a public address; the connect, a second later, gets 127.0.0.1."""
    settings = load_settings(data_dir=tmp_path, callback_secret=SecretStr(SECRET))
    rebinding = Rebinding([PUBLIC], ["127.0.0.1"])
    with (
        running_receiver() as (receiver, base),
        migrated_session_factory(sqlite_url_in(tmp_path)) as sessions,
    ):
        port = int(base.rsplit(":", 1)[1])
        callback_id = booked_with_callback(sessions, f"https://rebind.example:{port}/ok", now=T0)
        courier = Courier(
            sessions,
            settings,
            build_http(settings, resolve=rebinding),
            clock=lambda: datetime.now(UTC),
            backoff=Backoff(1.0, 60.0),
            resolve=rebinding,
        )
        state = courier.deliver(callback_id)
        assert rebinding.lookups == 2  # checked once, resolved once more at connect
        assert state is CallbackState.FAILED
        assert receiver.received == []
        with sessions() as session:
            callback = store.outbox.get(session, callback_id)
            assert callback is not None
            assert "loopback" in (callback.last_error or "")


def test_allowed_private_connects_to_the_resolved_address_and_keeps_the_host(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        data_dir=tmp_path, callback_secret=SecretStr(SECRET), callback_allow_private=True
    )
    resolver = Rebinding(["127.0.0.1"])
    with running_receiver() as (receiver, base):
        port = int(base.rsplit(":", 1)[1])
        with build_http(settings, resolve=resolver) as http:
            response = http.post(f"http://receiver.example:{port}/ok", content=b"{}")
        assert response.status_code == 204
        (got,) = receiver.at("/ok")
        assert got.headers["host"] == f"receiver.example:{port}"
        assert resolver.lookups == 1
