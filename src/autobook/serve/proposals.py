"""`POST /v1/proposals`: offer a few matching times, synchronously (DESIGN §8).

The same admission as a booking (a source's credentials, media type, size, rate); the answer
is 200 with the proposal, 422 with `problems` for a bad request (nothing is recorded: a proposal
books nothing), or 422 naming the event type when Calendly refuses it. The proposer is built on
first use, so a deployment that never proposes needs no Calendly token in its intake.
"""

from __future__ import annotations

import threading
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from autobook.errors import CalendlyError, InvalidRequest, RequestRejected
from autobook.proposals.engine import Proposal, Proposer, proposer_for
from autobook.serve.body import decode
from autobook.serve.bookings import admit
from autobook.serve.context import IntakeContext
from autobook.serve.problems import AsciiJSONResponse, Refusal

_lock = threading.Lock()


def shared_proposer(state: Any, ctx: IntakeContext) -> Proposer:
    """The app's one proposer (built on first use), shared by this route and `/v1/mcp`."""
    with _lock:
        proposer: Proposer | None = getattr(state, "proposer", None)
        if proposer is None:
            proposer = proposer_for(ctx.settings, ctx.sessions)
            state.proposer = proposer
        return proposer


def _propose(request: Request, ctx: IntakeContext, document: object, source_id: int) -> Proposal:
    return shared_proposer(request.app.state, ctx).propose(document, source_id=source_id)


async def propose(request: Request) -> Response:
    ctx: IntakeContext = request.app.state.intake
    caller, body = await admit(request, body_required=True)
    document = decode(body)
    try:
        proposal = await ctx.run(_propose, request, ctx, document, caller.source_id)
    except InvalidRequest as exc:
        problems = [{"field": p.field, "problem": p.problem} for p in exc.problems]
        raise Refusal(422, "Unprocessable Content", exc.message, problems=problems) from None
    except RequestRejected as exc:
        raise Refusal(422, "Unprocessable Content", exc.message) from None
    except CalendlyError as exc:
        raise Refusal(
            503,
            "Service Unavailable",
            f"Calendly could not be asked: {exc.message}"[:300],
            headers={"Retry-After": "5"},
        ) from None
    return AsciiJSONResponse(proposal.as_json())
