"""Injected faults: each knob, reproducibility, read-back and validation."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from autobook.sandbox.server import SandboxServer
from tests.sandbox.conftest import Booker
from tests.support.sandbox import SandboxAdmin, auth_headers

SLOT = "2026-11-30T15:00:00Z"
ZOOM = {"kind": "zoom_conference"}
INTERNAL_ERROR = {
    "title": "Internal Server Error",
    "message": "The server encountered an unexpected condition that prevented it from fulfilling the request.",  # noqa: E501
}


def on_booking(**knobs: Any) -> dict[str, Any]:
    return {"seed": 7, "endpoints": {"POST /invitees": knobs}}


def test_latency_delays_the_answer(booker: Booker, sandbox_admin: SandboxAdmin) -> None:
    sandbox_admin.set_faults({"endpoints": {"GET /users/me": {"latency_ms": 300}}})
    started = time.monotonic()
    assert booker.client.get("/users/me").status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    booker.client.get(f"{booker.base}/event_types/nope")  # other endpoints are not delayed
    assert time.monotonic() - started < 0.3


def test_a_booking_is_still_made_when_its_client_gives_up_during_the_latency(
    booker: Booker, sandbox: SandboxServer, sandbox_admin: SandboxAdmin
) -> None:
    # Like a real server: the request arrived whole, so it is processed though nobody waits.
    sandbox_admin.set_faults(on_booking(latency_ms=400))
    with (
        httpx.Client(base_url=sandbox.url, headers=auth_headers(), timeout=0.1) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        impatient.post("/invitees", json=booker.body("solo", SLOT, location=ZOOM))
    deadline = time.monotonic() + 5
    while not sandbox_admin.ledger() and time.monotonic() < deadline:
        time.sleep(0.05)
    [entry] = sandbox_admin.ledger()
    assert (entry["email"], entry["status"]) == ("ada@example.com", "active")


def test_error_500_answers_before_anything_is_committed(
    booker: Booker, sandbox_admin: SandboxAdmin
) -> None:
    sandbox_admin.set_faults(on_booking(error_500=1))
    response = booker.post("solo", SLOT, location=ZOOM)
    assert response.status_code == 500
    assert response.json() == INTERNAL_ERROR
    assert sandbox_admin.ledger() == []


def test_error_429_answers_with_zero_remaining(booker: Booker, sandbox_admin: SandboxAdmin) -> None:
    sandbox_admin.set_faults(on_booking(error_429=1))
    response = booker.post("solo", SLOT, location=ZOOM)
    assert response.status_code == 429
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Reset"]) > 0
    assert sandbox_admin.ledger() == []


def test_error_500_after_commit_books_then_fails(
    booker: Booker, sandbox_admin: SandboxAdmin
) -> None:
    sandbox_admin.set_faults(on_booking(error_500_after_commit=1))
    response = booker.post("solo", SLOT, location=ZOOM)
    assert response.status_code == 500
    assert response.json() == INTERNAL_ERROR
    [entry] = sandbox_admin.ledger()
    assert (entry["email"], entry["start_time"], entry["dropped"]) == (
        "ada@example.com",
        "2026-11-30T15:00:00.000000Z",
        False,
    )


def test_drop_after_commit_books_then_closes_without_a_response(
    booker: Booker, sandbox: SandboxServer, sandbox_admin: SandboxAdmin
) -> None:
    sandbox_admin.set_faults(on_booking(drop_after_commit=1))
    with httpx.Client(base_url=sandbox.url, headers=auth_headers()) as raw:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            raw.post("/invitees", json=booker.body("solo", SLOT, location=ZOOM))
        # The client's next request, on a new connection, is answered normally.
        assert raw.get("/users/me").status_code == 200
    [entry] = sandbox_admin.ledger()
    assert entry["dropped"] is True
    assert entry["status"] == "active"
    assert {
        "method": "POST",
        "path": "/invitees",
        "status": None,
        "count": 1,
    } in sandbox_admin.stats()
    # The booking is real: the slot is gone and reconciliation can find it.
    sandbox_admin.set_faults({})
    assert booker.post("solo", SLOT, location=ZOOM).json()["details"][0]["code"] == "already_filled"
    found = booker.client.get(
        "/scheduled_events",
        params={
            "organization": f"{sandbox.url}/organizations/{sandbox.state.store.organization.uuid}",
            "invitee_email": "ada@example.com",
        },
    ).json()["collection"]
    assert [event["uri"] for event in found] == [entry["event"]]


def test_drop_after_commit_on_a_read_drops_the_read(
    sandbox: SandboxServer, sandbox_admin: SandboxAdmin
) -> None:
    sandbox_admin.set_faults({"endpoints": {"GET /users/me": {"drop_after_commit": 1}}})
    with (
        httpx.Client(base_url=sandbox.url, headers=auth_headers()) as raw,
        pytest.raises(httpx.TransportError),
    ):
        raw.get("/users/me")


def test_steal_slot_lets_another_invitee_take_it_first(
    booker: Booker, sandbox_admin: SandboxAdmin
) -> None:
    sandbox_admin.set_faults(on_booking(steal_slot=1))
    response = booker.post("solo", SLOT, location=ZOOM)
    assert response.status_code == 400
    assert response.json()["details"][0]["code"] == "already_filled"
    [thief] = sandbox_admin.ledger()
    assert (thief["email"], thief["start_time"]) == (
        "slot-thief@sandbox.invalid",
        "2026-11-30T15:00:00.000000Z",
    )


def test_steal_slot_fills_every_seat_of_a_group_slot(
    booker: Booker, sandbox_admin: SandboxAdmin
) -> None:
    sandbox_admin.set_faults(on_booking(steal_slot=1))
    assert booker.post("group", SLOT).status_code == 400
    assert len({entry["event"] for entry in sandbox_admin.ledger()}) == 1
    assert len(sandbox_admin.ledger()) == 3


def test_a_fixed_seed_gives_the_same_faults(
    client: httpx.Client, sandbox_admin: SandboxAdmin
) -> None:
    def pattern(seed: int) -> list[int]:
        sandbox_admin.set_faults({"seed": seed, "endpoints": {"GET /users/me": {"error_500": 0.5}}})
        return [client.get("/users/me").status_code for _ in range(24)]

    first = pattern(7)
    assert set(first) == {200, 500}
    assert pattern(7) == first
    assert pattern(8) != first


def test_faults_read_back_and_clear(sandbox_admin: SandboxAdmin) -> None:
    assert sandbox_admin.faults() == {}
    answer = sandbox_admin.set_faults(on_booking(error_500=0.25, latency_ms=10))
    assert answer == sandbox_admin.faults()
    assert answer == {
        "seed": 7,
        "endpoints": {
            "POST /invitees": {
                "latency_ms": 10,
                "error_429": 0.0,
                "error_500": 0.25,
                "error_500_after_commit": 0.0,
                "drop_after_commit": 0.0,
                "steal_slot": 0.0,
            }
        },
    }
    assert sandbox_admin.set_faults({}) == {}
    assert sandbox_admin.faults() == {}


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({"endpoints": {"POST /invitee": {"error_500": 1}}}, "endpoints.POST /invitee"),
        (on_booking(error_500=1.5), "endpoints.POST /invitees.error_500"),
        (on_booking(latency_ms=-1), "endpoints.POST /invitees.latency_ms"),
        (on_booking(explode=1), "endpoints.POST /invitees.explode"),
        ({"endpoints": {"GET /users/me": {"steal_slot": 1}}}, "endpoints.GET /users/me.steal_slot"),
        ({"seed": "seven"}, "seed"),
        ({"endpoints": []}, "endpoints"),
    ],
)
def test_bad_faults_are_refused(
    sandbox: SandboxServer, body: dict[str, Any], parameter: str
) -> None:
    response = httpx.put(f"{sandbox.url}/_sandbox/faults", json=body, headers=auth_headers())
    assert response.status_code == 400
    assert parameter in [item["parameter"] for item in response.json()["details"]]
