"""The admin API: ledger, stats, reset, and its token."""

from __future__ import annotations

import httpx

from autobook.sandbox.server import SandboxServer
from tests.sandbox.conftest import Booker
from tests.sandbox.seeds import OWNER_EMAIL, event_type_uri, user_uri
from tests.support.conformance import validate_response
from tests.support.sandbox import SandboxAdmin, auth_headers, tracking

SLOT = "2026-11-30T15:00:00Z"
LEDGER_KEYS = {
    "uri",
    "event",
    "event_type",
    "start_time",
    "end_time",
    "status",
    "email",
    "name",
    "timezone",
    "event_guests",
    "tracking",
    "questions_and_answers",
    "location",
    "created_at",
    "dropped",
    "hosts",
}


def test_the_ledger_lists_every_booking_made_canceled_ones_too(
    booker: Booker, sandbox: SandboxServer, sandbox_admin: SandboxAdmin
) -> None:
    sent_tracking = tracking(utm_content="corr-123")
    first = booker.book(
        "solo",
        SLOT,
        location={"kind": "zoom_conference"},
        tracking=sent_tracking,
        event_guests=["cc@example.com"],
    )
    booker.client.post(f"{first['event']}/cancellation", json={})
    booker.book(
        "ask",
        SLOT,
        location={"kind": "ask_invitee", "location": "Room 4"},
        invitee={"name": "Bo", "email": "bo@example.com", "timezone": "UTC"},
    )
    ledger = sandbox_admin.ledger()
    assert [set(entry) for entry in ledger] == [
        LEDGER_KEYS,
        LEDGER_KEYS,
    ]  # seed bookings are not listed
    canceled, active = ledger
    assert canceled["uri"] == first["uri"]
    assert canceled["status"] == "canceled"
    assert canceled["event_type"] == event_type_uri(sandbox.url, "solo")
    assert (canceled["start_time"], canceled["end_time"]) == (
        "2026-11-30T15:00:00.000000Z",
        "2026-11-30T15:30:00.000000Z",
    )
    assert canceled["event_guests"] == ["cc@example.com"]
    assert canceled["tracking"] == sent_tracking
    assert canceled["location"]["type"] == "zoom"
    assert canceled["hosts"] == [user_uri(sandbox.url, OWNER_EMAIL)]
    assert (active["status"], active["email"], active["location"]) == (
        "active",
        "bo@example.com",
        {"type": "ask_invitee", "location": "Room 4"},
    )


def test_stats_count_requests_by_route_and_status_but_not_admin_calls(
    booker: Booker, sandbox: SandboxServer, sandbox_admin: SandboxAdmin
) -> None:
    booker.client.get("/users/me")
    booker.client.get(event_type_uri(sandbox.url, "solo"))
    booker.client.get(event_type_uri(sandbox.url, "group"))
    booker.client.get(f"{sandbox.url}/event_types/nope")
    httpx.get(f"{sandbox.url}/users/me", headers=auth_headers("wrong"))
    booker.book("solo", SLOT, location={"kind": "zoom_conference"})
    sandbox_admin.ledger()
    stats = sandbox_admin.stats()
    assert {"method": "GET", "path": "/event_types/{uuid}", "status": 200, "count": 2} in stats
    assert {"method": "GET", "path": "/event_types/{uuid}", "status": 404, "count": 1} in stats
    assert {"method": "GET", "path": "/users/me", "status": 401, "count": 1} in stats
    assert sandbox_admin.count("POST", "/invitees", 201) == 1
    assert not [row for row in stats if row["path"].startswith("/_sandbox")]


def test_reset_returns_to_the_seed(
    booker: Booker, sandbox: SandboxServer, sandbox_admin: SandboxAdmin
) -> None:
    invitee = booker.book("solo", SLOT, location={"kind": "zoom_conference"})
    sandbox_admin.set_faults({"endpoints": {"GET /users/me": {"error_500": 1}}})
    sandbox_admin.set_limits({"tier": "trial"})
    sandbox_admin.reset()
    assert sandbox_admin.ledger() == []
    assert sandbox_admin.stats() == []
    assert sandbox_admin.faults() == {}
    assert (
        sandbox_admin.limits()["users"][user_uri(sandbox.url, OWNER_EMAIL)]["tier"] == "enterprise"
    )
    assert booker.client.get(invitee["event"]).status_code == 404
    assert booker.post("solo", SLOT, location={"kind": "zoom_conference"}).status_code == 201


def test_the_admin_api_needs_the_token(sandbox: SandboxServer) -> None:
    for method, path in (("GET", "ledger"), ("POST", "reset"), ("PUT", "faults")):
        response = httpx.request(
            method, f"{sandbox.url}/_sandbox/{path}", json={}, headers=auth_headers("nope")
        )
        assert response.status_code == 401
        assert response.json() == {
            "title": "Unauthenticated",
            "message": "The access token is invalid",
        }
        validate_response("GET", "/users/me", 401, response.json())
    unknown = httpx.get(f"{sandbox.url}/_sandbox/nothing", headers=auth_headers())
    assert unknown.status_code == 404


def test_any_other_token_gets_the_exact_401(sandbox: SandboxServer) -> None:
    for headers in (
        {},
        {"Authorization": "sandbox-token"},
        {"Authorization": "Basic sandbox-token"},
        auth_headers("sandbox-token-2"),
    ):
        response = httpx.get(f"{sandbox.url}/users/me", headers=headers)
        assert response.status_code == 401
        assert response.json() == {
            "title": "Unauthenticated",
            "message": "The access token is invalid",
        }
        validate_response("GET", "/users/me", 401, response.json())
