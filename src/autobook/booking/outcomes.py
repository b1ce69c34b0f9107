"""Recording a booking, made or adopted, and the reconcile action after an unclear POST.

`Outcomes` sits between `Failures` (fenced writes, the lease, classification) and `Steps`
(search and book). Its rules (DESIGN §4):
- A booking is recorded in one transaction: the attempt's outcome and the release to `booked`.
  Until then the attempt is unresolved, so a crash anywhere before (even after a successful POST)
  is reconciled and the booking adopted, never made again.
- Reconcile looks for the unresolved attempt's booking with every correlation token we sent for
  that slot (`booking/reconcile.py`). Found: adopted. Missed: a second look one grace period
  later; only a second miss declares it absent and sends the request back to search.
- A failed lookup proves nothing: the request stays `unknown` (see `Failures._reconcile_failure`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from autobook import store
from autobook.booking.booked_event import KnownEvent
from autobook.booking.context import BookingContext, Job, LeaseLost
from autobook.booking.failures import Failures
from autobook.booking.reconcile import find_our_booking
from autobook.calendly.models import EventType, Invitee
from autobook.errors import CalendlyError, RequestRejected, Unauthorized
from autobook.models import AttemptState, NextAction, RequestStatus
from autobook.requests import BookingRequest, EventTypeSelector

RECONCILE_LOOKS = 2


class Outcomes(Failures):
    """Records bookings and reconciles unclear attempts for one claimed request."""

    def __init__(self, context: BookingContext, job: Job) -> None:
        super().__init__(context, job)
        self.request: BookingRequest | None = None

    def _resolve(self) -> EventType:
        assert self.request is not None
        ref = self.request.event_type
        if isinstance(ref, EventTypeSelector):
            event_type = self.ctx.resolver.by_selector(ref)
        else:
            event_type = self.ctx.resolver.by_uri(ref)
            if not event_type.active:
                raise RequestRejected(f"event_type: event type {event_type.name!r} is inactive")
        return event_type

    def _booked(
        self,
        invitee: Invitee,
        event_type_uri: str,
        attempt_id: int,
        state: AttemptState,
        *,
        slot_start: datetime,
        known: KnownEvent | None = None,
    ) -> None:
        """Record the booking: the attempt's outcome and the release commit together.

        Until then the attempt stays unresolved, so a crash anywhere before (even after the
        POST succeeded) is reconciled and the booking adopted, never made again. The event is
        read for its location and hosts unless they are `known` from what we sent
        (`booking/booked_event.py`); if that read fails, the booking is still recorded, with the
        start time we booked.
        """
        hosts: list[str] = []  # a known event's host is its owner: the intent blocks it already
        if known is not None:
            location, start_time = known.location, known.start_time
        else:
            location, start_time, hosts = self._read_event(invitee, slot_start)
        how = "booked" if state is AttemptState.BOOKED else "adopted"
        with self.ctx.sessions.begin() as session:
            recorded = store.finish_attempt(
                session,
                self.job.claim,
                attempt_id,
                state=state,
                http_status=201 if state is AttemptState.BOOKED else None,
                add_blocks=hosts,
            ) and store.release(
                session,
                self.job.claim,
                status=RequestStatus.BOOKED,
                next_action=NextAction.NONE,
                next_action_at=None,
                reason=None,
                event_uri=invitee.event,
                invitee_uri=invitee.uri,
                cancel_url=invitee.cancel_url,
                reschedule_url=invitee.reschedule_url,
                start_time=start_time,
                location=location,
                event_type_uri=event_type_uri,
            )
            if not recorded:
                # Rolled back: whoever holds the request now reconciles and adopts this booking.
                raise LeaseLost
            self._log(how, f"{how}: {invitee.event}", {"invitee": invitee.uri})
            self._write_logs(session)
            # Its source asked to cancel while the POST was under way: cancel the meeting now.
            cancel_due = store.schedule_requested_cancel(session, self.job.request_pk)
        if cancel_due:
            self._wake(self._now())

    def _read_event(
        self, invitee: Invitee, slot_start: datetime
    ) -> tuple[dict[str, Any] | None, datetime, list[str]]:
        """The booked event's location, start and hosts, read from Calendly."""
        try:
            event = self.ctx.client.get_scheduled_event(invitee.event)
        except CalendlyError as exc:
            self._log("event_read", f"booked, but reading the event failed: {exc.message}")
            if isinstance(exc, Unauthorized):
                # A 401 anywhere stops all sending at once; this booking is still recorded.
                self._pause(exc)
            return None, slot_start, []
        # The hosts Calendly assigned are busy now, for every event type they host.
        hosts = [m.user for m in event.event_memberships if m.user]
        return event.location, event.start_time, hosts

    # -- reconcile -------------------------------------------------------------------------

    def reconcile(self) -> NextAction | None:
        assert self.request is not None
        with self.ctx.sessions.begin() as session:
            attempts = store.attempts_for(session, self.job.request_pk)
            for attempt in attempts:
                session.expunge(attempt)
        unresolved = [a for a in attempts if not a.is_resolved]
        if not unresolved:
            return NextAction.SEARCH
        attempt = unresolved[-1]
        # Every token we ever sent for this slot: an earlier attempt's booking is ours too.
        tokens = {
            a.correlation_token
            for a in attempts
            if a.slot_start == attempt.slot_start and a.correlation_token
        }
        row = self._row()
        try:
            event_type_uri = row.event_type_uri or self._resolve().uri
            found = find_our_booking(
                self.ctx.client,
                organization=self.ctx.resolver.organization(),
                invitee_email=self.request.invitee.email,
                event_type_uri=event_type_uri,
                slot_start=attempt.slot_start,
                tokens=tokens,
            )
        except CalendlyError as exc:
            self._reconcile_failure(exc)
            return None
        if found is not None:
            self._log("reconciled", "found our booking at Calendly: adopting it")
            self._booked(
                found,
                event_type_uri,
                attempt.id,
                AttemptState.ADOPTED,
                slot_start=attempt.slot_start,
            )
            return None
        looks = attempt.reconcile_looks + 1
        with self.ctx.sessions.begin() as session:
            if not store.note_reconcile_look(session, self.job.claim, attempt.id, looks=looks):
                raise LeaseLost
        if looks < RECONCILE_LOOKS:
            self._release(
                RequestStatus.UNKNOWN,
                next_action=NextAction.RECONCILE,
                at=self._now() + self.grace,
                reason=f"booking not found at Calendly (look {looks}); looking again",
                log_kind="reconciled",
            )
            return None
        with self.ctx.sessions.begin() as session:
            if not store.finish_attempt(
                session, self.job.claim, attempt.id, state=AttemptState.NOT_FOUND
            ):
                raise LeaseLost
            self._log("reconciled", f"booking provably absent after {looks} looks: searching again")
            self._write_logs(session)
        return NextAction.SEARCH
