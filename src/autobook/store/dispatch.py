"""What the dispatcher re-sends: requests that are due, or whose lease expired.

The broker is a doorbell. A request is *due* exactly when a claim would accept it (see
`is_claimable`): non-terminal, `next_action_at <= now`, no live lease, sending not paused. A
request whose worker died is due again as soon as its lease expires, and one whose broker message
was lost is due all along: the dispatcher finds both.

`take_due` marks what it returns as dispatched in the same conditional UPDATE (with `SKIP LOCKED`
on PostgreSQL), so dispatchers in several processes send each request once per
`redispatch_after`, not once per tick each. A request is sent again when it was never sent since
it became due (`dispatched_at < next_action_at`), when its lease expired after it was last sent
(`dispatched_at < lease_expires_at`: the worker that took that message died, so the message is
spent), or when `redispatch_after` passed (the message may be lost). A duplicate message is
harmless: the claim refuses it.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from autobook.models import BookingRequestRow, RequestStatus
from autobook.store._common import (
    aware_utc,
    is_claimable,
    now_or_utcnow,
    take_for_dispatch,
    transactional,
)

Row = BookingRequestRow


@transactional
def due_requests(session: Session, /, *, now: datetime, limit: int) -> list[int]:
    """Primary keys of the requests due at `now`, most overdue first (read only)."""
    statement = (
        select(Row.id)
        .where(is_claimable(aware_utc(now)))
        .order_by(Row.next_action_at, Row.id)
        .limit(limit)
    )
    return list(session.execute(statement).scalars())


@transactional
def take_due(
    session: Session, /, *, now: datetime, limit: int, redispatch_after: timedelta
) -> list[str]:
    """The `request_id`s to send now, most overdue first, marked dispatched at `now`."""
    now = aware_utc(now)
    candidates = (
        select(Row.id)
        .where(
            is_claimable(now),
            or_(
                Row.dispatched_at.is_(None),
                Row.dispatched_at < Row.next_action_at,
                Row.dispatched_at < Row.lease_expires_at,  # NULL (released) never compares true
                Row.dispatched_at <= now - redispatch_after,
            ),
        )
        .order_by(Row.next_action_at, Row.id)
        .limit(limit)
    )
    taken = take_for_dispatch(
        session, Row, candidates, now, Row.request_id, Row.next_action_at, Row.id
    )
    # RETURNING comes in no promised order.
    return [request_id for request_id, _, _ in sorted(taken, key=lambda r: (r[1], r[2]))]


@transactional
def mark_dispatched(
    session: Session, /, request_pks: Collection[int], *, now: datetime | None = None
) -> None:
    """Record that a producer rang the doorbell itself, so the dispatcher doesn't at once."""
    if not request_pks:
        return
    session.execute(
        update(Row)
        .where(Row.id.in_(list(request_pks)))
        .values(dispatched_at=now_or_utcnow(now))
        .execution_options(synchronize_session=False)
    )


@transactional
def make_due(session: Session, /, request_pks: Collection[int], *, now: datetime) -> int:
    """Make waiting requests due at `now` (a sweep found a slot for them); how many it moved.

    Only a request still waiting is moved: one claimed or finished meanwhile is left alone.
    """
    if not request_pks:
        return 0
    moved = session.execute(
        update(Row)
        .where(Row.id.in_(list(request_pks)), Row.status == RequestStatus.WAITING)
        .values(next_action_at=aware_utc(now))
        .returning(Row.id)
        .execution_options(synchronize_session=False)
    )
    return len(moved.all())
