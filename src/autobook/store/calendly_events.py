"""What Calendly's webhooks (and the sweep) change: cancellations and reschedules of our bookings.

- `remember_delivery` inserts a delivery's dedupe key once; a second insert of the same key,
  even a concurrent one, reports a repeat (Calendly retries deliveries). Old keys are pruned.
- `apply_canceled`: a `booked` request whose invitee was canceled at Calendly becomes
  `canceled` (who and why in its reason), its fence is bumped (a worker holding it, e.g. to
  cancel it itself, writes nothing more), and its `booking.canceled` callback is written in the
  same transaction. A request already canceled is left alone: one callback per outcome.
- `apply_rescheduled`: a `booked` request whose invitee was replaced by a reschedule follows it
  to the new event, invitee, time and links, stays `booked`, and gets a log line and a
  `booking.rescheduled` callback, in one transaction. Matching on the old invitee URI makes a
  repeat a no-op.
Both return what changed (the event type whose slot opened, for the waitlist), or None.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from autobook.callbacks.event import RESCHEDULED, event_name
from autobook.models import (
    BookingRequestRow,
    CalendlyDeliveryRow,
    CalendlySubscriptionRow,
    NextAction,
    RequestStatus,
)
from autobook.store import outbox
from autobook.store._common import aware_utc, dialect_name, transactional
from autobook.store.lifecycle import _insert_log
from autobook.times import utc_z

Row = BookingRequestRow
DELIVERY_MEMORY = timedelta(days=7)


@dataclass(frozen=True)
class Applied:
    request_pk: int
    request_id: str
    event_type_uri: str | None  # the type whose slot opened


@transactional
def remember_delivery(session: Session, /, key_digest: str, event: str, *, now: datetime) -> bool:
    """Record a delivery; False if it was applied before (a retry of Calendly's)."""
    now = aware_utc(now)
    session.execute(
        delete(CalendlyDeliveryRow).where(CalendlyDeliveryRow.seen_at < now - DELIVERY_MEMORY)
    )
    upsert = postgresql_insert if dialect_name(session) == "postgresql" else sqlite_insert
    inserted = session.execute(
        upsert(CalendlyDeliveryRow)
        .values(key_digest=key_digest, event=event, seen_at=now)
        .on_conflict_do_nothing(index_elements=[CalendlyDeliveryRow.key_digest])
        .returning(CalendlyDeliveryRow.id)
    ).scalar_one_or_none()
    return inserted is not None


@transactional
def forget_delivery(session: Session, /, key_digest: str) -> None:
    """Forget a delivery that could not be applied, so Calendly's retry is."""
    session.execute(delete(CalendlyDeliveryRow).where(CalendlyDeliveryRow.key_digest == key_digest))


@transactional
def sealed_signing_keys(session: Session, /) -> list[str]:
    return list(session.execute(select(CalendlySubscriptionRow.signing_key_sealed)).scalars())


def _cancel_reason(who: str | None, why: str | None) -> str:
    text = "its meeting was canceled at Calendly"
    if who:
        text += f" by {who}"
    return text + (f": {why}" if why else "")


@transactional
def apply_canceled(
    session: Session, /, invitee_uri: str, *, who: str | None, why: str | None, now: datetime
) -> Applied | None:
    """The booked request of this invitee is canceled (see the module docstring)."""
    now = aware_utc(now)
    reason = _cancel_reason(who, why)
    found = session.execute(
        update(Row)
        .where(Row.invitee_uri == invitee_uri, Row.status == RequestStatus.BOOKED)
        .values(
            status=RequestStatus.CANCELED,
            reason=reason,
            next_action=NextAction.NONE,
            next_action_at=None,
            lease_owner=None,
            lease_expires_at=None,
            fence=Row.fence + 1,
            updated_at=now,
            finished_at=now,
        )
        .returning(Row.id, Row.request_id, Row.event_type_uri)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if found is None:
        return None
    pk, request_id, event_type_uri = found
    _insert_log(session, pk, "canceled", reason, {"canceled_by": who, "reason": why}, now)
    outbox.write(
        session,
        pk,
        event_name(RequestStatus.CANCELED),
        now=now,
        extra={"canceled_by": who, "cancel_reason": why},
    )
    return Applied(pk, request_id, event_type_uri)


@transactional
def find_booked(session: Session, /, invitee_uri: str) -> Applied | None:
    found = session.execute(
        select(Row.id, Row.request_id, Row.event_type_uri).where(
            Row.invitee_uri == invitee_uri, Row.status == RequestStatus.BOOKED
        )
    ).one_or_none()
    return None if found is None else Applied(*found)


@transactional
def apply_rescheduled(
    session: Session, /, old_invitee_uri: str, *, new: dict[str, Any], now: datetime
) -> Applied | None:
    """Follow the booked request of `old_invitee_uri` to its new booking (`new`: row fields)."""
    now = aware_utc(now)
    before = session.execute(
        select(Row.id, Row.request_id, Row.event_type_uri, Row.start_time, Row.event_uri).where(
            Row.invitee_uri == old_invitee_uri, Row.status == RequestStatus.BOOKED
        )
    ).one_or_none()
    if before is None:
        return None
    pk, request_id, event_type_uri, old_start, old_event = before
    moved = session.execute(
        update(Row)
        .where(Row.id == pk, Row.invitee_uri == old_invitee_uri, Row.status == RequestStatus.BOOKED)
        .values(**new, updated_at=now)
        .returning(Row.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if moved is None:
        return None
    previous = {
        "start_time": utc_z(old_start),
        "event_uri": old_event,
        "invitee_uri": old_invitee_uri,
    }
    message = (
        f"rescheduled at Calendly: from {previous['start_time']} to {utc_z(new.get('start_time'))}"
    )
    _insert_log(session, pk, "rescheduled", message, previous, now)
    outbox.write(session, pk, RESCHEDULED, now=now, extra={"previous": previous})
    return Applied(pk, request_id, event_type_uri)


@transactional
def booked_events_ahead(session: Session, /, *, now: datetime) -> list[tuple[int, str, str]]:
    """(pk, event URI, invitee URI) of every booked request whose meeting is still ahead."""
    statement = (
        select(Row.id, Row.event_uri, Row.invitee_uri)
        .where(
            Row.status == RequestStatus.BOOKED,
            Row.next_action == NextAction.NONE,
            Row.invitee_uri.is_not(None),
            Row.event_uri.is_not(None),
            Row.start_time > aware_utc(now),
        )
        .order_by(Row.start_time, Row.id)
    )
    return [
        (pk, event, invitee)
        for pk, event, invitee in session.execute(statement).all()
        if event and invitee
    ]


@transactional
def save_subscription(
    session: Session, /, *, uri: str, callback_url: str, signing_key_sealed: str, now: datetime
) -> None:
    """Keep the one subscription `webhooks ensure` made (earlier ones are gone at Calendly)."""
    session.execute(delete(CalendlySubscriptionRow))
    session.execute(
        insert(CalendlySubscriptionRow).values(
            uri=uri,
            callback_url=callback_url,
            signing_key_sealed=signing_key_sealed,
            created_at=aware_utc(now),
            # Just made: active, and checked now (the watch asks again an interval later).
            state="active",
            state_checked_at=aware_utc(now),
        )
    )


@transactional
def subscription_uris(session: Session, /) -> list[str]:
    return list(session.execute(select(CalendlySubscriptionRow.uri)).scalars())
