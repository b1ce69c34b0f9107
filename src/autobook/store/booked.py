"""A booking's outcome: the attempt, the release to `booked` and a late cancel, in one transaction.

Until this commits the attempt is unresolved, so a crash anywhere before (even after a
successful POST) is reconciled and the booking adopted, never made again. In the same
transaction:
- the attempt moves to `booked` or `adopted` (fenced: `finish_attempt`);
- the request is released `booked`, with what Calendly answered (fenced: `release`, which
  writes the callback);
- a cancel its producer asked for while the POST was under way makes the meeting's
  cancellation due (`schedule_requested_cancel`). The release reads `cancel_requested_at`
  under the row lock it took, so that write is made only when a cancel was asked: most
  bookings need no statement for it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from autobook.models import AttemptState, NextAction, RequestStatus
from autobook.store._common import Claim, now_or_utcnow, transactional
from autobook.store.attempts import move_attempt
from autobook.store.lifecycle import apply_release
from autobook.store.withdraw import schedule_cancel


@dataclass(frozen=True)
class BookingRecorded:
    """The booking is recorded; `cancel_due`: its producer asked to cancel meanwhile."""

    cancel_due: bool


@transactional
def record_booking(
    session: Session,
    /,
    claim: Claim,
    attempt_id: int,
    *,
    state: AttemptState,
    http_status: int | None = None,
    add_blocks: Collection[str] = (),
    now: datetime | None = None,
    **fields: Any,
) -> BookingRecorded | None:
    """Record the attempt's booking and release the request `booked` with `fields`
    (RELEASE_FIELDS); None means the lease is lost: the caller rolls back."""
    now = now_or_utcnow(now)
    if not move_attempt(
        session,
        claim,
        attempt_id,
        state=state,
        http_status=http_status,
        add_blocks=add_blocks,
        now=now,
    ):
        return None
    released = apply_release(
        session,
        claim,
        status=RequestStatus.BOOKED,
        next_action=NextAction.NONE,
        next_action_at=None,
        reason=None,
        now=now,
        **fields,
    )
    if released is None:
        return None
    cancel_due = released.cancel_requested_at is not None and schedule_cancel(
        session, claim.request_pk, now=now
    )
    return BookingRecorded(cancel_due=cancel_due)
