"""The booking calls: submit (one or a batch), read one, cancel one.

Each follows the order of `autobook.serve`: who is calling, media type and size, signature,
rate; then the same validation and record as every other door (`intake.record`, with this
source's id), and the doorbell. The submissions that arrive together are committed in one
transaction (`serve.committer`); one bad item still never costs the others (a failed group is
recorded again item by item), and a batch answers 207 with one result per item, in order.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from autobook import store
from autobook.models import BookingRequestRow
from autobook.serve.answers import answer, record_json
from autobook.serve.body import decode, read_body, require_json
from autobook.serve.callers import (
    Caller,
    check_rate,
    identify_counted,
    refuse_over_rate,
    verify_signature,
)
from autobook.serve.context import IntakeContext
from autobook.serve.problems import AsciiJSONResponse, Refusal, not_found
from autobook.serve.waiting import wait_terminal, waiting_seconds
from autobook.sources.mapping import MappingError, apply

log = logging.getLogger("autobook.serve")

MAX_BATCH = 500
MAX_CANCEL_REASON_CHARS = 255


def _context(request: Request) -> IntakeContext:
    context: IntakeContext = request.app.state.intake
    return context


async def admit(request: Request, *, body_required: bool) -> tuple[Caller, bytes]:
    """Authenticate, check media type and size, verify the signature and count the call."""
    ctx = _context(request)
    caller, verdict = await identify_counted(request, ctx)
    request.state.source = caller.name
    if verdict is not None:  # an API-key call, counted as it was identified
        refuse_over_rate(caller, verdict)
    has_body = body_required or request.headers.get("content-length", "0") not in ("", "0")
    if has_body:
        require_json(request)
    body = await read_body(request)
    if caller.signs:
        delivery_id = await verify_signature(request, caller, body, ctx)
        request.state.delivery = (caller.source_id, delivery_id)
        await check_rate(caller, ctx)
    return caller, body


def _items(
    caller: Caller, document: object, ctx: IntakeContext
) -> tuple[list[object], list[list[str]], bool]:
    batch = isinstance(document, list)
    raw_items: list[object] = list(document) if isinstance(document, list) else [document]
    if batch and len(raw_items) > MAX_BATCH:
        raise Refusal(
            422,
            "Unprocessable Content",
            f"a batch holds at most {MAX_BATCH} requests; this one holds {len(raw_items)}",
        )
    if caller.mapping_yaml is None:
        return raw_items, [[] for _ in raw_items], batch
    try:
        mapping = ctx.mapping(caller.mapping_yaml, caller.name)
    except MappingError:
        raise Refusal(503, "Service Unavailable", "this source's mapping is invalid") from None
    mapped = [apply(mapping, item) for item in raw_items]
    return [m.request for m in mapped], [m.problems for m in mapped], batch


def _existing(ctx: IntakeContext, request_id: str, source_id: int) -> BookingRequestRow | None:
    with ctx.sessions() as session:
        return store.request_of_source(session, request_id, source_id)


async def submit(request: Request) -> Response:
    ctx = _context(request)
    caller, body = await admit(request, body_required=True)
    items, mapping_problems, batch = _items(caller, decode(body), ctx)
    results = await ctx.committer.submit(caller.source_id, items)
    base = str(request.base_url)
    answers = [
        answer(result, source_id=caller.source_id, base_url=base, mapping_problems=problems)
        for result, problems in zip(results, mapping_problems, strict=True)
    ]
    if batch:
        listed = [{**content, "http_status": status} for status, content in answers]
        return AsciiJSONResponse({"results": listed}, status_code=207)
    ((status, content),) = answers
    wait = waiting_seconds(request)
    if status in (200, 202) and wait > 0:  # hold the answer until the outcome is known
        row = await wait_terminal(ctx, results[0].request_id, caller.source_id, wait)
        if row is not None:
            terminal = row.status.is_terminal
            return AsciiJSONResponse(record_json(row, base), status_code=200 if terminal else 202)
    if status == 200:  # the same body again: answer with the request as it stands now
        row = await ctx.run(_existing, ctx, results[0].request_id, caller.source_id)
        if row is not None:
            content = record_json(row, base)
    return AsciiJSONResponse(content, status_code=status)


def _read(ctx: IntakeContext, request_id: str, source_id: int) -> dict[str, Any] | None:
    from autobook.times import utc_z

    with ctx.sessions() as session:
        row = store.request_of_source(session, request_id, source_id)
        if row is None:
            return None
        detail: dict[str, Any] = {"row": row}
        detail["log"] = [
            {"at": utc_z(e.at), "kind": e.kind, "message": e.message}
            for e in store.logs_for(session, row.id)
        ]
        return detail


async def read(request: Request) -> Response:
    ctx = _context(request)
    caller, _ = await admit(request, body_required=False)
    request_id = request.path_params["request_id"]
    found = await ctx.run(_read, ctx, request_id, caller.source_id)
    if found is None:
        raise not_found(f"this source has no request {request_id[:255]!r}")
    content = record_json(found["row"], str(request.base_url))
    content["log"] = found["log"]
    return AsciiJSONResponse(content)


def _cancel_reason(document: object) -> str | None:
    """The optional `{"reason": "..."}` of a cancel; anything else is a 422."""
    if document is None:
        return None
    if isinstance(document, dict) and set(document) <= {"reason"}:
        reason = document.get("reason")
        if reason is None:
            return None
        fits = isinstance(reason, str) and 0 < len(reason) <= MAX_CANCEL_REASON_CHARS
        if fits and reason.isprintable():
            return str(reason)
    raise Refusal(
        422,
        "Unprocessable Content",
        'the body is {"reason": "..."} or nothing',
        problems=[
            {
                "field": "reason",
                "problem": f"is printable text of 1 to {MAX_CANCEL_REASON_CHARS} characters",
            }
        ],
    )


def _withdraw(
    ctx: IntakeContext, request_id: str, source_id: int, reason: str | None
) -> tuple[store.Withdrawal, BookingRequestRow] | None:
    with ctx.sessions.begin() as session:
        row = store.request_of_source(session, request_id, source_id)
        if row is None:
            return None
        outcome = store.withdraw(session, row.id, reason=reason, now=ctx.clock())
    with ctx.sessions() as session:
        return outcome, store.get(session, row.id)


async def cancel(request: Request) -> Response:
    ctx = _context(request)
    caller, body = await admit(request, body_required=False)
    reason = _cancel_reason(decode(body) if body.strip() else None)
    request_id = request.path_params["request_id"]
    done = await ctx.run(_withdraw, ctx, request_id, caller.source_id, reason)
    if done is None:
        raise not_found(f"this source has no request {request_id[:255]!r}")
    outcome, row = done
    if outcome is store.Withdrawal.FINAL:
        raise Refusal(
            409,
            "Conflict",
            f"nothing to cancel: the request ended {row.status} before it was booked",
            extra={"request_id": row.request_id, "status": str(row.status)},
        )
    if outcome is store.Withdrawal.CANCEL_DUE:
        await ctx.run(_ring_quietly, ctx, row.request_id)
    content = record_json(row, str(request.base_url))
    content["cancel"] = str(outcome)
    return AsciiJSONResponse(content, status_code=202)


def _ring_quietly(ctx: IntakeContext, request_id: str) -> None:
    try:
        ctx.ring(request_id)
    except Exception:  # the dispatcher sends it: the request is due in the database
        log.warning(
            "broker unavailable; the cancellation of %s waits for the dispatcher", request_id
        )
