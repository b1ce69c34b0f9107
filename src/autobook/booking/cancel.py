"""The `cancel` action: cancel a booked request's meeting at Calendly, once.

A producer's cancel of a booked request leaves it `booked` with next action `cancel`
(`store.withdraw`); a worker claims it like any due request and runs this. The rules:
- Look before sending: `GET` the event first, and record `canceled` without a POST when it is
  canceled already (by an earlier attempt of ours whose answer was lost, or by a person).
  Together with the claim (one holder at a time) this sends the cancellation at most once per
  claim that found the meeting standing, and Calendly refuses a second one (403).
- A refusal (403 for an event in the past, 404) leaves the request `booked`, with the reason.
- A 401 pauses sending and holds the cancellation; a 429 waits for the reset; other failures
  retry with backoff, then give up, leaving the request `booked` with the reason: a meeting
  that may still stand must never be reported as canceled.
"""

from __future__ import annotations

from datetime import timedelta

from autobook.booking.failures import MAX_NOT_SENT_RETRIES, FailureHandler, describe_refusal
from autobook.booking.record import RequestRecord
from autobook.errors import CalendlyError, RateLimited, RequestRejected, Unauthorized
from autobook.models import NextAction, RequestStatus

CANCELED_STATUS = "canceled"  # a scheduled event's status at Calendly once canceled
MAX_REASON_CHARS = 255


def _canceled_at_calendly(record: RequestRecord, event_uri: str) -> bool:
    return record.ctx.client.get_scheduled_event(event_uri).status == CANCELED_STATUS


def cancel_meeting(record: RequestRecord, failures: FailureHandler) -> None:
    """Cancel the claimed request's meeting at Calendly and release it (see the docstring)."""
    row = record.read_row()
    if not row.event_uri:  # a booking is always recorded with its event; be safe anyway
        record.release(RequestStatus.BOOKED, reason="cannot cancel: no event is recorded")
        return
    reason = (row.cancel_reason or "")[:MAX_REASON_CHARS] or None
    try:
        if not _canceled_at_calendly(record, row.event_uri):
            record.log("cancel", "canceling the meeting at Calendly")
            try:
                record.ctx.client.cancel_event(row.event_uri, reason=reason)
            except RequestRejected:
                # Canceled meanwhile (Calendly answers 403), or refused: the event tells which.
                if not _canceled_at_calendly(record, row.event_uri):
                    raise
    except CalendlyError as exc:
        _cancel_failed(record, failures, exc)
        return
    note = "canceled at Calendly at its source's request" + (f": {reason}" if reason else "")
    record.release(RequestStatus.CANCELED, reason=note, log_kind="canceled")


def _cancel_failed(record: RequestRecord, failures: FailureHandler, exc: CalendlyError) -> None:
    now = record.now()
    if isinstance(exc, Unauthorized):
        failures.pause(exc)
        retry_at = now + failures.backoff(1)
        why = "Calendly refused the token (401); sending is paused"
    elif isinstance(exc, RateLimited):
        retry_at = now + timedelta(seconds=max(exc.retry_after, 1.0))
        why = f"rate limited; waiting {exc.retry_after:.0f}s"
    elif isinstance(exc, RequestRejected):
        record.release(
            RequestStatus.BOOKED,
            reason=f"Calendly refused to cancel the meeting: {describe_refusal(exc)}",
            log_kind="cancel_refused",
        )
        return
    else:
        tries = record.read_row().transient_failures + 1
        if tries > MAX_NOT_SENT_RETRIES:
            record.release(
                RequestStatus.BOOKED,
                reason=f"could not cancel the meeting after {tries} tries: {exc.message}",
                log_kind="cancel_failed",
                transient_failures=tries,
            )
            return
        retry_at = now + failures.backoff(tries)
        why = f"{type(exc).__name__}: {exc.message}; retrying"
        record.update(transient_failures=tries)
    record.release(
        RequestStatus.BOOKED,
        next_action=NextAction.CANCEL,
        at=retry_at,
        reason=f"canceling the meeting: {why}",
        log_kind="cancel_retry",
    )
    record.wake(retry_at)
