"""Concurrent POST /invitees for one slot: exactly one booking (or exactly the capacity)."""

from __future__ import annotations

import asyncio

import httpx

from autobook.sandbox.server import SandboxServer
from tests.sandbox.seeds import event_type_uri
from tests.support.sandbox import SandboxAdmin, async_calendly_client

REQUESTS = 20


async def _race(
    base: str, slug: str, start: str, location: dict[str, str] | None
) -> list[httpx.Response]:
    async with async_calendly_client(base) as client:
        bodies = [
            {
                "event_type": event_type_uri(base, slug),
                "start_time": start,
                "invitee": {
                    "name": f"Racer {i}",
                    "email": f"racer{i}@example.com",
                    "timezone": "UTC",
                },
            }
            | ({"location": location} if location else {})
            for i in range(REQUESTS)
        ]
        return await asyncio.gather(*(client.post("/invitees", json=body) for body in bodies))


def _hold_requests_together(sandbox_admin: SandboxAdmin) -> None:
    # Latency is added before the handler: all twenty requests are in flight at once
    # when they reach the check-and-book step.
    sandbox_admin.set_faults({"seed": 1, "endpoints": {"POST /invitees": {"latency_ms": 150}}})


def test_twenty_concurrent_posts_for_one_solo_slot_book_once(
    sandbox: SandboxServer, sandbox_admin: SandboxAdmin
) -> None:
    _hold_requests_together(sandbox_admin)
    responses = asyncio.run(
        _race(sandbox.url, "solo", "2026-11-30T15:00:00Z", {"kind": "zoom_conference"})
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [400] * (REQUESTS - 1)
    codes = {r.json()["details"][0]["code"] for r in responses if r.status_code == 400}
    assert codes == {"already_filled"}
    assert len(sandbox_admin.ledger()) == 1


def test_concurrent_posts_for_a_group_slot_take_exactly_its_capacity(
    sandbox: SandboxServer, sandbox_admin: SandboxAdmin
) -> None:
    _hold_requests_together(sandbox_admin)
    responses = asyncio.run(_race(sandbox.url, "group", "2026-11-30T15:00:00Z", None))
    created = [response.json()["resource"] for response in responses if response.status_code == 201]
    assert len(created) == 3
    assert len({invitee["event"] for invitee in created}) == 1
    assert sum(1 for response in responses if response.status_code == 400) == REQUESTS - 3
    ledger = sandbox_admin.ledger()
    assert sorted(entry["email"] for entry in ledger) == sorted(
        invitee["email"] for invitee in created
    )


def test_concurrent_round_robin_posts_book_each_host_once(
    sandbox: SandboxServer, sandbox_admin: SandboxAdmin
) -> None:
    _hold_requests_together(sandbox_admin)
    responses = asyncio.run(_race(sandbox.url, "round-robin", "2026-11-30T15:00:00Z", None))
    assert sum(1 for response in responses if response.status_code == 201) == 2
    hosts = [entry["hosts"] for entry in sandbox_admin.ledger()]
    assert len({host for pair in hosts for host in pair}) == 2
