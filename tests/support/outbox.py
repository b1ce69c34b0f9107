"""A booked request with a callback in the outbox, for tests of one delivery."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from autobook import store
from autobook.models import NextAction, RequestStatus


def booked_with_callback(sessions: sessionmaker[Session], url: str, *, now: datetime) -> int:
    """Record request "r" with `callback_url` `url`, book it at `now`; its callback's id."""
    with sessions() as session:
        row, _ = store.intake(
            session, request_id="r", payload={"request_id": "r", "callback_url": url}, now=now
        )
        claim = store.claim(session, row.id, worker="w", lease=timedelta(seconds=30), now=now)
    assert claim is not None
    with sessions.begin() as session:
        store.release(
            session,
            claim,
            status=RequestStatus.BOOKED,
            next_action=NextAction.NONE,
            next_action_at=None,
            now=now,
        )
    with sessions() as session:
        ((callback, _),) = store.outbox.list_callbacks(session)
    return callback.id
