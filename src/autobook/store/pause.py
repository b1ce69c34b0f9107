"""The 401 rule: one worker-wide pause of all sending, until the token works again.

When Calendly refuses the token, sending stops at once for every worker: while the pause is on,
`claim` and `due_requests` pass over every request and `record_intent` refuses to write an
intent, so no POST follows the first 401. Requests are *held*, not failed: each keeps its status,
its next action and its time, and the pause writes a `held` entry in the log of every
non-terminal request (a `resumed` entry when it ends). Whoever checks the token (`GET /users/me`)
takes the check with `claim_token_check`, so many workers don't all check at once; when it works
again, `resume_sending` lifts the pause and the dispatcher sends the held requests as they fall due.

The state lives in the single `service_state` row (id 1), created by the migration; the
functions here also create it if it is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from autobook.models import (
    SERVICE_STATE_ID,
    TERMINAL_STATUSES,
    BookingRequestRow,
    LogKind,
    RequestLogRow,
    ServiceStateRow,
    UTCDateTime,
)
from autobook.store._common import aware_utc, dialect_name, now_or_utcnow, transactional

State = ServiceStateRow


@dataclass(frozen=True)
class SendingPause:
    """Why and since when sending is paused, and when the token was last checked."""

    reason: str
    paused_at: datetime | None
    last_token_check_at: datetime | None


def _ensure_state_row(session: Session, now: datetime) -> None:
    values = {"id": SERVICE_STATE_ID, "updated_at": now}
    if dialect_name(session) == "postgresql":
        session.execute(postgresql_insert(State).values(values).on_conflict_do_nothing())
    else:
        session.execute(sqlite_insert(State).values(values).on_conflict_do_nothing())


def _log_every_open_request(session: Session, kind: str, message: str, now: datetime) -> None:
    """One log entry per non-terminal request, in one INSERT ... SELECT."""
    rows = select(
        BookingRequestRow.id,
        literal(now, UTCDateTime()),
        literal(kind),
        literal(message),
    ).where(BookingRequestRow.status.not_in(sorted(TERMINAL_STATUSES)))
    session.execute(
        insert(RequestLogRow).from_select(
            [RequestLogRow.request_pk, RequestLogRow.at, RequestLogRow.kind, RequestLogRow.message],
            rows,
        )
    )


@transactional
def pause_sending(session: Session, /, *, reason: str, now: datetime | None = None) -> bool:
    """Stop all sending; True if this call paused it (False: it was paused already)."""
    now = now_or_utcnow(now)
    _ensure_state_row(session, now)
    paused = session.execute(
        update(State)
        .where(State.id == SERVICE_STATE_ID, State.sending_paused_reason.is_(None))
        .values(
            sending_paused_reason=reason, paused_at=now, last_token_check_at=now, updated_at=now
        )
        .returning(State.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if paused is None:
        return False
    _log_every_open_request(session, LogKind.HELD, f"held: sending paused: {reason}", now)
    return True


@transactional
def resume_sending(
    session: Session, /, *, now: datetime | None = None, note: str = "the token works again"
) -> bool:
    """Lift the pause; True if this call lifted it (False: it was not paused)."""
    now = now_or_utcnow(now)
    resumed = session.execute(
        update(State)
        .where(State.id == SERVICE_STATE_ID, State.sending_paused_reason.is_not(None))
        .values(sending_paused_reason=None, resumed_at=now, updated_at=now)
        .returning(State.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if resumed is None:
        return False
    _log_every_open_request(session, LogKind.RESUMED, f"sending resumed: {note}", now)
    return True


@transactional
def sending_paused(session: Session, /) -> SendingPause | None:
    """The current pause, or None when sending is allowed."""
    state = session.execute(
        select(State).where(State.id == SERVICE_STATE_ID).execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if state is None or state.sending_paused_reason is None:
        return None
    return SendingPause(state.sending_paused_reason, state.paused_at, state.last_token_check_at)


@transactional
def note_token_check(session: Session, /, *, now: datetime | None = None) -> None:
    """Record that the token was checked (and still refused) at `now`."""
    now = now_or_utcnow(now)
    _ensure_state_row(session, now)
    session.execute(
        update(State)
        .where(State.id == SERVICE_STATE_ID)
        .values(last_token_check_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )


@transactional
def claim_token_check(session: Session, /, *, now: datetime, interval: timedelta) -> bool:
    """True for exactly one caller per `interval` while paused: that one checks the token."""
    now = aware_utc(now)
    taken = session.execute(
        update(State)
        .where(
            State.id == SERVICE_STATE_ID,
            State.sending_paused_reason.is_not(None),
            (State.last_token_check_at.is_(None)) | (State.last_token_check_at <= now - interval),
        )
        .values(last_token_check_at=now, updated_at=now)
        .returning(State.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    return taken is not None
