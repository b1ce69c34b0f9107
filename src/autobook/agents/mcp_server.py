"""`autobook mcp`: the booking tools for AI agents, on the official `mcp` SDK (DESIGN §8).

The tools follow the guide's conversation: find the event type, propose a few times, let the
person choose, book exactly that choice (`book_time` is the confirmation step and books only a
proposed time), then read or cancel it. Each tool's structured output carries the HTTP API's
fields (`POST /v1/proposals`, `GET /v1/bookings/{id}`); a refusal is a tool error whose text
names the field and the reason (e.g. `invitee.email: ... did you mean ada@gmail.com?`).

Transports: stdio (`autobook mcp`, what desktop clients spawn), where the agent is source None
like the command line; and streamable HTTP at `/v1/mcp` on `autobook serve`
(`autobook.serve.mcp`), where the tools act as the source whose API key called: its
authentication puts the source's id in the HTTP request's scope under `SOURCE_SCOPE_KEY`, and
a tool called over HTTP without it refuses. Blocking work (database, Calendly) runs through
`runner` (a worker thread; on `serve`, its bounded pool); waiting for an outcome sleeps on the
event loop, holding no thread.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from typing import Annotated, Any, Protocol, TypeVar

import anyio
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from autobook.agents.service import AgentService, Snapshot
from autobook.errors import AutobookError, InvalidRequest

T = TypeVar("T")

SOURCE_SCOPE_KEY = "autobook.source_id"
MAX_WAIT_SECONDS = 30.0
POLL_SECONDS = 0.2

INSTRUCTIONS = (
    "Book Calendly meetings safely. Never book without the person's confirmation: first "
    "find_event_types, then propose_times and show the labels to the person, then book_time "
    "with the choice they picked. Retrying book_time with the same proposal and choice is "
    "safe: it returns the same booking. Confirm with start_time_local and the cancel_url."
)


class Runner(Protocol):
    """Runs one blocking call off the event loop."""

    async def __call__(self, function: Callable[..., T], /, *args: Any) -> T: ...


async def in_thread(function: Callable[..., T], /, *args: Any) -> T:
    return await anyio.to_thread.run_sync(functools.partial(function, *args))


def source_of(ctx: Context[Any, Any]) -> int | None:
    """The source a tool call acts as: None over stdio, the authenticated source over HTTP."""
    request = ctx.request_context.request
    if request is None:
        return None  # stdio: the operator's own process, as the command line
    scope = getattr(request, "scope", None)
    if not isinstance(scope, dict) or not isinstance(scope.get(SOURCE_SCOPE_KEY), int):
        raise ToolError("not authenticated: call /v1/mcp with a source's API key")
    source_id: int = scope[SOURCE_SCOPE_KEY]
    return source_id


async def _call(run: Runner, function: Callable[..., T], *args: Any) -> T:
    try:
        return await run(function, *args)
    except InvalidRequest as exc:
        raise ToolError("; ".join(str(p) for p in exc.problems) or exc.message) from None
    except AutobookError as exc:
        raise ToolError(exc.message) from None


async def _waited(
    run: Runner, service: AgentService, request_id: str, source_id: int | None, seconds: float
) -> dict[str, Any]:
    """The request once settled, or as it stands after `seconds`."""
    deadline = anyio.current_time() + seconds
    while True:
        now: Snapshot = await _call(run, service.current, request_id, source_id)
        if now.settled or anyio.current_time() >= deadline:
            return now.shown
        await anyio.sleep(min(POLL_SECONDS, max(deadline - anyio.current_time(), 0.0)))


def build_server(
    service: AgentService, runner: Runner = in_thread, wait_seconds: float = MAX_WAIT_SECONDS
) -> MCPServer:
    # WARNING: the SDK logs a failed call with its text at INFO, and that text may quote an email.
    server = MCPServer("autobook", instructions=INSTRUCTIONS, log_level="WARNING")

    @server.tool(structured_output=True)
    async def find_event_types(
        query: Annotated[
            str | None, Field(description="words of the event type's name or slug, e.g. 'demo'")
        ] = None,
        owner: Annotated[
            str | None, Field(description="the host's email, e.g. taylor@acme.com")
        ] = None,
    ) -> dict[str, Any]:
        """List the active event types of the organization that match `query` and `owner`.

        Returns `event_types`: each with `uri` (pass it to propose_times), `name`, `slug`,
        `duration` (minutes), `owner` (host email) and `pooling_type`.
        """
        return await _call(runner, service.find_event_types, query, owner)

    @server.tool(structured_output=True)
    async def propose_times(
        ctx: Context[Any, Any],
        event_type: Annotated[
            str, Field(description="an event type URI from find_event_types, or its slug")
        ],
        timezone: Annotated[
            str, Field(description="the person's IANA timezone, e.g. America/New_York")
        ],
        days: Annotated[
            list[str] | None, Field(description="allowed weekdays, e.g. ['mon', 'wed']")
        ] = None,
        hours: Annotated[
            list[str] | None,
            Field(description="allowed local hours, e.g. ['13:00-17:00'] for afternoons"),
        ] = None,
        earliest: Annotated[
            str | None, Field(description="first allowed day, YYYY-MM-DD, in `timezone`")
        ] = None,
        latest: Annotated[
            str | None, Field(description="last allowed day, YYYY-MM-DD, in `timezone`")
        ] = None,
        count: Annotated[int, Field(ge=1, le=10, description="how many times to offer")] = 3,
    ) -> dict[str, Any]:
        """Offer up to `count` open times that meet the constraints, spread over days and
        mornings/afternoons, labelled in `timezone`. Show the labels to the person and ask which
        one they want. Returns `proposal_id`, `expires_at` and `slots` (each `choice`,
        `start_time` in UTC, `start_time_local`, `label`). Books nothing.
        """
        window: dict[str, Any] = {"timezone": timezone}
        for key, value in (("days", days), ("hours", hours)):
            if value:
                window[key] = value
        for key, text in (("earliest", earliest), ("latest", latest)):
            if text:
                window[key] = text
        ref: object = event_type if "://" in event_type else {"slug": event_type}
        document = {"event_type": ref, "timezone": timezone, "window": window, "count": count}
        return await _call(runner, service.propose_times, document, source_of(ctx))

    @server.tool(structured_output=True)
    async def book_time(
        ctx: Context[Any, Any],
        proposal_id: Annotated[str, Field(description="from propose_times")],
        choice: Annotated[int, Field(ge=1, le=10, description="the slot the person chose")],
        name: Annotated[str, Field(description="the person's full name")],
        email: Annotated[str, Field(description="the person's email")],
        timezone: Annotated[str, Field(description="the person's IANA timezone")],
        guests: Annotated[
            list[str] | None, Field(description="emails of guests to invite (at most 10)")
        ] = None,
        answers: Annotated[
            dict[str, str] | None,
            Field(description="answers to the event type's questions, by question text"),
        ] = None,
        location: Annotated[
            str | None,
            Field(
                description="a location kind, e.g. 'zoom_conference', or 'kind: detail', "
                "e.g. 'outbound_call: +14155550100'"
            ),
        ] = None,
    ) -> dict[str, Any]:
        """Book the time the person confirmed: exactly `choice` of `proposal_id`, nothing else.

        Waits up to 30 s for the outcome and returns the booking's status (`status`,
        `start_time`, `start_time_local`, `cancel_url`, `reschedule_url`, `request_id`, and
        `alternatives` if the time was taken meanwhile). Calling it again with the same
        proposal and choice returns the same booking: it never books twice.
        """
        body: dict[str, Any] = {
            "invitee": {"name": name, "email": email, "timezone": timezone},
        }
        if guests:
            body["event_guests"] = guests
        if answers:
            body["questions_and_answers"] = [
                {"question": q, "answer": a, "position": n}
                for n, (q, a) in enumerate(answers.items())
            ]
        if location:
            kind, _, detail = location.partition(":")
            body["location"] = {
                "kind": kind.strip(),
                **({"location": detail.strip()} if detail.strip() else {}),
            }
        source_id = source_of(ctx)
        request_id = await _call(runner, service.book_time, proposal_id, choice, body, source_id)
        return await _waited(runner, service, request_id, source_id, wait_seconds)

    @server.tool(structured_output=True)
    async def booking_status(
        ctx: Context[Any, Any],
        request_id: Annotated[str, Field(description="the request_id book_time returned")],
    ) -> dict[str, Any]:
        """Read a booking: `status`, `reason`, `start_time`, `start_time_local`, the links, and
        `log` (what happened, in order)."""
        return await _call(runner, service.booking_status, request_id, source_of(ctx))

    @server.tool(structured_output=True)
    async def cancel_booking(
        ctx: Context[Any, Any],
        request_id: Annotated[str, Field(description="the request_id book_time returned")],
        reason: Annotated[str | None, Field(description="why, shown to the host")] = None,
    ) -> dict[str, Any]:
        """Cancel a booking (its meeting is canceled at Calendly once), or withdraw a request
        that is not booked yet. Returns the request as it stands, with `cancel`."""
        source_id = source_of(ctx)
        outcome = await _call(runner, service.cancel_booking, request_id, reason, source_id)
        shown = await _waited(runner, service, request_id, source_id, wait_seconds)
        shown["cancel"] = str(outcome)
        return shown

    return server


def run(args: argparse.Namespace) -> int:
    from autobook import db
    from autobook.config import get_settings
    from autobook.proposals.engine import proposer_for
    from autobook.tasks import BOOK_TASK
    from autobook.worker import create_app

    settings = get_settings()
    db.upgrade(settings.database_url)
    sessions = db.make_session_factory(db.make_engine(settings.database_url))
    app = create_app(settings)

    def ring(request_id: str) -> None:
        app.send_task(BOOK_TASK, args=(request_id,))

    proposer = proposer_for(settings, sessions)
    service = AgentService(lambda: proposer, sessions, ring)
    try:
        build_server(service).run("stdio")
    finally:
        app.close()
    return 0
