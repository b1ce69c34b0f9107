"""`Courier` (autobook.callbacks.delivery) on SQLite with an in-memory transport: the URL is
checked again after DNS at delivery, a refused one is never posted, and the signature verifies."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks.webhooks import Webhook

from autobook import store
from autobook.callbacks.delivery import Backoff, Courier
from autobook.config import load_settings
from autobook.models import CallbackState
from tests.support.databases import migrated_session_factory, sqlite_url_in
from tests.support.outbox import booked_with_callback

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    with migrated_session_factory(sqlite_url_in(tmp_path)) as made:
        yield made


def _resolver(address: str) -> Any:
    def resolve(host: str, port: int) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    return resolve


def _courier(
    sessions: sessionmaker[Session], tmp_path: Path, address: str, posted: list[Any]
) -> Courier:
    def handler(request: httpx.Request) -> httpx.Response:
        posted.append(request)
        return httpx.Response(204)

    settings = load_settings(data_dir=tmp_path, callback_secret=SecretStr(SECRET))
    return Courier(
        sessions,
        settings,
        httpx.Client(transport=httpx.MockTransport(handler)),
        clock=lambda: datetime.now(UTC),  # signed now: receivers refuse old timestamps
        backoff=Backoff(1.0, 60.0),
        resolve=_resolver(address),
    )


@pytest.mark.parametrize("address", ["10.1.2.3", "127.0.0.1", "169.254.169.254"])
def test_a_name_resolving_inside_at_delivery_is_refused_and_never_posted(
    sessions: sessionmaker[Session], tmp_path: Path, address: str
) -> None:
    callback_id = booked_with_callback(sessions, "https://hooks.example.com/x", now=T0)
    posted: list[Any] = []
    state = _courier(sessions, tmp_path, address, posted).deliver(callback_id)
    assert state is CallbackState.FAILED
    assert posted == []
    with sessions() as session:
        callback = store.outbox.get(session, callback_id)
        assert callback is not None
        assert "resolves to" in (callback.last_error or "")


def test_a_public_address_is_posted_signed(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    callback_id = booked_with_callback(sessions, "https://hooks.example.com/x", now=T0)
    posted: list[httpx.Request] = []
    state = _courier(sessions, tmp_path, "93.184.216.34", posted).deliver(callback_id)
    assert state is CallbackState.DELIVERED
    (request,) = posted
    event = Webhook(SECRET).verify(request.content, dict(request.headers))
    assert event["type"] == "booking.booked"
    assert SECRET not in request.content.decode()


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_attempts_are_counted_by_outcome_and_a_post_is_timed(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    delivered = _sample("autobook_callback_attempts_total", outcome="delivered")
    failed = _sample("autobook_callback_attempts_total", outcome="failed")
    timed = _sample("autobook_callback_latency_seconds_count")
    callback_id = booked_with_callback(sessions, "https://hooks.example.com/x", now=T0)
    # Refused before any POST: counted as failed, not timed.
    refused = _courier(sessions, tmp_path, "10.0.0.1", []).deliver(callback_id)
    assert refused is CallbackState.FAILED
    assert _sample("autobook_callback_attempts_total", outcome="failed") == failed + 1
    assert _sample("autobook_callback_latency_seconds_count") == timed
    with sessions.begin() as session:
        store.outbox.retry(session, [callback_id], now=datetime.now(UTC))
    sent = _courier(sessions, tmp_path, "93.184.216.34", []).deliver(callback_id)
    assert sent is CallbackState.DELIVERED
    assert _sample("autobook_callback_attempts_total", outcome="delivered") == delivered + 1
    assert _sample("autobook_callback_latency_seconds_count") == timed + 1
