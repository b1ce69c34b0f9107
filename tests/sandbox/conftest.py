"""Fixtures: one sandbox per test module on a fake clock, reset before every test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from autobook.sandbox.server import SandboxServer
from tests.sandbox.seeds import NOW, base_seed, event_type_uri
from tests.support.sandbox import FakeClock, SandboxAdmin, admin, calendly_client, tracking


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture(scope="module")
def sandbox(clock: FakeClock) -> Iterator[SandboxServer]:
    with SandboxServer(seed=base_seed(), clock=clock) as server:
        yield server


@pytest.fixture(scope="module")
def sandbox_admin(sandbox: SandboxServer) -> Iterator[SandboxAdmin]:
    with admin(sandbox.url) as client:
        yield client


@pytest.fixture(autouse=True)
def _fresh_sandbox(request: pytest.FixtureRequest, clock: FakeClock) -> None:
    clock.set(NOW)
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox_admin").reset()


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with calendly_client(sandbox.url) as http:
        yield http


class Booker:
    """Builds and sends ``POST /invitees`` bodies for the test seed's event types."""

    def __init__(self, client: httpx.Client, base: str) -> None:
        self.client = client
        self.base = base

    def body(self, slug: str, start: str, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "event_type": event_type_uri(self.base, slug),
            "start_time": start,
            "invitee": {
                "name": "Ada Lovelace",
                "email": "ada@example.com",
                "timezone": "Europe/London",
            },
        }
        body.update(overrides)
        return {key: value for key, value in body.items() if value is not None}

    def post(self, slug: str, start: str, **overrides: Any) -> httpx.Response:
        return self.client.post("/invitees", json=self.body(slug, start, **overrides))

    def book(self, slug: str, start: str, **overrides: Any) -> dict[str, Any]:
        response = self.post(slug, start, **overrides)
        assert response.status_code == 201, response.text
        invitee: dict[str, Any] = response.json()["resource"]
        return invitee


@pytest.fixture
def booker(client: httpx.Client, sandbox: SandboxServer) -> Booker:
    return Booker(client, sandbox.url)


__all__ = ["Booker", "tracking"]
