"""Intake: validate, record, then ring the broker's doorbell.

A request is recorded before anything else happens to it, valid or not: the database row is the
promise that nothing is lost. A valid request is `received`, with its next action due now (or at
`start_after`); an invalid one is `invalid`, with a reason per field, and never reaches Calendly.
The `request_id` is the idempotency key: submitting it again returns the existing record and
changes nothing. The task message is sent after the commit and only as a doorbell: if the broker
is down the dispatcher sends it later, when the request is due.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from autobook import store
from autobook.errors import InvalidRequest
from autobook.models import NextAction, RequestStatus
from autobook.requests import parse_request, request_id_of

log = logging.getLogger(__name__)

MALFORMED_PREFIX = "malformed-"
# How much of a malformed message is kept: enough to recognise it, not a whole dump.
MALFORMED_DESCRIPTION_CHARS = 500


@dataclass(frozen=True)
class SubmitResult:
    request_id: str
    status: str
    reason: str | None
    created: bool
    request_pk: int
    due_now: bool


def synthetic_request_id(raw: object) -> str:
    """A stable id for a message that carries none, so the same garbage is recorded once."""
    try:
        text = json.dumps(raw, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        text = repr(raw)
    return MALFORMED_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:16]


def malformed_payload(args: Sequence[object], kwargs: Mapping[str, object]) -> dict[str, str]:
    """What is kept of a queue message that is not a request: a bounded JSON description."""
    try:
        text = json.dumps({"args": list(args), "kwargs": dict(kwargs)}, default=repr)
    except (TypeError, ValueError):
        text = repr((args, kwargs))
    return {"malformed_message": text[:MALFORMED_DESCRIPTION_CHARS]}


def record_malformed(
    session: Session, payload: dict[str, str], reason: str, *, now: datetime
) -> SubmitResult:
    """Record a queue message that is no request at all as `invalid`, once per distinct message.

    `payload` comes from `malformed_payload`; its synthetic id makes a redelivered message (or
    the same garbage sent twice) a no-op, like any resubmission.
    """
    row, created = store.intake(
        session,
        request_id=synthetic_request_id(payload),
        payload=payload,
        status=RequestStatus.INVALID,
        reason=reason,
        now=now,
    )
    return _result(row, created, now)


def record(session: Session, raw: object, *, now: datetime) -> SubmitResult:
    """Validate one raw request and record it; idempotent by request_id."""
    try:
        request = parse_request(raw)
    except InvalidRequest as exc:
        request_id = request_id_of(raw) or synthetic_request_id(raw)
        row, created = store.intake(
            session,
            request_id=request_id,
            payload=raw if isinstance(raw, dict) else {"malformed": repr(raw)[:2000]},
            status=RequestStatus.INVALID,
            reason=exc.message,
            now=now,
        )
    else:
        due_at = max(request.start_after, now) if request.start_after else now
        message = "received"
        if request.start_after and request.start_after > now:
            message = f"received; follow-up held until {request.start_after.isoformat()}"
        row, created = store.intake(
            session,
            request_id=request.request_id,
            payload=raw,
            status=RequestStatus.RECEIVED,
            next_action=NextAction.SEARCH,
            next_action_at=due_at,
            now=now,
            log_message=message,
        )
    return _result(row, created, now)


def _result(row: store.BookingRequestRow, created: bool, now: datetime) -> SubmitResult:
    due_now = (
        created
        and row.status == RequestStatus.RECEIVED
        and row.next_action_at is not None
        and row.next_action_at <= now
    )
    return SubmitResult(
        request_id=row.request_id,
        status=str(row.status),
        reason=row.reason,
        created=created,
        request_pk=row.id,
        due_now=due_now,
    )


def submit_many(
    sessions: sessionmaker[Session],
    raw_items: Iterable[object],
    *,
    now: Callable[[], datetime],
    ring: Callable[[str], None],
) -> list[SubmitResult]:
    """Record each item in its own transaction, then ring the doorbell for those due now."""
    results: list[SubmitResult] = []
    for raw in raw_items:
        with sessions.begin() as session:
            result = record(session, raw, now=now())
        results.append(result)
        if result.due_now:
            try:
                ring(result.request_id)
            except Exception:
                log.warning(
                    "broker unavailable; %s will be sent by the dispatcher", result.request_id
                )
    return results
