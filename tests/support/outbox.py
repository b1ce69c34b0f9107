"""A booked request with a callback in the outbox, for tests of one delivery."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from autobook import store
from tests.support.booked import record_booked


def booked_with_callback(sessions: sessionmaker[Session], url: str, *, now: datetime) -> int:
    """Record request "r" with `callback_url` `url`, book it at `now`; its callback's id."""
    record_booked(sessions, "r", now=now, payload={"request_id": "r", "callback_url": url})
    with sessions() as session:
        ((callback, _),) = store.outbox.list_callbacks(session)
    return callback.id
