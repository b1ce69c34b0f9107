"""A request's life: intake, claim, fenced updates, lease renewal, release, and its log.

Each transition is one conditional SQL statement whose WHERE clause is the rule:
- `intake` inserts with `ON CONFLICT (request_id) DO NOTHING`: a second intake of the same id,
  even a concurrent one, returns the first row unchanged. `intake_many` does the same for many
  requests in a few statements (a multi-row INSERT), for the HTTP intake's group commit.
- `claim` bumps the fence and takes the lease only if the request is non-terminal, due, not
  leased (or the lease expired) and sending is not paused. SQLite: one `UPDATE ... RETURNING`
  (writers are serialized). PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED`, then the UPDATE, so
  concurrent claimers never wait for each other and exactly one wins. `claim_row` claims by
  primary key or `request_id` and returns the row with the claim, in that one statement on
  PostgreSQL (a booking's claim is one round trip, with no read before or after it).
- `update_claimed`, `renew_lease` and `release` apply only `WHERE id = :pk AND fence = :fence`:
  after someone else re-claimed the request, a stale worker writes nothing, and a False (or None)
  tells it to stop at once.
- `release` ends the claim: a terminal status gets `next_action = none` and `finished_at`; any
  other status must name its next action and when, so nothing sits forever. On PostgreSQL a
  release into a final status is one statement too: it returns the status it replaced (read
  under the row lock) and the row, which its callback is built from.
- `log` only ever inserts; the database refuses updates of `request_log`.
- A release into a terminal status the request did not have writes its callback to the outbox
  in the same transaction (`store.outbox`); so does an intake recorded `invalid`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Update, bindparam, case, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from autobook.callbacks.event import event_name
from autobook.models import (
    BookingRequestRow,
    LogKind,
    NextAction,
    RequestLogRow,
    RequestStatus,
    UTCDateTime,
)
from autobook.store import outbox
from autobook.store._common import (
    Claim,
    StoreError,
    aware_utc,
    dialect_name,
    is_claimable,
    now_or_utcnow,
    table_of,
    transactional,
)

Row = BookingRequestRow
# History lines go in through the table: one INSERT however many lines (see `log_many`).
_LOG_TABLE = table_of(RequestLogRow)

# Columns a claim holder may set. The others are the store's own: identity, the raw payload,
# the lease and fence, the dispatch mark, the attempt counter and the timestamps.
CLAIMED_FIELDS: frozenset[str] = frozenset(
    {
        "status",
        "reason",
        "next_action",
        "next_action_at",
        "event_type_uri",
        "excluded_slots",
        "correlation_token",
        "start_time",
        "end_time",
        "event_uri",
        "invitee_uri",
        "cancel_url",
        "reschedule_url",
        "location",
        "host_uri",
        "host_name",
        "host_email",
        "extra",
        "transient_failures",
    }
)
RELEASE_FIELDS: frozenset[str] = CLAIMED_FIELDS - {
    "status",
    "reason",
    "next_action",
    "next_action_at",
}


def load_row(session: Session, request_pk: int) -> Row | None:
    """The row as the database has it now (not a stale copy from the session's identity map)."""
    statement = select(Row).where(Row.id == request_pk).execution_options(populate_existing=True)
    return session.execute(statement).scalar_one_or_none()


def _intake_log_kind(status: RequestStatus) -> str:
    if status is RequestStatus.RECEIVED:
        return LogKind.RECEIVED
    return LogKind.INVALID if status is RequestStatus.INVALID else status.value


@dataclass(frozen=True)
class IntakeEntry:
    """One request to record with `intake_many`: the arguments of `intake`."""

    request_id: str
    payload: object
    status: RequestStatus = RequestStatus.RECEIVED
    reason: str | None = None
    next_action: NextAction = NextAction.SEARCH
    next_action_at: datetime | None = None
    log_message: str | None = None
    source_id: int | None = None


LOADED_ROWS_PER_STATEMENT = 500


def _intake_values(entry: IntakeEntry, now: datetime) -> dict[str, Any]:
    status = RequestStatus(entry.status)
    if status is not RequestStatus.RECEIVED and not status.is_terminal:
        raise ValueError(f"intake records a request as received or terminal, not {status}")
    terminal = status.is_terminal
    if not terminal and entry.next_action is NextAction.NONE:
        raise ValueError("a received request needs a next action")
    next_action_at = entry.next_action_at or now
    return {
        "request_id": entry.request_id,
        "source_id": entry.source_id,
        "status": status,
        "reason": entry.reason,
        "payload": entry.payload,
        "attempts": 0,
        "transient_failures": 0,
        "fence": 0,
        "excluded_slots": [],
        "extra": {},
        "next_action": NextAction.NONE if terminal else entry.next_action,
        "next_action_at": None if terminal else aware_utc(next_action_at, "next_action_at"),
        "created_at": now,
        "updated_at": now,
        "finished_at": now if terminal else None,
    }


def _insert_ignoring_known(session: Session, values: list[dict[str, Any]]) -> Any:
    """INSERT ... ON CONFLICT (request_id) DO NOTHING, in this database's dialect."""
    backend = dialect_name(session)
    if backend == "postgresql":
        statement = postgresql_insert(Row).values(values)
        return statement.on_conflict_do_nothing(index_elements=[Row.request_id])
    if backend == "sqlite":
        lite = sqlite_insert(Row).values(values)
        return lite.on_conflict_do_nothing(index_elements=[Row.request_id])
    raise StoreError(f"autobook runs on SQLite or PostgreSQL, not {backend}")


def _insert_many_ignoring_known(session: Session) -> Any:
    """The same, as one statement for many parameter sets: SQLAlchemy compiles it once and
    sends the sets as multi-row INSERTs ("insertmanyvalues"), RETURNING the rows it inserted."""
    table = table_of(BookingRequestRow)
    backend = dialect_name(session)
    if backend == "postgresql":
        statement = postgresql_insert(table).on_conflict_do_nothing(index_elements=["request_id"])
    elif backend == "sqlite":
        lite = sqlite_insert(table).on_conflict_do_nothing(index_elements=["request_id"])
        statement = lite  # type: ignore[assignment]
    else:
        raise StoreError(f"autobook runs on SQLite or PostgreSQL, not {backend}")
    return statement.returning(table.c.id, table.c.request_id)


def _first_log(session: Session, request_pk: int, entry: IntakeEntry, now: datetime) -> None:
    """The new request's first log entry, and the callback of one recorded terminal."""
    status = RequestStatus(entry.status)
    message = entry.log_message or entry.reason or status.value
    _insert_log(session, request_pk, _intake_log_kind(status), message, None, now)
    if status.is_terminal:
        outbox.write(session, request_pk, event_name(status), now=now)


@transactional
def intake(
    session: Session,
    /,
    *,
    request_id: str,
    payload: object,
    status: RequestStatus = RequestStatus.RECEIVED,
    reason: str | None = None,
    next_action: NextAction = NextAction.SEARCH,
    next_action_at: datetime | None = None,
    now: datetime | None = None,
    log_message: str | None = None,
    source_id: int | None = None,
) -> tuple[Row, bool]:
    """Record a request once; returns (row, created). A known request_id changes nothing.

    A new request is `received` (due at `next_action_at`, default now) or terminal (`invalid`,
    with its reason, never due). Its first log entry is written in the same transaction.
    """
    now = now_or_utcnow(now)
    entry = IntakeEntry(
        request_id, payload, status, reason, next_action, next_action_at, log_message, source_id
    )
    statement = _insert_ignoring_known(session, [_intake_values(entry, now)])
    # The new row comes back whole from the INSERT: no read after it.
    row: Row | None = session.execute(
        statement.returning(Row).execution_options(populate_existing=True)
    ).scalar_one_or_none()
    created = row is not None
    if row is not None:
        _first_log(session, row.id, entry, now)
    else:
        row = session.execute(
            select(Row)
            .where(Row.request_id == request_id)
            .execution_options(populate_existing=True)
        ).scalar_one()
    return row, created


@dataclass(frozen=True)
class Recorded:
    """What `intake_many` answers of one recorded request: the columns its caller reads."""

    id: int
    request_id: str
    status: RequestStatus
    reason: str | None
    next_action_at: datetime | None
    source_id: int | None
    payload: Any


def _recorded_columns() -> tuple[Any, ...]:
    c = table_of(BookingRequestRow).c
    return (c.id, c.request_id, c.status, c.reason, c.next_action_at, c.source_id, c.payload)


@transactional
def intake_many(
    session: Session, /, entries: Sequence[IntakeEntry], *, now: datetime | None = None
) -> list[tuple[Recorded, bool]]:
    """`intake` for many requests at once: (recorded, created) for each entry, in order.

    Two statements for the lot (a multi-row INSERT, one for their log entries) instead of three
    per request: the group commit of `autobook serve` records its calls so. A new request is
    answered from what was inserted (no read after it, no ORM objects: this is the intake's hot
    path); only the requests that were known already are read, in one SELECT. A request_id that
    appears twice is recorded from its first entry; a later one is not created (as a second
    `intake` would not be), and the caller compares its body with the recorded one.
    """
    now = now_or_utcnow(now)
    values = [_intake_values(entry, now) for entry in entries]
    first: dict[str, int] = {}  # request_id -> the index of its first entry
    for index, entry in enumerate(entries):
        first.setdefault(entry.request_id, index)
    fresh = [values[index] for index in first.values()]
    inserted = session.execute(_insert_many_ignoring_known(session), fresh)
    new_pks: dict[str, int] = {request_id: pk for pk, request_id in inserted}
    logs = []
    for request_id, pk in new_pks.items():
        entry = entries[first[request_id]]
        status = RequestStatus(entry.status)
        message = entry.log_message or entry.reason or status.value
        kind = str(_intake_log_kind(status))
        logs.append({"request_pk": pk, "at": now, "kind": kind, "message": message, "data": None})
    if logs:
        session.execute(insert(_LOG_TABLE), logs)
    for request_id, pk in new_pks.items():
        status = RequestStatus(entries[first[request_id]].status)
        if status.is_terminal:
            outbox.write(session, pk, event_name(status), now=now)
    recorded: dict[str, Recorded] = {}
    for request_id, pk in new_pks.items():
        value = values[first[request_id]]
        recorded[request_id] = Recorded(
            pk,
            request_id,
            value["status"],
            value["reason"],
            value["next_action_at"],
            value["source_id"],
            value["payload"],
        )
    known = [request_id for request_id in first if request_id not in new_pks]
    for start in range(0, len(known), LOADED_ROWS_PER_STATEMENT):
        statement = select(*_recorded_columns()).where(
            Row.request_id.in_(known[start : start + LOADED_ROWS_PER_STATEMENT])
        )
        recorded.update({row.request_id: Recorded(*row) for row in session.execute(statement)})
    created = {first[request_id] for request_id in new_pks}
    return [(recorded[entry.request_id], index in created) for index, entry in enumerate(entries)]


@transactional
def claim(
    session: Session, /, request_pk: int, *, worker: str, lease: timedelta, now: datetime
) -> Claim | None:
    """Take the request for `lease` if it is claimable now; None if it is not (or is taken)."""
    now = aware_utc(now)
    expires = now + lease
    take = (
        update(Row)
        .values(fence=Row.fence + 1, lease_owner=worker, lease_expires_at=expires, updated_at=now)
        .returning(Row.fence)
        .execution_options(synchronize_session=False)
    )
    if dialect_name(session) == "postgresql":
        # One round trip; SKIP LOCKED: a row another claimer is updating is not waited for.
        claimable = (
            select(Row.id)
            .where(Row.id == request_pk, is_claimable(now))
            .with_for_update(skip_locked=True, of=Row)
            .scalar_subquery()
        )
        fence: int | None = session.execute(take.where(Row.id == claimable)).scalar_one_or_none()
    else:
        fence = session.execute(
            take.where(Row.id == request_pk, is_claimable(now))
        ).scalar_one_or_none()
    if fence is None:
        return None
    return Claim(request_pk=request_pk, fence=fence, lease_expires_at=expires, worker=worker)


@dataclass(frozen=True)
class Claimed:
    """A claim and the request's row as the claim found it (see `claim_row`)."""

    claim: Claim
    row: Row


@transactional
def claim_row(
    session: Session,
    /,
    *,
    request_pk: int | None = None,
    request_id: str | None = None,
    worker: str,
    lease: timedelta,
    now: datetime,
) -> Claimed | None:
    """`claim` the request (by primary key or by `request_id`) and read its row with it.

    A request whose next action is `search` is marked `searching` by the same write. The row
    comes back with its lease and fence as claimed and its status as it was before the claim (a
    waiting request searched again is told from one searched for the first time). PostgreSQL:
    one statement, `UPDATE ... FROM (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING` the row and
    the previous status, so a booking's claim is one round trip. SQLite, whose RETURNING sees
    only new values: the claim returns the row, then a fenced write marks it `searching`.
    """
    if (request_pk is None) == (request_id is None):
        raise ValueError("claim a request by its primary key or by its request_id")
    now = aware_utc(now)
    expires = now + lease
    postgresql = dialect_name(session) == "postgresql"
    statement = _claim_row_statement(postgresql, by_request_id=request_id is not None)
    params = {
        "key": request_pk if request_id is None else request_id,
        "worker": worker,
        "expires": expires,
        "now": now,
    }
    found = session.execute(statement, params).one_or_none()
    if found is None:
        return None
    row: Row = found[0]
    session.expunge(row)  # detached first: the status below is what the claim found
    if postgresql:
        row.status = found[1]
    claim = Claim(request_pk=row.id, fence=row.fence, lease_expires_at=expires, worker=worker)
    if row.next_action is NextAction.SEARCH and not postgresql:
        fenced_update(session, claim, {"status": RequestStatus.SEARCHING, "updated_at": now})
    return Claimed(claim, row)


@functools.cache
def _claim_row_statement(postgresql: bool, *, by_request_id: bool) -> Update:
    """The statement of `claim_row`, built once: building it (the claimable rule, the ORM's
    RETURNING of the row) cost more CPU than running it. Its values are bound parameters:
    `key` (the primary key or request_id), `worker`, `expires` and `now`."""
    now = bindparam("now", type_=UTCDateTime())
    key_column = Row.request_id if by_request_id else Row.id
    key = key_column == bindparam("key", type_=key_column.type)
    values: dict[str, Any] = {
        "fence": Row.fence + 1,
        "lease_owner": bindparam("worker", type_=Row.lease_owner.type),
        "lease_expires_at": bindparam("expires", type_=UTCDateTime()),
        "updated_at": now,
    }
    options = {"synchronize_session": False, "populate_existing": True}
    if not postgresql:
        return (
            update(Row)
            .where(key, is_claimable(now))
            .values(values)
            .returning(Row)
            .execution_options(**options)
        )
    previous = (
        select(Row.id, Row.status)
        .where(key, is_claimable(now))
        .with_for_update(skip_locked=True, of=Row)
        .subquery("previous")
    )
    searching = literal(RequestStatus.SEARCHING, Row.status.type)
    values["status"] = case((Row.next_action == NextAction.SEARCH, searching), else_=Row.status)
    return (
        update(Row)
        .where(Row.id == previous.c.id)
        .values(values)
        .returning(Row, previous.c.status)
        .execution_options(**options)
    )


def fenced_update(session: Session, claim: Claim, values: dict[str, Any]) -> bool:
    """`UPDATE booking_request SET ... WHERE id = :pk AND fence = :fence`; True if it applied."""
    statement = (
        update(Row)
        .where(Row.id == claim.request_pk, Row.fence == claim.fence)
        .values(values)
        .returning(Row.id)
        .execution_options(synchronize_session=False)
    )
    return session.execute(statement).scalar_one_or_none() is not None


def _check_fields(fields: dict[str, Any], allowed: frozenset[str]) -> None:
    refused = sorted(set(fields) - allowed)
    if refused:
        raise ValueError(f"not writable by a claim holder here: {', '.join(refused)}")


@transactional
def update_claimed(
    session: Session, /, claim: Claim, *, now: datetime | None = None, **fields: Any
) -> bool:
    """Set some of CLAIMED_FIELDS under the claim; False means the lease is lost: stop."""
    _check_fields(fields, CLAIMED_FIELDS)
    if "status" in fields and RequestStatus(fields["status"]).is_terminal:
        raise ValueError("a terminal status is set by release(), which also ends the claim")
    if fields.get("next_action") == NextAction.NONE:
        raise ValueError("only release() with a terminal status sets next_action none")
    return fenced_update(session, claim, {**fields, "updated_at": now_or_utcnow(now)})


@transactional
def renew_lease(
    session: Session, /, claim: Claim, *, lease: timedelta, now: datetime
) -> Claim | None:
    """Extend the lease to `now + lease`; returns the renewed claim, or None if it was lost."""
    expires = aware_utc(now) + lease
    if not fenced_update(session, claim, {"lease_expires_at": expires}):
        return None
    return Claim(claim.request_pk, claim.fence, expires, claim.worker)


@dataclass(frozen=True)
class Released:
    """What a release found under the claim: whether the request's producer asked to cancel."""

    cancel_requested_at: datetime | None


@transactional
def release(
    session: Session,
    /,
    claim: Claim,
    *,
    status: RequestStatus,
    next_action: NextAction,
    next_action_at: datetime | None,
    reason: str | None = None,
    now: datetime | None = None,
    **fields: Any,
) -> bool:
    """End the claim with a status, a next action and its time (or none, when terminal).

    `reason` is always written (None clears it). Other fields are RELEASE_FIELDS. False means the
    lease was lost and nothing was written.
    """
    released = apply_release(
        session,
        claim,
        status=status,
        next_action=next_action,
        next_action_at=next_action_at,
        reason=reason,
        now=now,
        **fields,
    )
    return released is not None


def apply_release(
    session: Session,
    claim: Claim,
    *,
    status: RequestStatus,
    next_action: NextAction,
    next_action_at: datetime | None,
    reason: str | None = None,
    now: datetime | None = None,
    **fields: Any,
) -> Released | None:
    """`release` in the caller's transaction (no commit of its own); None: the lease is lost."""
    _check_fields(fields, RELEASE_FIELDS)
    now = now_or_utcnow(now)
    status = RequestStatus(status)
    next_action = NextAction(next_action)
    if status is RequestStatus.BOOKED and next_action is NextAction.CANCEL:
        # A cancellation at Calendly that must be tried again: the meeting still stands.
        if next_action_at is None:
            raise ValueError("a cancellation to retry needs a time")
    elif status.is_terminal:
        if next_action is not NextAction.NONE or next_action_at is not None:
            raise ValueError(f"{status} is terminal: its next action is none, at no time")
    elif next_action is NextAction.NONE or next_action_at is None:
        raise ValueError(f"{status} is not terminal: give its next action and when")
    values: dict[str, Any] = {
        **fields,
        "status": status,
        "reason": reason,
        "next_action": next_action,
        "next_action_at": None if next_action_at is None else aware_utc(next_action_at),
        "lease_owner": None,
        "lease_expires_at": None,
        "updated_at": now,
    }
    fenced = (Row.id == claim.request_pk, Row.fence == claim.fence)
    if status.is_terminal and next_action is NextAction.NONE:
        values["finished_at"] = now
        return _release_finished(session, claim, status, values, now)
    if next_action is NextAction.SEARCH and next_action_at is not None:
        # A request withdrawn while its POST was under way is canceled at its next search
        # (`store.withdraw`): make that search due now rather than after a backoff.
        values["next_action_at"] = case(
            (Row.cancel_requested_at.is_not(None), literal(now, UTCDateTime())),
            else_=literal(aware_utc(next_action_at), UTCDateTime()),
        )
    found = session.execute(
        update(Row)
        .where(*fenced)
        .values(values)
        .returning(Row.cancel_requested_at)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    return None if found is None else Released(found.cancel_requested_at)


def _release_finished(
    session: Session, claim: Claim, status: RequestStatus, values: dict[str, Any], now: datetime
) -> Released | None:
    """The release into a final status: the write, its metric, and its callback (if new).

    The previous status tells a new outcome (called back) from a booked request released booked
    again (a cancellation Calendly refused: nothing changed); it is read under the claim's row
    lock. The written row comes back whole for the callback's body: no second read.
    PostgreSQL: one statement, `UPDATE ... FROM (SELECT status ... FOR UPDATE) RETURNING` the
    row and that status. SQLite, whose RETURNING sees only new values: a read, then the write.
    """
    fenced = (Row.id == claim.request_pk, Row.fence == claim.fence)
    options = {"synchronize_session": False, "populate_existing": True}
    row: Row | None
    previous: RequestStatus | None
    if dialect_name(session) == "postgresql":
        parameters = {f"p_{name}": value for name, value in values.items()}
        parameters.update(p_pk=claim.request_pk, p_fence=claim.fence)
        statement = _finished_release_statement(tuple(sorted(values)))
        found = session.execute(statement, parameters).one_or_none()
        if found is None:
            return None
        row, previous = found
    else:
        previous = session.execute(select(Row.status).where(*fenced)).scalar_one_or_none()
        row = session.execute(
            update(Row).where(*fenced).values(values).returning(Row).execution_options(**options)
        ).scalar_one_or_none()
        if row is None:
            return None
    # Counted here, where every worker's final transition passes, once per request.
    # Imported here: the command line reads the store without prometheus_client.
    from autobook.metrics import definitions as metrics

    metrics.request_finished(status.value, row.created_at, now)
    if previous is not status:
        outbox.write(session, claim.request_pk, event_name(status), now=now, request=row)
    return Released(row.cancel_requested_at)


@functools.cache
def _finished_release_statement(fields: tuple[str, ...]) -> Update:
    """PostgreSQL's one statement for a release into a final status setting `fields`, built
    once for each set (building it cost more CPU than running it): UPDATE ... FROM (SELECT
    status ... FOR UPDATE) RETURNING the row and the status it replaced. Parameters: `p_pk`,
    `p_fence` and `p_<field>`, named apart from the columns (an executed UPDATE takes a
    parameter named as a column for a value to set)."""
    fenced = (Row.id == bindparam("p_pk"), Row.fence == bindparam("p_fence"))
    locked = select(Row.id, Row.status).where(*fenced).with_for_update(of=Row)
    before = locked.subquery("before")
    columns = table_of(Row).c
    return (
        update(Row)
        .where(*fenced, Row.id == before.c.id)
        .values({name: bindparam(f"p_{name}", type_=columns[name].type) for name in fields})
        .returning(Row, before.c.status)
        .execution_options(synchronize_session=False, populate_existing=True)
    )


def _insert_log(
    session: Session, request_pk: int, kind: str, message: str, data: Any, at: datetime
) -> None:
    session.execute(
        insert(RequestLogRow).values(
            request_pk=request_pk, at=at, kind=str(kind), message=message, data=data
        )
    )


@dataclass(frozen=True)
class LogEntry:
    """One line of a request's history, to write with `log_many`."""

    kind: str
    message: str
    data: Any
    at: datetime


@transactional
def log_many(session: Session, /, request_pk: int, entries: Sequence[LogEntry]) -> None:
    """Append several entries to the request's history in one statement (one round trip)."""
    if not entries:
        return
    # The table, not the ORM entity: an ORM bulk insert groups the rows by which values are
    # None (entries with and without `data`), one INSERT per group, and asks their ids back.
    session.execute(
        insert(_LOG_TABLE),
        [
            {
                "request_pk": request_pk,
                "at": aware_utc(entry.at, "at"),
                "kind": str(entry.kind),
                "message": entry.message,
                "data": entry.data,
            }
            for entry in entries
        ],
    )


@transactional
def log(
    session: Session,
    /,
    request_pk: int,
    kind: str,
    message: str,
    data: Any = None,
    *,
    now: datetime | None = None,
) -> None:
    """Append one entry to the request's history (kinds: `LogKind`, or any short string)."""
    _insert_log(session, request_pk, kind, message, data, now_or_utcnow(now))
