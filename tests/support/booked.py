"""A request recorded and released `booked` through the store, as a worker's booking would be."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from autobook import store
from autobook.models import NextAction, RequestStatus

LEASE = timedelta(seconds=30)


def record_booked(
    sessions: sessionmaker[Session],
    request_id: str,
    *,
    now: datetime,
    payload: dict[str, Any] | None = None,
    **fields: Any,
) -> int:
    """Record `request_id` (with `payload`, by default just its id), claim it and release it
    `booked` at `now` with `fields` (the booking's RELEASE_FIELDS); its primary key."""
    with sessions() as session:
        row, _ = store.intake(
            session, request_id=request_id, payload=payload or {"request_id": request_id}, now=now
        )
        claim = store.claim(session, row.id, worker="w", lease=LEASE, now=now)
    assert claim is not None
    with sessions.begin() as session:
        store.release(
            session,
            claim,
            status=RequestStatus.BOOKED,
            next_action=NextAction.NONE,
            next_action_at=None,
            now=now,
            **fields,
        )
    return row.id
