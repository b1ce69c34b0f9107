"""The actions of one claimed request: search, book, reconcile.

Each action reads what it needs, talks to Calendly, and records its outcome with fenced writes.
It returns the next action to run under the same claim, or None once the request is released.
Failures are classified by what to do next (`booking/failures.py`), never by message; recording
a booking and reconciling live in `booking/outcomes.py`.

The rules of DESIGN §4 that live here:
- The lease is renewed before each action and while a search walks its windows; before a
  `POST /invitees` it is stretched to cover the longest the call can take plus the reconcile
  grace, so nobody can reconcile (and re-send) while our POST may still land.
- An intent row is committed before each POST (`store.record_intent`, which also refuses while
  sending is paused by a 401: concurrent tasks stop there too, and their request is held).
- An unknown outcome is reconciled after `reconcile_grace_seconds`, and is declared absent only
  after a second look another grace period later; only then is the request searched again.
- `already_filled` at a slot where an earlier attempt of ours had an unclear outcome may be our
  own booking: it is reconciled, with every correlation token we sent for that slot.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from autobook import store
from autobook.booking.availability import Snapshot, align_now
from autobook.booking.body import BookingRuleViolation, build_invitee_body
from autobook.booking.constraints import constraints_for
from autobook.booking.failures import describe_refusal
from autobook.booking.outcomes import RECONCILE_LOOKS, Outcomes
from autobook.booking.service import LeaseLost
from autobook.booking.slots import SearchWindow, Slot, choose_slot, search_windows
from autobook.calendly.models import AvailableTime, EventType
from autobook.errors import (
    CalendlyError,
    InvalidRequest,
    OutcomeUnknown,
    RequestRejected,
    SlotTaken,
)
from autobook.models import AttemptState, NextAction, RequestStatus
from autobook.requests import parse_request
from autobook.times import utc_z

__all__ = ["RECONCILE_LOOKS", "Steps", "describe_refusal"]

log = logging.getLogger(__name__)

# Our attempts made slightly before a poll may not show in it yet (clocks, transit).
SNAPSHOT_CLOCK_MARGIN = timedelta(seconds=2)
# Attempt states whose booking may exist without our knowing it.
UNCLEAR_STATES = frozenset(
    {
        AttemptState.INTENT,
        AttemptState.SENT,
        AttemptState.UNKNOWN,
        AttemptState.NOT_FOUND,
    }
)


@dataclass
class Chosen:
    event_type: EventType
    slot: AvailableTime


class Steps(Outcomes):
    """Runs the next actions of one claimed request."""

    # -- entry -----------------------------------------------------------------------------

    def run(self) -> None:
        row = self._row()
        try:
            self.request = parse_request(row.payload)
        except InvalidRequest as exc:
            self._release(RequestStatus.INVALID, reason=exc.message, log_kind="invalid")
            return
        action: NextAction | None = row.next_action
        chosen: Chosen | None = None
        while action is not None and action != NextAction.NONE:
            self._keep_lease()
            if action == NextAction.SEARCH:
                action, chosen = self.search()
            elif action == NextAction.BOOK:
                assert chosen is not None
                action = self.book(chosen)
            elif action == NextAction.RECONCILE:
                action = self.reconcile()
            else:  # pragma: no cover - the enum is closed
                raise ValueError(f"unknown next action {action}")

    # -- search ----------------------------------------------------------------------------

    def search(self) -> tuple[NextAction | None, Chosen | None]:
        assert self.request is not None
        request = self.request
        self._update(status=RequestStatus.SEARCHING)
        try:
            event_type = self._resolve()
        except CalendlyError as exc:
            self._calendly_failure(exc, during="resolving the event type")
            return None, None
        self._update(event_type_uri=event_type.uri)
        self._log("resolved", f"event type {event_type.name!r}", {"uri": event_type.uri})
        now = self._now()
        constraints = constraints_for(request)
        windows = search_windows(
            constraints,
            align_now(now),
            max_window_days=self.ctx.settings.max_window_days,
            lead=timedelta(minutes=self.ctx.settings.lead_minutes),
            horizon=timedelta(days=self.ctx.settings.search_horizon_days),
        )
        row = self._row()
        excluded = {datetime.fromisoformat(text) for text in (row.excluded_slots or [])}
        duration = timedelta(minutes=event_type.duration or 0)
        best: tuple[Slot, AvailableTime] | None = None
        for window in windows:
            self._keep_lease()
            try:
                snapshot = self.ctx.snapshots.get(event_type.uri, window)
            except CalendlyError as exc:
                self._calendly_failure(exc, during="polling availability")
                return None, None
            times = self._still_open(event_type.uri, snapshot)
            self._log(
                "window_polled",
                f"{utc_z(window.start)} to {utc_z(window.end)}: {len(times)} open slots"
                + ("" if snapshot.fresh else " (shared snapshot)"),
            )
            by_start = {t.start_time: t for t in times}
            slot = choose_slot(
                [Slot(t.start_time, t.invitees_remaining or 1) for t in times],
                duration,
                constraints,
                self._now(),
                exclude=excluded,
            )
            if slot is None:
                continue
            candidate = (slot, by_start[slot.start])
            if request.prefer == "earliest":
                best = candidate
                break
            if best is None or slot.start > best[0].start:
                best = candidate
        if best is None:
            self._no_match(windows)
            return None, None
        self._log("slot_chosen", f"slot {best[1].start_time_raw}")
        return NextAction.BOOK, Chosen(event_type, best[1])

    def _still_open(self, event_type_uri: str, snapshot: Snapshot) -> list[AvailableTime]:
        """The snapshot's slots minus the seats our workers took since it was polled."""
        with self.ctx.sessions.begin() as session:
            claims = store.slot_claims_since(
                session, event_type_uri, since=snapshot.polled_at - SNAPSHOT_CLOCK_MARGIN
            )
        still_open: list[AvailableTime] = []
        for slot in snapshot.slots:
            remaining = (slot.invitees_remaining or 1) - claims.get(slot.start_time, 0)
            if remaining > 0:
                still_open.append(slot.model_copy(update={"invitees_remaining": remaining}))
        return still_open

    def _no_match(self, windows: list[SearchWindow]) -> None:
        assert self.request is not None
        now = self._now()
        until = self.request.keep_trying_until
        span = (
            f"between {utc_z(windows[0].start)} and {utc_z(windows[-1].end)}"
            if windows
            else "in the requested window (it is already over)"
        )
        # With no window left (the requested days are over) nothing can ever match: waiting
        # would only re-poll an empty range until `keep_trying_until`.
        if windows and until is not None and until > now:
            at = min(now + timedelta(seconds=self.ctx.settings.waiting_repoll_seconds), until)
            self._release(
                RequestStatus.WAITING,
                next_action=NextAction.SEARCH,
                at=at,
                reason=f"no matching slot {span}; searching again until {utc_z(until)}",
                log_kind="waiting",
            )
        else:
            self._release(
                RequestStatus.NO_SLOT,
                reason=f"no slot meets the request's constraints {span}",
                log_kind="no_slot",
            )

    # -- book ------------------------------------------------------------------------------

    def book(self, chosen: Chosen) -> NextAction | None:
        assert self.request is not None
        try:
            built = build_invitee_body(self.request, chosen.event_type, chosen.slot)
        except BookingRuleViolation as exc:
            self._release(RequestStatus.REJECTED, reason=exc.message, log_kind="rejected")
            return None
        for note in built.notes:
            self._log("body", note)
        # From here until the call is over nobody else may take the request: the lease covers
        # the longest the POST can take, plus the grace a late commit gets before any look.
        self._renew(at_least=self.ctx.post_lease)
        with self.ctx.sessions.begin() as session:
            attempt_id = store.record_intent(
                session,
                self.job.claim,
                slot_start=chosen.slot.start_time,
                correlation_token=built.correlation_token or "",
            )
            paused = attempt_id is None and store.sending_paused(session) is not None
            if attempt_id is not None:
                store.log(
                    session,
                    self.job.request_pk,
                    "intent",
                    f"booking {chosen.slot.start_time_raw}",
                    {"event_type": chosen.event_type.uri, "attempt": attempt_id},
                )
        if attempt_id is None:
            if paused:  # another worker met a 401 meanwhile: no POST, hold the request
                self._hold(NextAction.SEARCH, "sending is paused (401)", during="booking")
                return None
            raise LeaseLost
        try:
            invitee = self.ctx.client.create_invitee(built.body)
        except SlotTaken as exc:
            return self._slot_taken(chosen, attempt_id, exc)
        except OutcomeUnknown as exc:
            self._finish_attempt(attempt_id, AttemptState.UNKNOWN, exc)
            self._release(
                RequestStatus.UNKNOWN,
                next_action=NextAction.RECONCILE,
                at=self._now() + self.grace,
                reason=f"outcome unknown ({exc.message}); reconciling before any re-send",
                log_kind="api_outcome",
            )
            return None
        except CalendlyError as exc:
            # Rejected, or provably not processed (not sent, 429, 401): no booking was made.
            rejected = isinstance(exc, RequestRejected)
            state = AttemptState.REJECTED if rejected else AttemptState.NOT_SENT
            self._finish_attempt(attempt_id, state, exc)
            self._calendly_failure(exc, during="booking")
            return None
        self._booked(
            invitee,
            chosen.event_type.uri,
            attempt_id,
            AttemptState.BOOKED,
            slot_start=chosen.slot.start_time,
        )
        return None

    def _slot_taken(self, chosen: Chosen, attempt_id: int, exc: SlotTaken) -> NextAction | None:
        slot = chosen.slot.start_time
        row = self._row()
        excluded = [*(row.excluded_slots or []), slot.isoformat()]
        self.ctx.snapshots.forget(chosen.event_type.uri)
        with self.ctx.sessions.begin() as session:
            earlier = store.attempts_for(session, self.job.request_pk)
        if any(
            a.id != attempt_id and a.slot_start == slot and a.state in UNCLEAR_STATES
            for a in earlier
        ):
            # The slot may be filled by our own earlier, unanswered POST: look before moving on.
            # The slot is excluded either way: if the booking is not ours, someone else has it.
            self._finish_attempt(attempt_id, AttemptState.UNKNOWN, exc)
            self._update(
                status=RequestStatus.UNKNOWN,
                excluded_slots=excluded,
                reason="already_filled where an earlier attempt had no clear outcome; reconciling",
            )
            return NextAction.RECONCILE
        self._finish_attempt(attempt_id, AttemptState.REJECTED, exc)
        if len(excluded) > self.ctx.settings.max_slot_retries:
            self._release(
                RequestStatus.NO_SLOT,
                reason=f"{len(excluded)} matching slots were taken while booking; gave up",
                log_kind="no_slot",
                excluded_slots=excluded,
            )
            return None
        self._update(excluded_slots=excluded)
        return NextAction.SEARCH
