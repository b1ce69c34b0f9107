"""Withdrawing a request, or canceling its meeting: what a producer's cancel does to the row.

`withdraw` is the producer's side (the HTTP `cancel` call). It tries, in order, one conditional
UPDATE each, and says which applied:

1. `withdrawn`: the request is not terminal and no `POST /invitees` of it may be under way
   (`next_action != reconcile`: an intent moves the row to `reconcile` in the same transaction
   that writes it). It becomes `canceled` at once, and its fence is bumped, so a worker still
   searching for it writes nothing more: above all no intent (`record_intent` is fenced), so
   nothing is sent for it afterwards.
2. `cancel_due`: it is `booked`. Its status stays `booked` (the meeting stands until Calendly
   says otherwise) and its next action becomes `cancel`, due now; a worker claims it like any
   due request and cancels the meeting (`booking.cancel`).
3. `requested`: a POST may be under way. Only `cancel_requested_at` is set: `record_intent`
   refuses every later intent, the worker that holds it settles the outcome, and
   `schedule_requested_cancel` turns a booking that lands anyway into case 2. A request that
   ends not booked is canceled by its worker at its next step (`booking.service`).
4. `already`: canceled, or a cancel was requested before; `final`: terminal and not booked
   (`invalid`, `no_slot`, ...): there is nothing to cancel.

A withdrawal writes its `booking.canceled` callback to the outbox in the same transaction.
Repeating a cancel is harmless: once `cancel_requested_at` is set, cases 2 and 3 no longer apply,
so a meeting is canceled at Calendly by one claim only.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Update, select, update
from sqlalchemy.orm import Session

from autobook.callbacks.event import event_name
from autobook.models import TERMINAL_STATUSES, BookingRequestRow, NextAction, RequestStatus
from autobook.store import outbox
from autobook.store._common import now_or_utcnow, transactional
from autobook.store.lifecycle import _insert_log

Row = BookingRequestRow
WITHDRAWN_REASON = "withdrawn by its source before it was booked"


class Withdrawal(StrEnum):
    WITHDRAWN = "withdrawn"
    CANCEL_DUE = "cancel_due"
    REQUESTED = "requested"
    ALREADY = "already"
    FINAL = "final"


def _reason(prefix: str, reason: str | None) -> str:
    return f"{prefix}: {reason}" if reason else prefix


def _applied(session: Session, statement: Update) -> bool:
    return session.execute(statement.returning(Row.id)).scalar_one_or_none() is not None


@transactional
def withdraw(
    session: Session, /, request_pk: int, *, reason: str | None, now: datetime | None = None
) -> Withdrawal:
    """Withdraw the request, or make its meeting's cancellation due (see the module docstring)."""
    now = now_or_utcnow(now)
    open_statuses = Row.status.not_in(sorted(TERMINAL_STATUSES))
    marks = {"cancel_requested_at": now, "cancel_reason": reason, "updated_at": now}
    withdrawn = _applied(
        session,
        update(Row)
        .where(Row.id == request_pk, open_statuses, Row.next_action != NextAction.RECONCILE)
        .values(
            **marks,
            status=RequestStatus.CANCELED,
            reason=_reason(WITHDRAWN_REASON, reason),
            next_action=NextAction.NONE,
            next_action_at=None,
            lease_owner=None,
            lease_expires_at=None,
            fence=Row.fence + 1,  # a worker still searching for it writes nothing more
            finished_at=now,
        )
        .execution_options(synchronize_session=False),
    )
    if withdrawn:
        _insert_log(session, request_pk, "canceled", _reason(WITHDRAWN_REASON, reason), None, now)
        outbox.write(session, request_pk, event_name(RequestStatus.CANCELED), now=now)
        return Withdrawal.WITHDRAWN
    cancel_due = _applied(
        session,
        update(Row)
        .where(
            Row.id == request_pk,
            Row.status == RequestStatus.BOOKED,
            Row.next_action == NextAction.NONE,
            Row.cancel_requested_at.is_(None),
        )
        .values(**marks, next_action=NextAction.CANCEL, next_action_at=now)
        .execution_options(synchronize_session=False),
    )
    if cancel_due:
        message = _reason("cancel requested: canceling the meeting at Calendly", reason)
        _insert_log(session, request_pk, "cancel_requested", message, None, now)
        return Withdrawal.CANCEL_DUE
    requested = _applied(
        session,
        update(Row)
        .where(Row.id == request_pk, open_statuses, Row.cancel_requested_at.is_(None))
        .values(**marks)
        .execution_options(synchronize_session=False),
    )
    if requested:
        message = _reason(
            "cancel requested while a booking is under way: canceled once its outcome is known",
            reason,
        )
        _insert_log(session, request_pk, "cancel_requested", message, None, now)
        return Withdrawal.REQUESTED
    row = session.execute(
        select(Row.status, Row.cancel_requested_at).where(Row.id == request_pk)
    ).one()
    if row.status is RequestStatus.CANCELED or row.cancel_requested_at is not None:
        return Withdrawal.ALREADY
    return Withdrawal.FINAL


@transactional
def schedule_requested_cancel(
    session: Session, /, request_pk: int, *, now: datetime | None = None
) -> bool:
    """A booking that landed after its producer asked to cancel: make its cancellation due.

    Call it in the transaction that records the booking. True if a cancellation is now due.
    """
    return schedule_cancel(session, request_pk, now=now)


def schedule_cancel(session: Session, request_pk: int, *, now: datetime | None = None) -> bool:
    """`schedule_requested_cancel` in the caller's transaction (no commit of its own)."""
    now = now_or_utcnow(now)
    scheduled = _applied(
        session,
        update(Row)
        .where(
            Row.id == request_pk,
            Row.status == RequestStatus.BOOKED,
            Row.next_action == NextAction.NONE,
            Row.cancel_requested_at.is_not(None),
        )
        .values(next_action=NextAction.CANCEL, next_action_at=now)
        .execution_options(synchronize_session=False),
    )
    if scheduled:
        message = "booked after a cancel was requested: canceling the meeting at Calendly"
        _insert_log(session, request_pk, "cancel_requested", message, None, now)
    return scheduled


@transactional
def cancel_requested(session: Session, /, request_pk: int) -> bool:
    """Whether the request's producer asked to withdraw or cancel it."""
    statement = select(Row.cancel_requested_at).where(Row.id == request_pk)
    return session.execute(statement).scalar_one_or_none() is not None
