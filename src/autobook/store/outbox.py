"""The callback outbox: written with the outcome, taken by the dispatcher, claimed per attempt.

- `enqueue` inserts the event of an outcome *inside the caller's transaction* (the one that
  records the outcome: `release`, `withdraw`, `intake`, a webhook's update), so an outcome is
  never recorded without its callback, and no callback exists for one that rolled back. A
  request with no `callback_url` whose source names no default gets no row.
- A row is `pending` and due at `next_attempt_at`. `take_due` hands the dispatcher the due rows
  and marks them dispatched in the same conditional UPDATE, as for requests (`store.dispatch`).
- `claim` takes one attempt: it moves `next_attempt_at` a lease ahead and counts the attempt, in
  one conditional UPDATE, so two deliverers never post the same attempt at once, and a
  deliverer that dies mid-POST leaves the row due again when the lease ends: delivered again,
  under the same `webhook_id` (at least once).
- `finish` records the attempt and moves the row on: `delivered`, `pending` at the retry time,
  or `failed` once its time (`give_up_at`) is up.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from autobook.callbacks import event as events
from autobook.models import (
    BookingRequestRow,
    CallbackAttemptRow,
    CallbackRow,
    CallbackState,
    IntakeSourceRow,
)
from autobook.store._common import (
    aware_utc,
    now_or_utcnow,
    take_for_dispatch,
    transactional,
)

Row = CallbackRow
DEFAULT_GIVE_UP = timedelta(hours=24)
MAX_ERROR_CHARS = 500


def _callback_url(session: Session, request: BookingRequestRow) -> str | None:
    payload = request.payload if isinstance(request.payload, dict) else {}
    given = payload.get("callback_url")
    if isinstance(given, str) and given:
        return given
    if request.source_id is None:
        return None
    url: str | None = session.execute(
        select(IntakeSourceRow.callback_url).where(IntakeSourceRow.id == request.source_id)
    ).scalar_one_or_none()
    return url


def new_webhook_id() -> str:
    return "msg_" + uuid.uuid4().hex


def write(
    session: Session,
    /,
    request_pk: int,
    event: str,
    *,
    now: datetime | None = None,
    extra: dict[str, Any] | None = None,
    give_up_after: timedelta = DEFAULT_GIVE_UP,
    request: BookingRequestRow | None = None,
) -> int | None:
    """Write the callback of `event` for the request as it stands; its id, or None (no URL).

    `request`: the row as it stands, when the caller's write just returned it (no read then).
    """
    now = now_or_utcnow(now)
    if request is None:
        request = session.execute(
            select(BookingRequestRow)
            .where(BookingRequestRow.id == request_pk)
            .execution_options(populate_existing=True)
        ).scalar_one()
    url = _callback_url(session, request)
    if url is None:
        return None
    callback_id: int = session.execute(
        insert(Row)
        .values(
            webhook_id=new_webhook_id(),
            request_pk=request_pk,
            source_id=request.source_id,
            event=event,
            url=url,
            body=events.build(request, event, now, extra),
            state=CallbackState.PENDING,
            attempts=0,
            next_attempt_at=now,
            give_up_at=now + give_up_after,
            created_at=now,
        )
        .returning(Row.id)
    ).scalar_one()
    return callback_id


# For callers outside the store; store functions call `write`, which never commits on its own.
enqueue = transactional(write)


@transactional
def take_due(
    session: Session, /, *, now: datetime, limit: int, redispatch_after: timedelta
) -> list[int]:
    """Ids of the callbacks to send now, oldest due first, marked dispatched at `now`."""
    now = aware_utc(now)
    candidates = (
        select(Row.id)
        .where(
            Row.state == CallbackState.PENDING,
            Row.next_attempt_at <= now,
            or_(
                Row.dispatched_at.is_(None),
                Row.dispatched_at < Row.next_attempt_at,
                Row.dispatched_at <= now - redispatch_after,
            ),
        )
        .order_by(Row.next_attempt_at, Row.id)
        .limit(limit)
    )
    return sorted(pk for (pk,) in take_for_dispatch(session, Row, candidates, now, Row.id))


@transactional
def claim(session: Session, /, callback_id: int, *, now: datetime, lease: timedelta) -> Row | None:
    """Take one attempt of a due callback for `lease`; None if it is not due (or taken)."""
    now = aware_utc(now)
    claimed = session.execute(
        update(Row)
        .where(
            Row.id == callback_id,
            Row.state == CallbackState.PENDING,
            Row.next_attempt_at <= now,
        )
        .values(next_attempt_at=now + lease, attempts=Row.attempts + 1)
        .returning(Row.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if claimed is None:
        return None
    return get(session, callback_id)


@transactional
def get(session: Session, /, callback_id: int) -> Row | None:
    statement = select(Row).where(Row.id == callback_id)
    return session.execute(statement.execution_options(populate_existing=True)).scalar_one_or_none()


@transactional
def finish(
    session: Session,
    /,
    callback_id: int,
    *,
    at: datetime,
    status_code: int | None,
    latency_ms: int,
    error: str | None,
    retry_at: datetime | None,
) -> CallbackState:
    """Record one attempt; delivered when `error` is None, else retried at `retry_at` or failed.

    A retry time past `give_up_at` fails the callback. Returns the callback's new state.
    """
    at = aware_utc(at)
    error = None if error is None else error[:MAX_ERROR_CHARS]
    session.execute(
        insert(CallbackAttemptRow).values(
            callback_id=callback_id,
            at=at,
            status_code=status_code,
            latency_ms=latency_ms,
            error=error,
        )
    )
    give_up_at = session.execute(select(Row.give_up_at).where(Row.id == callback_id)).scalar_one()
    values: dict[str, Any]
    if error is None:
        values = {"state": CallbackState.DELIVERED, "delivered_at": at, "next_attempt_at": None}
    elif retry_at is None or aware_utc(retry_at) > give_up_at:
        values = {"state": CallbackState.FAILED, "next_attempt_at": None}
    else:
        values = {"state": CallbackState.PENDING, "next_attempt_at": aware_utc(retry_at)}
    if error is not None:
        values["last_error"] = error
    # A slow deliverer whose lease ran out may finish after another one delivered: only a
    # pending row moves, so `delivered` is never undone.
    session.execute(
        update(Row)
        .where(Row.id == callback_id, Row.state == CallbackState.PENDING)
        .values(values)
        .execution_options(synchronize_session=False)
    )
    state: CallbackState = session.execute(
        select(Row.state).where(Row.id == callback_id)
    ).scalar_one()
    return state


@transactional
def list_callbacks(
    session: Session, /, *, failed_only: bool = False, limit: int = 200
) -> list[tuple[Row, str]]:
    """The newest callbacks first, each with its request's `request_id`."""
    statement = (
        select(Row, BookingRequestRow.request_id)
        .join(BookingRequestRow, BookingRequestRow.id == Row.request_pk)
        .order_by(Row.id.desc())
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    if failed_only:
        statement = statement.where(Row.state == CallbackState.FAILED)
    return [(row, request_id) for row, request_id in session.execute(statement).all()]


@transactional
def attempts_of(session: Session, /, callback_id: int) -> list[CallbackAttemptRow]:
    statement = (
        select(CallbackAttemptRow)
        .where(CallbackAttemptRow.callback_id == callback_id)
        .order_by(CallbackAttemptRow.id)
    )
    return list(session.execute(statement).scalars())


@transactional
def retry(
    session: Session,
    /,
    callback_ids: Collection[int] | None,
    *,
    now: datetime | None = None,
    give_up_after: timedelta = DEFAULT_GIVE_UP,
) -> list[int]:
    """Make failed callbacks (these ids, or all when None) due now, with a new retry window."""
    now = now_or_utcnow(now)
    statement = update(Row).where(Row.state == CallbackState.FAILED)
    if callback_ids is not None:
        statement = statement.where(Row.id.in_(list(callback_ids)))
    moved = session.execute(
        statement.values(
            state=CallbackState.PENDING,
            next_attempt_at=now,
            give_up_at=now + give_up_after,
        )
        .returning(Row.id)
        .execution_options(synchronize_session=False)
    ).scalars()
    return sorted(moved)


def backlog(session: Session, /, *, now: datetime) -> tuple[int, float]:
    """(how many pending callbacks are due now, seconds since the oldest of them fell due)."""
    now = aware_utc(now)
    count, oldest = session.execute(
        select(func.count(Row.id), func.min(Row.next_attempt_at)).where(
            Row.state == CallbackState.PENDING, Row.next_attempt_at <= now
        )
    ).one()
    if not count or oldest is None:
        return 0, 0.0
    return int(count), max(0.0, (now - aware_utc(oldest)).total_seconds())
