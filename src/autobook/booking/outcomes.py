"""The POST of a held slot and what comes of it: booked, refused, unclear, reconciled.

`Outcomes` owns one concern of a claimed request: sending `POST /invitees` for the slot the
search held (its intent is committed) and recording what came of it. Its rules (DESIGN §4):
- A booking is recorded in one transaction: the attempt's outcome and the release to `booked`.
  Until then the attempt is unresolved, so a crash anywhere before (even after a successful POST)
  is reconciled and the booking adopted, never made again.
- An unknown outcome is reconciled after `reconcile_grace_seconds`. Reconcile looks for the
  unresolved attempt's booking with every correlation token we sent for that slot
  (`booking/reconcile.py`). Found: adopted. Missed: a second look one grace period later; only
  a second miss declares it absent and sends the request back to search.
- `already_filled` at a slot where an earlier attempt of ours had an unclear outcome may be our
  own booking: it is reconciled, with every correlation token we sent for that slot.
- A failed lookup proves nothing: the request stays `unknown` (`FailureHandler.reconcile_failure`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from autobook import store
from autobook.booking.blocking import slot_owner
from autobook.booking.booked_event import KnownEvent, known_event
from autobook.booking.candidates import Chosen
from autobook.booking.context import BookingContext, LeaseLost
from autobook.booking.failures import FailureHandler
from autobook.booking.reconcile import find_our_booking
from autobook.booking.record import RequestRecord
from autobook.booking.resolve import event_type_of
from autobook.calendly.models import Invitee
from autobook.errors import (
    CalendlyError,
    OutcomeUnknown,
    RequestRejected,
    SlotTaken,
    Unauthorized,
)
from autobook.models import AttemptState, NextAction, RequestStatus
from autobook.requests import BookingRequest

RECONCILE_LOOKS = 2
# `extra` key: `already_filled` refusals at slots no request of ours was holding.
FOREIGN_REFUSALS = "foreign_refusals"
# Attempt states whose booking may exist without our knowing it.
UNCLEAR_STATES = frozenset(
    {
        AttemptState.INTENT,
        AttemptState.SENT,
        AttemptState.UNKNOWN,
        AttemptState.NOT_FOUND,
    }
)


class Outcomes:
    """Sends the POST of one claimed request, records its outcome, and reconciles unclear ones."""

    def __init__(
        self,
        context: BookingContext,
        record: RequestRecord,
        failures: FailureHandler,
        request: BookingRequest,
    ) -> None:
        self.ctx = context
        self.record = record
        # The claim (`job.claim` is renewed in place), its row as claimed, its excluded starts.
        self.job = record.job
        self.failures = failures
        self.request = request

    # -- book ------------------------------------------------------------------------------

    def book(self, chosen: Chosen) -> NextAction | None:
        """Send the POST for the slot `search` held (its intent is committed)."""
        attempt_id = chosen.attempt_id
        built = chosen.built
        try:
            invitee = self.ctx.client.create_invitee(built.body)
        except SlotTaken as exc:
            return self._slot_taken(chosen, attempt_id, exc)
        except OutcomeUnknown as exc:
            self.record.finish_attempt(attempt_id, AttemptState.UNKNOWN, exc)
            self._reconcile_later(
                f"outcome unknown ({exc.message}); reconciling before any re-send", "api_outcome"
            )
            return None
        except CalendlyError as exc:
            # Rejected, or provably not processed (not sent, 429, 401): no booking was made.
            rejected = isinstance(exc, RequestRejected)
            state = AttemptState.REJECTED if rejected else AttemptState.NOT_SENT
            self.record.finish_attempt(attempt_id, state, exc)
            self.failures.calendly_failure(exc, during="booking")
            return None
        self.booked(
            invitee,
            chosen.event_type.uri,
            attempt_id,
            AttemptState.BOOKED,
            slot_start=chosen.slot.start_time,
            known=known_event(chosen.event_type, built.body, chosen.slot.start_time),
        )
        return None

    def _slot_taken(self, chosen: Chosen, attempt_id: int, exc: SlotTaken) -> NextAction | None:
        slot = chosen.slot.start_time
        row = self.record.read_row()
        excluded = [*(row.excluded_slots or []), slot.isoformat()]
        collision = self._collides_with_ours(chosen)
        if not collision:
            # Someone else booked from under every snapshot of this event type: all workers
            # poll afresh. A collision with our own booking needs no new poll: the refused
            # slot is marked taken for every request (`slot_taken`), the rest stays true.
            self.ctx.snapshots.forget(chosen.event_type.uri)
        with self.ctx.sessions.begin() as session:
            earlier = store.attempts_for(session, self.job.request_pk)
        if any(
            a.id != attempt_id and a.slot_start == slot and a.state in UNCLEAR_STATES
            for a in earlier
        ):
            # The slot may be filled by our own earlier, unanswered POST: look before moving on.
            # The slot is excluded either way: if the booking is not ours, someone else has it.
            self.record.finish_attempt(attempt_id, AttemptState.UNKNOWN, exc)
            self.record.update(
                status=RequestStatus.UNKNOWN,
                excluded_slots=excluded,
                reason="already_filled where an earlier attempt had no clear outcome; reconciling",
            )
            self.job.excluded.add(slot)
            return NextAction.RECONCILE
        self.record.finish_attempt(attempt_id, AttemptState.REJECTED, exc, slot_taken=True)
        # A collision with a request of ours (a host we could not know was busy) says nothing
        # about Calendly; only a slot someone else took counts towards giving up.
        refusals = int((row.extra or {}).get(FOREIGN_REFUSALS, 0))
        if not collision:
            refusals += 1
        extra = {**(row.extra or {}), FOREIGN_REFUSALS: refusals}
        if refusals > self.ctx.settings.max_slot_retries:
            self.record.release(
                RequestStatus.NO_SLOT,
                reason=(
                    f"Calendly refused {refusals} matching slots as already filled by others "
                    "while booking; gave up"
                ),
                log_kind="no_slot",
                excluded_slots=excluded,
                extra=extra,
            )
            return None
        self.record.update(excluded_slots=excluded, extra=extra)
        self.job.excluded.add(slot)
        self.job.row.extra = extra
        return NextAction.SEARCH

    def _collides_with_ours(self, chosen: Chosen) -> bool:
        """Whether another request of ours holds a slot overlapping the refused one."""
        owner = slot_owner(chosen.event_type)
        start, end = owner.span(chosen.slot.start_time)
        with self.ctx.sessions.begin() as session:
            held = store.held_slots(
                session, start=start, end=end, since=self.record.now() - self.ctx.post_lease
            )
        return any(
            hold.request_pk != self.job.request_pk
            and not hold.taken_by_others
            and hold.start < end
            and start < hold.end
            for hold in held
        )

    # -- record ----------------------------------------------------------------------------

    def booked(
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
            # If its source asked to cancel while the POST was under way, this also makes the
            # meeting's cancellation due.
            recorded = store.record_booking(
                session,
                self.job.claim,
                attempt_id,
                state=state,
                http_status=201 if state is AttemptState.BOOKED else None,
                add_blocks=hosts,
                event_uri=invitee.event,
                invitee_uri=invitee.uri,
                cancel_url=invitee.cancel_url,
                reschedule_url=invitee.reschedule_url,
                start_time=start_time,
                location=location,
                event_type_uri=event_type_uri,
            )
            if recorded is None:
                # Rolled back: whoever holds the request now reconciles and adopts this booking.
                raise LeaseLost
            self.record.log(how, f"{how}: {invitee.event}", {"invitee": invitee.uri})
            self.record.write_logs(session)
        if recorded.cancel_due:  # cancel the meeting now
            self.record.wake(self.record.now())

    def _reconcile_later(self, reason: str, log_kind: str) -> None:
        """Release the request `unknown`, to be reconciled once the grace has passed."""
        self.record.release(
            RequestStatus.UNKNOWN,
            next_action=NextAction.RECONCILE,
            at=self.record.now() + self.record.grace,
            reason=reason,
            log_kind=log_kind,
        )

    def _read_event(
        self, invitee: Invitee, slot_start: datetime
    ) -> tuple[dict[str, Any] | None, datetime, list[str]]:
        """The booked event's location, start and hosts, read from Calendly."""
        try:
            event = self.ctx.client.get_scheduled_event(invitee.event)
        except CalendlyError as exc:
            self.record.log("event_read", f"booked, but reading the event failed: {exc.message}")
            if isinstance(exc, Unauthorized):
                # A 401 anywhere stops all sending at once; this booking is still recorded.
                self.failures.pause(exc)
            return None, slot_start, []
        # The hosts Calendly assigned are busy now, for every event type they host.
        hosts = [m.user for m in event.event_memberships if m.user]
        return event.location, event.start_time, hosts

    # -- reconcile -------------------------------------------------------------------------

    def reconcile(self) -> NextAction | None:
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
        row = self.record.read_row()
        try:
            event_type_uri = (
                row.event_type_uri or event_type_of(self.ctx.resolver, self.request).uri
            )
            found = find_our_booking(
                self.ctx.client,
                organization=self.ctx.resolver.organization(),
                invitee_email=self.request.invitee.email,
                event_type_uri=event_type_uri,
                slot_start=attempt.slot_start,
                tokens=tokens,
            )
        except CalendlyError as exc:
            self.failures.reconcile_failure(exc)
            return None
        if found is not None:
            self.record.log("reconciled", "found our booking at Calendly: adopting it")
            self.booked(
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
            self._reconcile_later(
                f"booking not found at Calendly (look {looks}); looking again", "reconciled"
            )
            return None
        with self.ctx.sessions.begin() as session:
            if not store.finish_attempt(
                session, self.job.claim, attempt.id, state=AttemptState.NOT_FOUND
            ):
                raise LeaseLost
            self.record.log(
                "reconciled", f"booking provably absent after {looks} looks: searching again"
            )
            self.record.write_logs(session)
        return NextAction.SEARCH
