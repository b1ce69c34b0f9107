"""Waiting requests are searched per event type: one sweep serves every request waiting on it.

A request with no matching slot and a `keep_trying_until` waits (status `waiting`), due again
only at `keep_trying_until`, when its own search ends it as `no_slot`. Meanwhile, once every
`waiting_repoll_seconds`, one process (see `runtime.sweep_gate`) sweeps:

1. read every waiting request (one query);
2. per event type, poll the grid cells their windows need (`polling.py`; one poll of a cell
   serves every request, and a snapshot as old as the repoll interval is reused);
3. in memory, find the requests that now have a matching slot no request of ours holds;
4. make those due now (one statement); the dispatcher sends them in the same tick, and each
   books through its own search, with every rule of a search.

So a waiting request costs no transaction and writes no history while nothing changes, and the
Calendly calls of an interval grow with the event types waited on, not with the requests. A
sweep that cannot poll an event type makes its requests due: their own searches then meet the
failure and record it, with their backoff.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from autobook import store
from autobook.booking.blocking import free_seats, slot_owner, with_learned_hosts
from autobook.booking.constraints import constraints_for
from autobook.booking.context import BookingContext
from autobook.booking.polling import matching_offers, poll_window, polling_floor, request_windows
from autobook.calendly.models import AvailableTime, EventType
from autobook.errors import AutobookError, CalendlyError
from autobook.requests import BookingRequest, parse_request

log = logging.getLogger(__name__)


class Sweeper:
    """Sweeps the waiting requests when `gate()` says this process's turn has come."""

    def __init__(self, context: BookingContext, gate: Callable[[], bool]) -> None:
        self.ctx = context
        self._gate = gate

    def maybe_sweep(self) -> list[int]:
        """Sweep if it is this process's turn; the primary keys made due."""
        if not self._gate():
            return []
        return self.sweep()

    def sweep(self) -> list[int]:
        now = self.ctx.clock()
        with self.ctx.sessions() as session:
            rows = store.waiting_requests(session)
            for row in rows:
                session.expunge(row)
        by_type: dict[str, list[tuple[int, BookingRequest, set[datetime]]]] = defaultdict(list)
        due: list[int] = []
        for row in rows:
            try:
                request = parse_request(row.payload)
            except AutobookError:
                due.append(row.id)  # its own search records why it cannot be searched
                continue
            if row.event_type_uri is None:
                due.append(row.id)
                continue
            excluded = {datetime.fromisoformat(text) for text in (row.excluded_slots or [])}
            by_type[row.event_type_uri].append((row.id, request, excluded))
        for uri, waiting in by_type.items():
            try:
                due += self._sweep_event_type(uri, waiting, now)
            except CalendlyError as exc:
                log.warning("sweep of %s failed (%s): its requests search themselves", uri, exc)
                due += [pk for pk, _, _ in waiting]
        if due:
            with self.ctx.sessions.begin() as session:
                store.make_due(session, due, now=now)
        log.info("sweep: %d waiting on %d event types, %d due", len(rows), len(by_type), len(due))
        return due

    def _sweep_event_type(
        self,
        uri: str,
        waiting: list[tuple[int, BookingRequest, set[datetime]]],
        now: datetime,
    ) -> list[int]:
        event_type = self.ctx.resolver.by_uri(uri)
        settings = self.ctx.settings
        floor = polling_floor(settings, now)
        max_age = float(settings.waiting_repoll_seconds)
        offers: list[tuple[int, list[AvailableTime]]] = []
        ended: list[int] = []
        oldest_poll: datetime | None = None
        for pk, request, excluded in waiting:
            windows = request_windows(request, settings, now)
            if not windows:  # its range is over: its own search ends it
                ended.append(pk)
                continue
            matching: list[AvailableTime] = []
            for window in windows:
                snapshot = self.ctx.snapshots.get(
                    uri, poll_window(window, floor, settings), max_age_seconds=max_age
                )
                if oldest_poll is None or snapshot.polled_at < oldest_poll:
                    oldest_poll = snapshot.polled_at
                matching += matching_offers(
                    snapshot.slots,
                    window,
                    timedelta(minutes=event_type.duration or 0),
                    constraints_for(request),
                    self.ctx.clock(),
                    exclude=excluded,
                )
            offers.append((pk, matching))
        return ended + self._with_free_seats(event_type, offers, oldest_poll or now)

    def _with_free_seats(
        self,
        event_type: EventType,
        offers: list[tuple[int, list[AvailableTime]]],
        polled_at: datetime,
    ) -> list[int]:
        """The requests with a matching slot that no request of ours holds."""
        starts = [t.start_time for _, slots in offers for t in slots]
        owner = slot_owner(event_type)
        held: list[store.HeldSlot] = []
        if starts:
            with self.ctx.sessions() as session:
                held = store.held_slots(
                    session, start=min(starts), end=max(starts) + owner.duration, since=polled_at
                )
            owner = with_learned_hosts(owner, held)
        return [
            pk
            for pk, slots in offers
            if any(
                free_seats(t.start_time, t.invitees_remaining or 1, owner, held).free > 0
                for t in slots
            )
        ]
