"""The hold of a slot: the matching slots of a window, and the first one free held for us.

`SlotHolder` owns one concern of a claimed request: given a window, find its matching slots
(from a shared availability snapshot, `booking/availability.py`), and hold the first one no
request of ours holds. Holding is one transaction under the slot-choice lock
(`store.lock_slot_choice`): choosing the slot, stretching the lease to cover the POST and its
reconcile grace (`BookingContext.post_lease`, so nobody reconciles, let alone re-sends, while
our POST may still land), and committing the intent row the POST needs (`store.record_intent`,
which also refuses while sending is paused by a 401: concurrent tasks stop there too, and
their request is held). Concurrent requests therefore always hold distinct seats.

The search (`booking/search.py`) and the booking of a chosen time (`booking/chosen.py`) both
use it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from autobook import store
from autobook.booking.blocking import (
    SlotOwner,
    free_seats,
    organization_hosts,
    with_learned_hosts,
)
from autobook.booking.body import (
    BookingRuleViolation,
    build_invitee_body,
    new_correlation_token,
)
from autobook.booking.candidates import Candidates, Chosen
from autobook.booking.constraints import constraints_for
from autobook.booking.context import BookingContext, LeaseLost
from autobook.booking.failures import FailureHandler
from autobook.booking.polling import matching_offers, poll_window, polling_floor
from autobook.booking.record import RequestRecord
from autobook.booking.slots import SearchWindow
from autobook.calendly.models import EventType
from autobook.errors import CalendlyError
from autobook.models import NextAction, RequestStatus
from autobook.requests import BookingRequest
from autobook.times import utc_z

# Outcomes of `hold_first_free` when nothing was free.
CONTENDED = "contended"  # some of it is held by an attempt whose outcome is not known yet
RECHECK = "recheck"  # some of it is held by a booking of ours made since the poll: poll again
FULL = "full"
# A best match blocked by a booking of ours in a snapshot older than this is polled again.
RECHECK_AGE_SECONDS = 10.0


class SlotHolder:
    """Finds the matching slots of a window for one claimed request, and holds one."""

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

    def team_hosts(self, event_type: EventType) -> frozenset[str]:
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

    def candidates(
        self, event_type: EventType, window: SearchWindow, *, after: datetime | None = None
    ) -> Candidates | None:
        """The matching slots of one window, best first; None when nothing matches.

        The search asks for the next window only when the ones before it had nothing free for
        us. `after`: only a snapshot polled after it serves (a newer poll than one we had).
        """
        self.record.keep_lease()
        duration = timedelta(minutes=event_type.duration or 0)
        # A waiting request searching again accepts availability as old as its repoll interval:
        # every request waiting on the event type then shares one poll of each cell.
        waiting = self.job.row.status is RequestStatus.WAITING
        max_age = float(self.ctx.settings.waiting_repoll_seconds) if waiting else None
        floor = polling_floor(self.ctx.settings, self.record.now())
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
            self.record.now(),
            exclude=self.job.excluded | known_taken,
        )
        offered = sum(window.start <= t.start_time < window.end for t in snapshot.slots)
        self.record.log(
            "window_polled",
            f"{utc_z(window.start)} to {utc_z(window.end)}: {offered} open slots"
            + ("" if snapshot.fresh else " (shared snapshot)"),
        )
        return Candidates(snapshot.polled_at, event_type, matching) if matching else None

    def hold_in(self, owner: SlotOwner, candidates: Candidates | None) -> Chosen | str | None:
        """`hold_first_free` on a window's candidates (FULL when it had none).

        The starts it found filled by our bookings are noted against the snapshot, so the next
        searches of this process skip them without a transaction.
        """
        if candidates is None:
            return FULL
        held = self.hold_first_free(owner, candidates)
        uri = candidates.event_type.uri
        self.ctx.snapshots.note_taken(uri, candidates.polled_at, candidates.taken)
        return held

    def hold_first_free(self, owner: SlotOwner, candidates: Candidates) -> Chosen | str | None:
        """Hold the first candidate no request of ours holds: its intent is committed here.

        Choosing and committing the intent are one transaction under the slot-choice lock
        (`store.lock_slot_choice`), so concurrent requests always hold distinct seats. Returns
        the held slot; CONTENDED, RECHECK or FULL when nothing was free (CONTENDED: some of it is
        held by an attempt whose outcome is not known yet; RECHECK: some of it by a booking of
        ours a newer poll may show elsewhere); None once the request was released.
        """
        event_type = candidates.event_type
        token = new_correlation_token()
        try:  # the booking rules don't depend on the start: check them before holding anything
            build_invitee_body(
                self.request, event_type, candidates.slots[0], correlation_token=token
            )
        except BookingRuleViolation as exc:
            self.record.release(RequestStatus.REJECTED, reason=exc.message, log_kind="rejected")
            return None
        first, last = candidates.slots[0].start_time, candidates.slots[-1].start_time
        now = self.record.now()
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
                    self.record.log("body", note)
                self.record.log(
                    "intent",
                    f"slot {slot.start_time_raw} chosen and held; booking it",
                    {"event_type": event_type.uri, "attempt": attempt_id},
                )
                self.record.write_logs(session)
        if attempt_id is None:
            if paused:  # another worker met a 401 meanwhile: no POST, hold the request
                self.failures.hold(NextAction.SEARCH, "sending is paused (401)", during="booking")
                return None
            if withdrawn:  # its source withdrew it just now: nothing is sent
                self.record.release_if_withdrawn()
                return None
            raise LeaseLost
        return Chosen(event_type, slot, attempt_id, built)
