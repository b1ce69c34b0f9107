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
- A request its source withdrew is released `canceled` before any search, and a booked one
  whose cancel is due has its meeting canceled at Calendly (`booking/cancel.py`).
- `already_filled` at a slot where an earlier attempt of ours had an unclear outcome may be our
  own booking: it is reconciled, with every correlation token we sent for that slot.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from autobook import store
from autobook.booking.blocking import (
    SlotOwner,
    free_seats,
    organization_hosts,
    slot_owner,
    with_learned_hosts,
)
from autobook.booking.body import (
    BookingRuleViolation,
    build_invitee_body,
    new_correlation_token,
)
from autobook.booking.booked_event import known_event
from autobook.booking.cancel import cancel_meeting
from autobook.booking.candidates import Candidates, Chosen
from autobook.booking.chosen import search_chosen
from autobook.booking.constraints import constraints_for
from autobook.booking.context import LeaseLost
from autobook.booking.failures import describe_refusal
from autobook.booking.outcomes import RECONCILE_LOOKS, Outcomes
from autobook.booking.polling import matching_offers, poll_window, polling_floor, request_windows
from autobook.booking.slots import (
    SearchWindow,
)
from autobook.calendly.models import EventType
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

# When every matching slot is held by our other requests, look again this soon.
CONTENDED_RETRY = timedelta(seconds=2)
# Outcomes of `_hold_first_free` when nothing was free.
CONTENDED = "contended"  # some of it is held by an attempt whose outcome is not known yet
RECHECK = "recheck"  # some of it is held by a booking of ours made since the poll: poll again
FULL = "full"
# A best match blocked by a booking of ours in a snapshot older than this is polled again.
RECHECK_AGE_SECONDS = 10.0
# `extra` keys: `already_filled` refusals at slots no request of ours was holding; and, for a
# waiting request, how often it was searched again without a change, and when last.
FOREIGN_REFUSALS = "foreign_refusals"
SEARCHES = "searches"
LAST_SEARCHED_AT = "last_searched_at"
# Attempt states whose booking may exist without our knowing it.
UNCLEAR_STATES = frozenset(
    {
        AttemptState.INTENT,
        AttemptState.SENT,
        AttemptState.UNKNOWN,
        AttemptState.NOT_FOUND,
    }
)


class Steps(Outcomes):
    """Runs the next actions of one claimed request."""

    # -- entry -----------------------------------------------------------------------------

    def run(self) -> None:
        row = self.job.row if self.job.row is not None else self._row()
        self._claimed_row = row
        self._excluded = {datetime.fromisoformat(text) for text in (row.excluded_slots or [])}
        try:
            self.request = parse_request(row.payload)
        except InvalidRequest as exc:
            self._release(RequestStatus.INVALID, reason=exc.message, log_kind="invalid")
            return
        action: NextAction | None = row.next_action
        chosen: Chosen | None = None
        while action is not None and action != NextAction.NONE:
            self._keep_lease()
            if action == NextAction.CANCEL:
                cancel_meeting(self)
                action = None
            elif action == NextAction.SEARCH:
                # A request withdrawn while its POST was under way ends here, never re-sent.
                # (The row as claimed says so; a withdrawal after the claim makes the intent
                # refuse, below.)
                withdrawn = row.cancel_requested_at is not None and self._withdrawn()
                action, chosen = (None, None) if withdrawn else self.search()
            elif action == NextAction.BOOK:
                assert chosen is not None
                action = self.book(chosen)
            elif action == NextAction.RECONCILE:
                action = self.reconcile()
            else:  # pragma: no cover - the enum is closed
                raise ValueError(f"unknown next action {action}")
        self._flush_logs()

    # -- search ----------------------------------------------------------------------------

    def search(self) -> tuple[NextAction | None, Chosen | None]:
        """Find the best matching slot that no request of ours holds, and hold it."""
        assert self.request is not None
        try:
            event_type = self._resolve()
        except CalendlyError as exc:
            self._calendly_failure(exc, during="resolving the event type")
            return None, None
        self._log("resolved", f"event type {event_type.name!r}", {"uri": event_type.uri})
        if self.request.start_time is not None:  # a proposed time a person chose
            return search_chosen(self, event_type)
        windows = request_windows(self.request, self.ctx.settings, self._now())
        contended = False
        try:
            owner = slot_owner(event_type, self._team_hosts(event_type))
            for window in self._preferred_order(windows):
                candidates = self._candidates(event_type, window)
                held = self._hold_in(owner, candidates)
                if held == RECHECK and candidates is not None:
                    # Every match was blocked by bookings of ours made since the poll, through
                    # hosts we could only guess: a newer poll of this window says which are free.
                    candidates = self._candidates(event_type, window, after=candidates.polled_at)
                    held = self._hold_in(owner, candidates)
                if isinstance(held, Chosen):
                    return NextAction.BOOK, held
                if held is None:  # refused by a booking rule, or held by the 401 pause
                    return None, None
                # Still blocked by bookings of ours newer than a poll just made: as contended,
                # a moment later tells, never "no slot".
                contended = contended or held in (CONTENDED, RECHECK)
        except CalendlyError as exc:
            self._calendly_failure(exc, during="polling availability")
            return None, None
        if contended:
            # Every matching slot is held by a request of ours whose outcome is not known yet (one
            # that fails frees its slot), or booked by one since a poll a moment ago. Look again
            # shortly: this is not "no slot".
            at = self._now() + CONTENDED_RETRY
            self._release(
                RequestStatus.SEARCHING,
                next_action=NextAction.SEARCH,
                at=at,
                reason="every matching slot is held by our other requests; searching again",
                log_kind="contended",
            )
            self._wake(at)
            return None, None
        self._no_match(windows, event_type)
        return None, None

    def _team_hosts(self, event_type: EventType) -> frozenset[str]:
        """A team type's possible hosts: every host of the organization (`booking/blocking.py`).

        The organization's listing is cached by the resolver (a selector already read it). If
        it cannot be read, the team's hosts stay unknown: a collision then costs one
        `already_filled`, as before the guess.
        """
        if not event_type.pooling_type:
            return frozenset()
        try:
            return organization_hosts(self.ctx.resolver.all_event_types())
        except CalendlyError:
            return frozenset()

    def _preferred_order(self, windows: list[SearchWindow]) -> list[SearchWindow]:
        """Windows from the preferred end: the first for `earliest`, the last for `latest`."""
        assert self.request is not None
        return windows if self.request.prefer == "earliest" else list(reversed(windows))

    def _candidates(
        self, event_type: EventType, window: SearchWindow, *, after: datetime | None = None
    ) -> Candidates | None:
        """The matching slots of one window, best first; None when nothing matches.

        The search asks for the next window only when the ones before it had nothing free for
        us. `after`: only a snapshot polled after it serves (a newer poll than one we had).
        """
        assert self.request is not None
        self._keep_lease()
        duration = timedelta(minutes=event_type.duration or 0)
        # A waiting request searching again accepts availability as old as its repoll interval:
        # every request waiting on the event type then shares one poll of each cell.
        waiting = self._claimed_row.status is RequestStatus.WAITING
        max_age = float(self.ctx.settings.waiting_repoll_seconds) if waiting else None
        floor = polling_floor(self.ctx.settings, self._now())
        snapshot = self.ctx.snapshots.get(
            event_type.uri,
            poll_window(window, floor, self.ctx.settings),
            max_age_seconds=max_age,
            polled_after=after,
        )
        # Starts this process already found filled by our bookings since this poll.
        known_taken = self.ctx.snapshots.known_taken(event_type.uri, snapshot.polled_at)
        matching = matching_offers(
            snapshot.slots,
            window,
            duration,
            constraints_for(self.request),
            self._now(),
            exclude=self._excluded | known_taken,
        )
        offered = sum(window.start <= t.start_time < window.end for t in snapshot.slots)
        self._log(
            "window_polled",
            f"{utc_z(window.start)} to {utc_z(window.end)}: {offered} open slots"
            + ("" if snapshot.fresh else " (shared snapshot)"),
        )
        return Candidates(snapshot.polled_at, event_type, matching) if matching else None

    def _hold_in(self, owner: SlotOwner, candidates: Candidates | None) -> Chosen | str | None:
        """`_hold_first_free` on a window's candidates (FULL when it had none).

        The starts it found filled by our bookings are noted against the snapshot, so the next
        searches of this process skip them without a transaction.
        """
        if candidates is None:
            return FULL
        held = self._hold_first_free(owner, candidates)
        uri = candidates.event_type.uri
        self.ctx.snapshots.note_taken(uri, candidates.polled_at, candidates.taken)
        return held

    def _hold_first_free(self, owner: SlotOwner, candidates: Candidates) -> Chosen | str | None:
        """Hold the first candidate no request of ours holds: its intent is committed here.

        Choosing and committing the intent are one transaction under the slot-choice lock
        (`store.lock_slot_choice`), so concurrent requests always hold distinct seats. Returns
        the held slot; CONTENDED, RECHECK or FULL when nothing was free (CONTENDED: some of it is
        held by an attempt whose outcome is not known yet; RECHECK: some of it by a booking of
        ours a newer poll may show elsewhere); None once the request was released.
        """
        assert self.request is not None
        event_type = candidates.event_type
        token = new_correlation_token()
        try:  # the booking rules don't depend on the start: check them before holding anything
            build_invitee_body(
                self.request, event_type, candidates.slots[0], correlation_token=token
            )
        except BookingRuleViolation as exc:
            self._release(RequestStatus.REJECTED, reason=exc.message, log_kind="rejected")
            return None
        first, last = candidates.slots[0].start_time, candidates.slots[-1].start_time
        now = self._now()
        lease = max(timedelta(seconds=self.ctx.settings.lease_seconds), self.ctx.post_lease)
        with self.ctx.sessions.begin() as session:
            # From the intent until the call is over nobody else may take the request: the
            # lease covers the longest the POST can take, plus the grace a late commit gets
            # before a look. One write renews it, takes the lock and checks the fence.
            renewed = store.lock_slot_choice(
                session,
                self.job.claim,
                now=now,
                lease_until=now + lease,
                event_type_uri=event_type.uri,
            )
            if renewed is None:
                raise LeaseLost
            self.job.claim = renewed
            held = [
                hold
                for hold in store.held_slots(
                    session,
                    start=min(first, last),
                    end=max(first, last) + owner.duration,
                    since=candidates.polled_at,
                )
                if hold.request_pk != self.job.request_pk
            ]
            owner = with_learned_hosts(owner, held)
            verdict = FULL
            aged = (now - candidates.polled_at).total_seconds() > RECHECK_AGE_SECONDS
            for index, slot in enumerate(candidates.slots):
                seats = free_seats(slot.start_time, slot.invitees_remaining or 1, owner, held)
                if seats.free > 0:
                    break
                if not seats.held_in_flight and not seats.recheck:
                    candidates.taken.add(slot.start_time)
                if seats.held_in_flight:
                    verdict = CONTENDED
                elif seats.recheck and (index == 0 and aged):
                    # The best match may be free after all: rather than settle for a worse
                    # one, poll again (one poll serves every request of the type).
                    return RECHECK
                elif seats.recheck and verdict == FULL:
                    verdict = RECHECK
            else:
                return verdict
            built = build_invitee_body(self.request, event_type, slot, correlation_token=token)
            slot_start, slot_end = owner.span(slot.start_time)
            attempt_id = store.record_intent(
                session,
                self.job.claim,
                slot_start=slot_start,
                slot_end=slot_end,
                blocks=owner.blocks,
                correlation_token=built.correlation_token or "",
            )
            paused = attempt_id is None and store.sending_paused(session) is not None
            withdrawn = attempt_id is None and store.cancel_requested(session, self.job.request_pk)
            if attempt_id is not None:
                for note in built.notes:
                    self._log("body", note)
                self._log(
                    "intent",
                    f"slot {slot.start_time_raw} chosen and held; booking it",
                    {"event_type": event_type.uri, "attempt": attempt_id},
                )
                self._write_logs(session)
        if attempt_id is None:
            if paused:  # another worker met a 401 meanwhile: no POST, hold the request
                self._hold(NextAction.SEARCH, "sending is paused (401)", during="booking")
                return None
            if withdrawn:  # its source withdrew it just now: nothing is sent
                self._withdrawn()
                return None
            raise LeaseLost
        return Chosen(event_type, slot, attempt_id, built)

    def _withdrawn(self) -> bool:
        """Release the request as `canceled` if its source asked to withdraw it."""
        with self.ctx.sessions.begin() as session:
            requested = store.cancel_requested(session, self.job.request_pk)
        if requested:
            self._release(
                RequestStatus.CANCELED,
                reason=f"{store.WITHDRAWN_REASON} (no booking was made)",
                log_kind="canceled",
            )
        return requested

    def _no_match(self, windows: list[SearchWindow], event_type: EventType) -> None:
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
            # Due again at `until` only: meanwhile the sweep of its event type (`sweep.py`)
            # makes it due as soon as a matching slot opens.
            at = until
            row = self._claimed_row
            extra = dict(row.extra or {})
            still_waiting = row.status is RequestStatus.WAITING
            if still_waiting:
                # Nothing changed: a counter and a time, not another page of history.
                self._pending_logs.clear()
                extra[SEARCHES] = int(extra.get(SEARCHES, 0)) + 1
                extra[LAST_SEARCHED_AT] = utc_z(now)
            self._release(
                RequestStatus.WAITING,
                next_action=NextAction.SEARCH,
                at=at,
                reason=f"no matching slot {span}; searching again until {utc_z(until)}",
                log_kind=None if still_waiting else "waiting",
                event_type_uri=event_type.uri,
                extra=extra,
            )
        else:
            self._release(
                RequestStatus.NO_SLOT,
                reason=f"no slot meets the request's constraints {span}",
                log_kind="no_slot",
                event_type_uri=event_type.uri,
            )

    # -- book ------------------------------------------------------------------------------

    def book(self, chosen: Chosen) -> NextAction | None:
        """Send the POST for the slot `search` held (its intent is committed)."""
        assert self.request is not None
        attempt_id = chosen.attempt_id
        built = chosen.built
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
            known=known_event(chosen.event_type, built.body, chosen.slot.start_time),
        )
        return None

    def _slot_taken(self, chosen: Chosen, attempt_id: int, exc: SlotTaken) -> NextAction | None:
        slot = chosen.slot.start_time
        row = self._row()
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
            self._finish_attempt(attempt_id, AttemptState.UNKNOWN, exc)
            self._update(
                status=RequestStatus.UNKNOWN,
                excluded_slots=excluded,
                reason="already_filled where an earlier attempt had no clear outcome; reconciling",
            )
            self._excluded.add(slot)
            return NextAction.RECONCILE
        self._finish_attempt(attempt_id, AttemptState.REJECTED, exc, slot_taken=True)
        # A collision with a request of ours (a host we could not know was busy) says nothing
        # about Calendly; only a slot someone else took counts towards giving up.
        refusals = int((row.extra or {}).get(FOREIGN_REFUSALS, 0))
        if not collision:
            refusals += 1
        extra = {**(row.extra or {}), FOREIGN_REFUSALS: refusals}
        if refusals > self.ctx.settings.max_slot_retries:
            self._release(
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
        self._update(excluded_slots=excluded, extra=extra)
        self._excluded.add(slot)
        self._claimed_row.extra = extra
        return NextAction.SEARCH

    def _collides_with_ours(self, chosen: Chosen) -> bool:
        """Whether another request of ours holds a slot overlapping the refused one."""
        owner = slot_owner(chosen.event_type)
        start, end = owner.span(chosen.slot.start_time)
        with self.ctx.sessions.begin() as session:
            held = store.held_slots(
                session, start=start, end=end, since=self._now() - self.ctx.post_lease
            )
        return any(
            hold.request_pk != self.job.request_pk
            and not hold.taken_by_others
            and hold.start < end
            and start < hold.end
            for hold in held
        )
