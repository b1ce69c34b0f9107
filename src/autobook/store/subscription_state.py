"""What Calendly last said of the webhook subscription, checked by one worker at a time.

Calendly disables a subscription after 24 hours of failed deliveries and tells nobody, so a
worker asks about it every `interval` (`webhooks.watch`). `claim_check` takes that turn with one
conditional UPDATE, so many workers don't all ask at once; `record` keeps the answer (`active`,
`disabled`, or `missing` when the subscription is gone); `current` reads it for the metrics and
`autobook check`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from autobook.models import CalendlySubscriptionRow as Row
from autobook.store._common import aware_utc, transactional

ACTIVE, DISABLED, MISSING = "active", "disabled", "missing"


@dataclass(frozen=True)
class SubscriptionState:
    uri: str
    callback_url: str
    state: str | None  # None: not checked yet
    checked_at: datetime | None


@transactional
def claim_check(session: Session, /, *, now: datetime, interval: timedelta) -> str | None:
    """The subscription's URI if it is this caller's turn to ask Calendly about it, else None."""
    now = aware_utc(now)
    return session.execute(
        update(Row)
        .where(or_(Row.state_checked_at.is_(None), Row.state_checked_at <= now - interval))
        .values(state_checked_at=now)
        .returning(Row.uri)
        .execution_options(synchronize_session=False)
    ).scalar()


@transactional
def record(session: Session, /, uri: str, *, state: str, now: datetime) -> None:
    session.execute(
        update(Row)
        .where(Row.uri == uri)
        .values(state=state, state_checked_at=aware_utc(now))
        .execution_options(synchronize_session=False)
    )


@transactional
def current(session: Session, /) -> SubscriptionState | None:
    """The subscription `autobook webhooks ensure` made and its last known state, or None."""
    row = session.execute(
        select(Row.uri, Row.callback_url, Row.state, Row.state_checked_at).limit(1)
    ).one_or_none()
    if row is None:
        return None
    checked = None if row.state_checked_at is None else aware_utc(row.state_checked_at)
    return SubscriptionState(row.uri, row.callback_url, row.state, checked)
