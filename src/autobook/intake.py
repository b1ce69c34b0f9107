"""Intake: validate, record, then ring the broker's doorbell.

A request is recorded before anything else happens to it, valid or not: the database row is the
promise that nothing is lost. A valid request is `received`, with its next action due now (or at
`start_after`); an invalid one is `invalid`, with a reason per field, and never reaches Calendly.
The `request_id` is the idempotency key: submitting the same body again returns the existing
record and changes nothing; another body under a known id is a *conflict*, reported to the
producer (who believes they changed the request) and not recorded. Instants and window dates
must lie within two years of now (`request_horizon`). One item never costs a batch the others:
an item that cannot be validated or recorded for any reason other than the database being
unreachable is recorded as `invalid`, with a bounded, storable copy of what was sent. The task
message is sent after the commit and only as a doorbell: if the broker
is down the dispatcher sends it later, when the request is due. `record_together` records the
items of several submissions in one transaction (the HTTP intake's group commit), with the same
rules: one bad item still costs the others nothing.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from autobook import store
from autobook.errors import FieldProblem, InvalidRequest
from autobook.models import NextAction, RequestStatus
from autobook.proposals import choice
from autobook.quoting import quote
from autobook.request_horizon import horizon_problems
from autobook.request_limits import safe_copy
from autobook.requests import BookingRequest, parse_request, request_id_of

log = logging.getLogger(__name__)

MALFORMED_PREFIX = "malformed-"
# Items of one `submit_many` call recorded in one transaction (the HTTP intake takes 500 a call).
SUBMIT_CHUNK = 100
# How much of a malformed message is kept: enough to recognise it, not a whole dump.
MALFORMED_DESCRIPTION_CHARS = 500
MALFORMED_KEPT_CHARS = 2000
# What a failed commit raises when the database could not be reached (as `autobook.store` reads it).
UNREACHABLE_ERRORS = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)


class RecordedRequest(Protocol):
    """What a result is made of: a request row, or what `store.intake_many` answers of one."""

    @property
    def id(self) -> int: ...
    @property
    def request_id(self) -> str: ...
    @property
    def status(self) -> RequestStatus: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def next_action_at(self) -> datetime | None: ...
    @property
    def source_id(self) -> int | None: ...
    @property
    def payload(self) -> object: ...


@dataclass(frozen=True)
class SubmitResult:
    request_id: str
    status: str
    reason: str | None
    created: bool
    request_pk: int
    due_now: bool
    conflict: str | None = None  # set when the id was known with another body (not recorded)
    source_id: int | None = None  # the HTTP source the recorded request belongs to
    problems: tuple[FieldProblem, ...] = ()  # why this body is invalid, field by field


def synthetic_request_id(raw: object) -> str:
    """A stable id for a message that carries none, so the same garbage is recorded once."""
    try:
        text = json.dumps(raw, sort_keys=True, default=repr)
    except Exception:  # a cycle, depth, a hostile __repr__: hash what would be stored instead
        text = json.dumps(safe_copy(raw), sort_keys=True)
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


def _validated(raw: object, now: datetime) -> BookingRequest:
    request = parse_request(raw)
    problems = horizon_problems(request, now)
    if problems:
        raise InvalidRequest(problems, request_id=request.request_id)
    return request


def _non_object_payload(raw: object) -> dict[str, str]:
    return {"malformed": quote(repr(raw) if isinstance(raw, str) else raw, MALFORMED_KEPT_CHARS)}


def _canonical(payload: object) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))


def _conflict(row: RecordedRequest, payload: object) -> str | None:
    if _canonical(row.payload) == _canonical(payload):
        return None
    return (
        f"request_id {row.request_id} is already recorded with another body; this body was not "
        "recorded (a request_id names one request for ever): send it under a new request_id"
    )


@dataclass(frozen=True)
class _Prepared:
    """One raw item, validated: what to record, and what a resubmission is compared with."""

    entry: store.IntakeEntry
    payload: object
    problems: tuple[FieldProblem, ...] = ()


def _prepare(session: Session, raw: object, *, now: datetime, source_id: int | None) -> _Prepared:
    # The same booking of a proposed time sent again is answered from its record before its
    # proposal is read: after the proposal expired, it is still a resubmission, not a conflict.
    # Its entry is the record itself, so recording it finds the row and changes nothing.
    recorded = choice.resubmitted(session, raw, source_id=source_id)
    if recorded is not None:
        entry = store.IntakeEntry(recorded.request_id, recorded.payload, source_id=source_id)
        return _Prepared(entry, recorded.payload)
    try:
        # A booking of a proposed time is completed from its proposal (`proposals.choice`).
        expanded = choice.expand(session, raw, now=now, source_id=source_id)
        request = _validated(expanded, now)
    except InvalidRequest as exc:
        payload = safe_copy(raw) if isinstance(raw, dict) else _non_object_payload(raw)
        entry = store.IntakeEntry(
            request_id=request_id_of(raw) or synthetic_request_id(raw),
            payload=payload,
            status=RequestStatus.INVALID,
            reason=exc.message,
            source_id=source_id,
        )
        return _Prepared(entry, payload, tuple(exc.problems))
    due_at = max(request.start_after, now) if request.start_after else now
    message = "received"
    if request.start_after and request.start_after > now:
        message = f"received; follow-up held until {request.start_after.isoformat()}"
    entry = store.IntakeEntry(
        request_id=request.request_id,
        payload=expanded,
        next_action=NextAction.SEARCH,
        next_action_at=due_at,
        log_message=message,
        source_id=source_id,
    )
    return _Prepared(entry, expanded)


def _recorded(
    prepared: _Prepared, row: RecordedRequest, created: bool, now: datetime
) -> SubmitResult:
    conflict = None if created else _conflict(row, prepared.payload)
    return _result(row, created, now, conflict, prepared.problems)


def record(
    session: Session, raw: object, *, now: datetime, source_id: int | None = None
) -> SubmitResult:
    """Validate one raw request and record it; idempotent by request_id.

    `source_id` names the HTTP source that sent it (None for the other doors).
    """
    prepared = _prepare(session, raw, now=now, source_id=source_id)
    entry = prepared.entry
    row, created = store.intake(
        session,
        request_id=entry.request_id,
        payload=entry.payload,
        status=entry.status,
        reason=entry.reason,
        next_action=entry.next_action,
        next_action_at=entry.next_action_at,
        now=now,
        log_message=entry.log_message,
        source_id=entry.source_id,
    )
    return _recorded(prepared, row, created, now)


def _result(
    row: RecordedRequest,
    created: bool,
    now: datetime,
    conflict: str | None = None,
    problems: tuple[FieldProblem, ...] = (),
) -> SubmitResult:
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
        conflict=conflict,
        source_id=row.source_id,
        problems=problems,
    )


def _record_one(
    sessions: sessionmaker[Session], raw: object, now: datetime, source_id: int | None
) -> SubmitResult:
    """Record one item; an item that breaks recording is recorded as invalid instead."""
    try:
        with sessions.begin() as session:
            return record(session, raw, now=now, source_id=source_id)
    except store.StoreUnavailable:
        raise  # the database is down: nothing can be recorded, and the caller must know
    except Exception as exc:
        # A bug or a value no check foresaw must not cost the batch its other items.
        log.exception("an item could not be recorded as sent; recording it as invalid")
        payload = _non_object_payload(raw)
        reason = f"request: could not be recorded as sent ({type(exc).__name__}): fix and resend it"
        with sessions.begin() as session:
            row, created = store.intake(
                session,
                request_id=synthetic_request_id(raw),
                payload=payload,
                status=RequestStatus.INVALID,
                reason=reason,
                now=now,
                source_id=source_id,
            )
            return _result(row, created, now)


def submit_many(
    sessions: sessionmaker[Session],
    raw_items: Iterable[object],
    *,
    now: Callable[[], datetime],
    ring: Callable[[str], None] | None = None,
    source_id: int | None = None,
    ring_many: Callable[[Sequence[str]], None] | None = None,
) -> list[SubmitResult]:
    """Record the items, then ring the doorbell for those due now; a result per item, in order.

    The items are recorded `SUBMIT_CHUNK` at a time, each chunk in one transaction
    (`record_together`: one bad item still costs the others nothing), and the doorbells of a
    chunk are rung once it is committed: `ring` for each request, or `ring_many` once for the
    chunk (`autobook.doorbell.Doorbell.ring_many`: one broker round trip). A doorbell that
    fails is logged and left to the dispatcher, which sends every due request anyway.
    """
    if ring_many is None:
        if ring is None:
            raise TypeError("submit_many needs ring or ring_many to ring the doorbell")
        ring_many = functools.partial(_ring_each, ring)
    results: list[SubmitResult] = []
    items = iter(raw_items)
    while chunk := list(itertools.islice(items, SUBMIT_CHUNK)):
        (recorded,) = record_together(sessions, [(source_id, chunk)], now=now)
        results.extend(recorded)
        due = [result.request_id for result in recorded if result.due_now]
        if not due:
            continue
        try:
            ring_many(due)
        except Exception:
            log.warning(
                "broker unavailable; %d request(s) will be sent by the dispatcher", len(due)
            )
    return results


def _ring_each(ring: Callable[[str], None], request_ids: Sequence[str]) -> None:
    """Ring for each request; one that fails is left to the dispatcher, the others still go."""
    for request_id in request_ids:
        try:
            ring(request_id)
        except Exception:
            log.warning("broker unavailable; %s will be sent by the dispatcher", request_id)


def record_together(
    sessions: sessionmaker[Session],
    groups: Sequence[tuple[int | None, Sequence[object]]],
    *,
    now: Callable[[], datetime],
) -> list[list[SubmitResult]]:
    """Record the items of several submissions in one transaction: a group commit.

    `groups` are (source_id, items) pairs; the answer holds one list of results per group, in
    order. One commit and a few statements (`store.intake_many`) for many requests is what lets
    a busy intake keep up; it must not let one item cost the others. So if the shared
    transaction fails for any reason but the database being unreachable (then
    `store.StoreUnavailable` is raised for every group: nothing was recorded), it is rolled back
    whole and each item is recorded again in its own transaction, as `submit_many` does. Nobody
    has been answered before the commit, so a rollback loses nothing anyone was told was
    recorded. No doorbell is rung here: the caller rings, after this.
    """
    try:
        with sessions.begin() as session:
            at = now()  # the group is recorded at one instant
            prepared = [
                [_prepare(session, raw, now=at, source_id=source_id) for raw in items]
                for source_id, items in groups
            ]
            entries = [p.entry for group in prepared for p in group]
            recorded = iter(store.intake_many(session, entries, now=at))
            return [[_recorded(p, *next(recorded), at) for p in group] for group in prepared]
    except store.StoreUnavailable:
        raise
    except UNREACHABLE_ERRORS as exc:  # the commit itself, which no store function wraps
        raise store.StoreUnavailable(f"the commit failed: {type(exc).__name__}") from None
    except Exception:
        log.exception("a group commit failed; recording its items one transaction each")
    return [
        [_record_one(sessions, raw, now(), source_id) for raw in items]
        for source_id, items in groups
    ]
