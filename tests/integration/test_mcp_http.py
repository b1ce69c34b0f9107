"""The MCP tools over streamable HTTP at `/v1/mcp` on `autobook serve`, with the SDK's client.

The stack's sandbox and worker book; `autobook serve` runs as a subprocess. Without a key the
endpoint answers 401 JSON, as every `/v1` call does, and the SDK's client cannot even start.
With a source's key the agent lists the tools, proposes, books choice 2 and retries
`book_time`, also once the proposal expired: the sandbox holds one booking, at the chosen
time. Another source's key does not see that request.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import httpx
import httpx2
import pytest
from mcp import ClientSession, MCPError
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import select, update

from autobook.models import ProposalRow
from tests.conftest import ProxiedStack, StartStack
from tests.support.intake import Intake, start_intake

pytestmark = pytest.mark.slow

NEW_YORK = ZoneInfo("America/New_York")
TOOLS = {"find_event_types", "propose_times", "book_time", "booking_status", "cancel_booking"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "stranger", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


def _weeks_ahead(weeks: int) -> tuple[str, str]:
    today = datetime.now(UTC).astimezone(NEW_YORK).date()
    monday = today - timedelta(days=today.weekday()) + timedelta(weeks=weeks)
    return monday.isoformat(), (monday + timedelta(days=4)).isoformat()


def _client(key: str) -> httpx2.AsyncClient:
    # book_time holds its answer up to 30 s for the outcome: the read timeout must be longer.
    return httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {key}"}, timeout=httpx2.Timeout(30.0, read=90.0)
    )


async def _call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content
    content: dict[str, Any] = result.structured_content
    return content


async def _as_source(url: str, key: str, steps: Any) -> Any:
    async with (
        _client(key) as client,
        streamable_http_client(f"{url}/v1/mcp", http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        return await steps(session)


async def _agent(url: str, key: str, stack: ProxiedStack) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def steps(session: ClientSession) -> None:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert set(tools) == TOOLS
        assert "ctx" not in str(tools["book_time"].input_schema)
        earliest, latest = _weeks_ahead(2)
        proposal = await _call(
            session,
            "propose_times",
            event_type="demo",
            timezone="America/New_York",
            hours=["13:00-17:00"],
            earliest=earliest,
            latest=latest,
        )
        arguments = {
            "proposal_id": proposal["proposal_id"],
            "choice": 2,
            "name": "Alan Turing",
            "email": "alan@example.com",
            "timezone": "America/New_York",
        }
        booked = await _call(session, "book_time", **arguments)
        again = await _call(session, "book_time", **arguments)
        with stack.sessions.begin() as db:  # the proposal expires; the booking stands
            db.execute(
                update(ProposalRow)
                .where(ProposalRow.proposal_id == proposal["proposal_id"])
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        after_expiry = await _call(session, "book_time", **arguments)
        other_choice = await session.call_tool("book_time", {**arguments, "choice": 1})
        seen.update(
            proposal=proposal,
            booked=booked,
            again=again,
            after_expiry=after_expiry,
            other_choice=other_choice,
        )

    await _as_source(url, key, steps)
    return seen


async def _stranger_reads(url: str, key: str, request_id: str) -> tuple[bool, str]:
    async def steps(session: ClientSession) -> tuple[bool, str]:
        result = await session.call_tool("booking_status", {"request_id": request_id})
        return result.is_error, result.content[0].text  # type: ignore[union-attr]

    answer: tuple[bool, str] = await _as_source(url, key, steps)
    return answer


async def _without_key(url: str) -> None:
    async with (
        httpx2.AsyncClient() as client,
        streamable_http_client(f"{url}/v1/mcp", http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        with anyio.fail_after(30):
            await session.initialize()


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> ProxiedStack:
    return start_stack("embedded")


@pytest.fixture(scope="module")
def intake(stack: ProxiedStack) -> Intake:
    return start_intake(stack)


def test_mcp_over_http_refuses_a_call_without_a_key(intake: Intake) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-key"}):
        response = httpx.post(
            f"{intake.url}/v1/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **headers}
        )
        assert response.status_code == 401, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert "credentials" in response.text or "key" in response.text
    # The SDK's client gets the 401 as an error response and can't initialize.
    refused = pytest.RaisesExc(MCPError, match="error response")
    with pytest.RaisesGroup(refused, flatten_subgroups=True):
        anyio.run(_without_key, intake.url)


def test_an_agent_books_the_chosen_time_once_over_http_as_its_source(
    intake: Intake, stack: ProxiedStack
) -> None:
    key = intake.add_source("assistant")
    seen = anyio.run(_agent, intake.url, key, stack)
    chosen = seen["proposal"]["slots"][1]
    assert seen["booked"]["status"] == "booked", seen["booked"]
    assert seen["booked"]["start_time"] == chosen["start_time"]
    for retry in ("again", "after_expiry"):
        assert seen[retry]["request_id"] == seen["booked"]["request_id"]
        assert seen[retry]["event_uri"] == seen["booked"]["event_uri"]
    assert seen["other_choice"].is_error
    assert "expired" in seen["other_choice"].content[0].text
    ledger = [e for e in stack.admin.ledger() if e["email"] == "alan@example.com"]
    assert len(ledger) == 1
    start = datetime.fromisoformat(ledger[0]["start_time"].replace("Z", "+00:00"))
    assert start == datetime.fromisoformat(chosen["start_time"].replace("Z", "+00:00"))
    with stack.sessions() as session:
        statement = select(ProposalRow.source_id).where(
            ProposalRow.proposal_id == seen["proposal"]["proposal_id"]
        )
        assert session.scalar(statement) is not None  # made as the source, not as source None
    stranger = intake.add_source("stranger")
    is_error, text = anyio.run(_stranger_reads, intake.url, stranger, seen["booked"]["request_id"])
    assert is_error
    assert "no request" in text
