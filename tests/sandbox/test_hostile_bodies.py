"""Hostile bodies and hang-ups never make the sandbox answer 5xx, and the ledger stays readable.

A lone surrogate in a booking once committed the booking, then failed to render it: a 500, and
every later read of the ledger or the event's invitees failed too until a reset. A client that
hung up mid-body left a `ClientDisconnect` traceback. The fuzzing below mutates a valid
`POST /invitees` body at each field with hypothesis' JSON values (lone surrogates included).
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autobook.sandbox.server import SandboxServer
from tests.sandbox.conftest import Booker
from tests.sandbox.seeds import FUTURE_GROUP_EVENT_UUID
from tests.sandbox.test_booking import SLOT
from tests.support.sandbox import SandboxAdmin, auth_headers

# Any text at all, surrogates and controls included: what a careless client may send.
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=20)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=8,
)


@pytest.fixture
def raw(sandbox: SandboxServer, sandbox_admin: SandboxAdmin) -> Iterator[httpx.Client]:
    sandbox_admin.set_limits({"tier": "unlimited"})
    with httpx.Client(base_url=sandbox.url, headers=auth_headers(), timeout=30) as client:
        yield client


def _good_body(raw: httpx.Client, base: str) -> dict[str, Any]:
    """A body the seed books (201): a mutation that is ignored still makes a real booking."""
    return Booker(raw, base).body("solo", SLOT, location={"kind": "zoom_conference"})


def _ledger_readable(raw: httpx.Client) -> None:
    ledger = raw.get("/_sandbox/ledger")
    assert ledger.status_code == 200
    for booking in ledger.json()["collection"]:
        event_uuid = booking["event"].rstrip("/").rsplit("/", 1)[1]
        assert raw.get(f"/scheduled_events/{event_uuid}/invitees").status_code == 200


def test_a_lone_surrogate_in_the_name_is_refused_before_anything_is_committed(
    raw: httpx.Client, sandbox: SandboxServer
) -> None:
    body = _good_body(raw, sandbox.url)
    assert raw.post("/invitees", json=body).status_code == 201  # the body itself is good
    raw.post("/_sandbox/reset")
    raw.put("/_sandbox/limits", json={"tier": "unlimited"})
    text = json.dumps(body).replace('"name": "Ada Lovelace"', '"name": "Ada \\ud83d"')
    assert "\\ud83d" in text
    response = raw.post("/invitees", content=text)
    assert response.status_code == 400
    assert response.json()["title"] == "Invalid Argument"
    assert raw.get("/_sandbox/ledger").json()["collection"] == []
    _ledger_readable(raw)
    assert raw.get(f"/scheduled_events/{FUTURE_GROUP_EVENT_UUID}/invitees").status_code == 200


def _paths(value: object, prefix: tuple[object, ...] = ()) -> Iterator[tuple[object, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from _paths(item, (*prefix, index))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), value=JSON_VALUES)
def test_fuzzed_booking_bodies_never_get_a_5xx_and_the_ledger_stays_readable(
    raw: httpx.Client, sandbox: SandboxServer, data: st.DataObject, value: object
) -> None:
    body = _good_body(raw, sandbox.url)
    path = data.draw(st.sampled_from(list(_paths(body))))
    target: Any = body
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    content = json.dumps(body, ensure_ascii=True).encode()  # surrogates travel as \\udXXX
    response = raw.post("/invitees", content=content)
    assert response.status_code < 500, response.text[:300]
    _ledger_readable(raw)


def test_a_client_that_hangs_up_mid_body_leaves_no_traceback(
    raw: httpx.Client, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    parts = urlsplit(sandbox.url)
    token = auth_headers()["Authorization"]
    with caplog.at_level(logging.INFO):
        for path in ("/invitees", f"/scheduled_events/{FUTURE_GROUP_EVENT_UUID}/cancellation"):
            with socket.create_connection((parts.hostname, parts.port)) as sock:
                head = (
                    f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: {token}\r\n"
                    'Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"event'
                )
                sock.sendall(head.encode())
        assert raw.get("/users/me").status_code == 200  # the server goes on
    logged = "\n".join(record.getMessage() + str(record.exc_info) for record in caplog.records)
    assert "ClientDisconnect" not in logged
    assert "Traceback" not in logged
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    _ledger_readable(raw)
