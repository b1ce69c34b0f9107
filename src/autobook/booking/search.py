"""The search action: the best matching slot that no request of ours holds, held.

`SlotSearch` resolves the request's event type, walks its windows from the preferred end
(`earliest`: the first; `latest`: the last), polling the next only when nothing was free in the
ones before, and holds the first free match (`SlotHolder`, `booking/hold.py`). A proposed time
a person chose is booked exactly (`booking/chosen.py`). When nothing is free:
- every match is held by our requests still in flight, or booked by one since the poll: look
  again shortly (`searching`), never "no slot";
- nothing matches: `waiting` (due again at `keep_trying_until`, or sooner when the sweep of its
  event type sees a matching slot open), or `no_slot` when it cannot wait.
"""

from __future__ import annotations

from datetime import timedelta

from autobook.booking.blocking import slot_owner
from autobook.booking.candidates import Chosen
from autobook.booking.chosen import search_chosen
from autobook.booking.context import BookingContext
from autobook.booking.failures import FailureHandler
from autobook.booking.hold import CONTENDED, RECHECK, SlotHolder
from autobook.booking.polling import request_windows
from autobook.booking.record import RequestRecord
from autobook.booking.resolve import event_type_of
from autobook.booking.slots import SearchWindow
from autobook.calendly.models import EventType
from autobook.errors import CalendlyError
from autobook.models import NextAction, RequestStatus
from autobook.requests import BookingRequest
from autobook.times import utc_z

# When every matching slot is held by our other requests, look again this soon.
CONTENDED_RETRY = timedelta(seconds=2)
# `extra` keys of a waiting request: how often it was searched again without a change, and when.
SEARCHES = "searches"
LAST_SEARCHED_AT = "last_searched_at"


class SlotSearch:
    """Runs the search action of one claimed request."""

    def __init__(
        self,
        context: BookingContext,
        record: RequestRecord,
        failures: FailureHandler,
        holder: SlotHolder,
        request: BookingRequest,
    ) -> None:
        self.ctx = context
        self.record = record
        self.failures = failures
        self.holder = holder
        self.request = request

    def search(self) -> tuple[NextAction | None, Chosen | None]:
        """Find the best matching slot that no request of ours holds, and hold it."""
        try:
            event_type = event_type_of(self.ctx.resolver, self.request)
        except CalendlyError as exc:
            self.failures.calendly_failure(exc, during="resolving the event type")
            return None, None
        self.record.log("resolved", f"event type {event_type.name!r}", {"uri": event_type.uri})
        if self.request.start_time is not None:  # a proposed time a person chose
            return search_chosen(self.holder, event_type)
        windows = request_windows(self.request, self.ctx.settings, self.record.now())
        contended = False
        try:
            owner = slot_owner(event_type, self.holder.team_hosts(event_type))
            for window in self._preferred_order(windows):
                candidates = self.holder.candidates(event_type, window)
                held = self.holder.hold_in(owner, candidates)
                if held == RECHECK and candidates is not None:
                    # Every match was blocked by bookings of ours made since the poll, through
                    # hosts we could only guess: a newer poll of this window says which are free.
                    candidates = self.holder.candidates(
                        event_type, window, after=candidates.polled_at
                    )
                    held = self.holder.hold_in(owner, candidates)
                if isinstance(held, Chosen):
                    return NextAction.BOOK, held
                if held is None:  # refused by a booking rule, or held by the 401 pause
                    return None, None
                # Still blocked by bookings of ours newer than a poll just made: as contended,
                # a moment later tells, never "no slot".
                contended = contended or held in (CONTENDED, RECHECK)
        except CalendlyError as exc:
            self.failures.calendly_failure(exc, during="polling availability")
            return None, None
        if contended:
            # Every matching slot is held by a request of ours whose outcome is not known yet (one
            # that fails frees its slot), or booked by one since a poll a moment ago. Look again
            # shortly: this is not "no slot".
            at = self.record.now() + CONTENDED_RETRY
            self.record.release(
                RequestStatus.SEARCHING,
                next_action=NextAction.SEARCH,
                at=at,
                reason="every matching slot is held by our other requests; searching again",
                log_kind="contended",
            )
            self.record.wake(at)
            return None, None
        self._no_match(windows, event_type)
        return None, None

    def _preferred_order(self, windows: list[SearchWindow]) -> list[SearchWindow]:
        """Windows from the preferred end: the first for `earliest`, the last for `latest`."""
        return windows if self.request.prefer == "earliest" else list(reversed(windows))

    def _no_match(self, windows: list[SearchWindow], event_type: EventType) -> None:
        now = self.record.now()
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
            row = self.record.job.row
            extra = dict(row.extra or {})
            still_waiting = row.status is RequestStatus.WAITING
            if still_waiting:
                # Nothing changed: a counter and a time, not another page of history.
                self.record.drop_pending_logs()
                extra[SEARCHES] = int(extra.get(SEARCHES, 0)) + 1
                extra[LAST_SEARCHED_AT] = utc_z(now)
            self.record.release(
                RequestStatus.WAITING,
                next_action=NextAction.SEARCH,
                at=at,
                reason=f"no matching slot {span}; searching again until {utc_z(until)}",
                log_kind=None if still_waiting else "waiting",
                event_type_uri=event_type.uri,
                extra=extra,
            )
        else:
            self.record.release(
                RequestStatus.NO_SLOT,
                reason=f"no slot meets the request's constraints {span}",
                log_kind="no_slot",
                event_type_uri=event_type.uri,
            )
