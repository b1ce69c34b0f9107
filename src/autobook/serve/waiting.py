"""`?wait=SECONDS` on `POST /v1/bookings`: hold the answer until the request is terminal.

At most `MAX_WAIT_SECONDS` (30), so an agent gets its confirmation in one call: the booked
time, its local rendering and the cancel and reschedule links. The request is read from the
database every `POLL_SECONDS`; the wait ends early once it is terminal. When the time is up the
answer is the request as it stands, with 202.
"""

from __future__ import annotations

import time

import anyio
from starlette.requests import Request

from autobook import store
from autobook.models import BookingRequestRow
from autobook.serve.context import IntakeContext
from autobook.serve.problems import Refusal

MAX_WAIT_SECONDS = 30.0
POLL_SECONDS = 0.2


def waiting_seconds(request: Request) -> float:
    text = request.query_params.get("wait")
    if text is None:
        return 0.0
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_WAIT_SECONDS:
        raise Refusal(
            422,
            "Unprocessable Content",
            f"wait is a number of seconds from 0 to {MAX_WAIT_SECONDS:.0f}",
            problems=[{"field": "wait", "problem": f"is 0 to {MAX_WAIT_SECONDS:.0f} seconds"}],
        )
    return seconds


def _read(ctx: IntakeContext, request_id: str, source_id: int) -> BookingRequestRow | None:
    with ctx.sessions() as session:
        return store.request_of_source(session, request_id, source_id)


async def wait_terminal(
    ctx: IntakeContext, request_id: str, source_id: int, seconds: float
) -> BookingRequestRow | None:
    deadline = time.monotonic() + seconds
    while True:
        row = await ctx.run(_read, ctx, request_id, source_id)
        if row is None or row.status.is_terminal or time.monotonic() >= deadline:
            return row
        await anyio.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0.0)))
