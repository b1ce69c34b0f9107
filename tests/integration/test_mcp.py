"""`autobook mcp` driven over stdio by the `mcp` SDK's own client, as an agent would (issue 14).

The stack's sandbox and worker book; `autobook mcp` runs as a subprocess with the worker's
settings. The agent lists the tools, finds Taylor's demo, proposes, books choice 2, reads the
status, then retries `book_time` with the same arguments: the sandbox holds one booking, at
the chosen time.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.conftest import ProxiedStack, StartStack

pytestmark = pytest.mark.slow

NEW_YORK = ZoneInfo("America/New_York")
TOOLS = {"find_event_types", "propose_times", "book_time", "booking_status", "cancel_booking"}


def _next_week() -> tuple[str, str]:
    today = datetime.now(UTC).astimezone(NEW_YORK).date()
    monday = today - timedelta(days=today.weekday()) + timedelta(weeks=1)
    return monday.isoformat(), (monday + timedelta(days=4)).isoformat()


async def _call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content
    content: dict[str, Any] = result.structured_content
    return content


async def _agent(stack: ProxiedStack) -> dict[str, Any]:
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "autobook", "mcp"], env=stack.local.worker_env()
    )
    seen: dict[str, Any] = {}
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert set(tools) == TOOLS
        assert all(tool.description for tool in tools.values())
        assert "timezone" in tools["propose_times"].input_schema["required"]
        found = await _call(session, "find_event_types", query="demo", owner="taylor@acme.com")
        (demo,) = [e for e in found["event_types"] if e["name"] == "30 Minute Demo"]
        earliest, latest = _next_week()
        proposal = await _call(
            session,
            "propose_times",
            event_type=demo["uri"],
            timezone="America/New_York",
            hours=["13:00-17:00"],
            earliest=earliest,
            latest=latest,
        )
        arguments = {
            "proposal_id": proposal["proposal_id"],
            "choice": 2,
            "name": "Grace Hopper",
            "email": "grace@example.com",
            "timezone": "America/New_York",
        }
        typo = await session.call_tool("book_time", {**arguments, "email": "grace@gmial.com"})
        assert typo.is_error
        assert "gmail.com" in typo.content[0].text  # type: ignore[union-attr]
        booked = await _call(session, "book_time", **arguments)
        status = await _call(session, "booking_status", request_id=booked["request_id"])
        again = await _call(session, "book_time", **arguments)
        seen.update(proposal=proposal, booked=booked, status=status, again=again)
    return seen


def test_an_agent_books_the_chosen_time_once_over_stdio(start_stack: StartStack) -> None:
    stack = start_stack("embedded")
    seen = anyio.run(_agent, stack)
    chosen = seen["proposal"]["slots"][1]
    assert seen["booked"]["status"] == "booked", seen["booked"]
    assert seen["booked"]["start_time"] == chosen["start_time"]
    assert seen["status"]["status"] == "booked"
    assert seen["status"]["log"]
    assert seen["again"]["request_id"] == seen["booked"]["request_id"]
    assert seen["again"]["event_uri"] == seen["booked"]["event_uri"]
    ledger = [e for e in stack.admin.ledger() if e["email"] == "grace@example.com"]
    assert len(ledger) == 1
    start = datetime.fromisoformat(ledger[0]["start_time"].replace("Z", "+00:00"))
    assert start == datetime.fromisoformat(chosen["start_time"].replace("Z", "+00:00"))
