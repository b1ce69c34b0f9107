"""Which windows a request searches, and which window is polled for each, shared by all requests.

Every request's windows are cut on one grid of `max_window_days` cells (`search_windows` with
`GRID_ORIGIN`), and what is polled for a window is its whole cell from a common floor (now plus
the lead, on a 5-minute step). So the requests of one event type, whatever their own range, ask
Calendly for the same few windows, and one poll of a cell serves all of them: a search (see
`search.py`) and a sweep of the waiting requests (`sweep.py`) alike.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from autobook.booking.availability import align_now
from autobook.booking.constraints import constraints_for
from autobook.booking.slots import (
    MINIMUM_LEAD_SECONDS,
    Constraints,
    SearchWindow,
    Slot,
    grid_cell,
    matching_slots,
    search_windows,
)
from autobook.calendly.models import AvailableTime
from autobook.config import Settings
from autobook.requests import BookingRequest

# Where the grid of polling windows starts: a Monday, midnight UTC.
GRID_ORIGIN = datetime(2024, 1, 1, tzinfo=UTC)


def request_windows(
    request: BookingRequest, settings: Settings, now: datetime
) -> list[SearchWindow]:
    """The windows `request` searches at `now`, cut on the shared grid."""
    return search_windows(
        constraints_for(request),
        align_now(now),
        max_window_days=settings.max_window_days,
        lead=timedelta(minutes=settings.lead_minutes),
        horizon=timedelta(days=settings.search_horizon_days),
        grid_origin=GRID_ORIGIN,
    )


def polling_floor(settings: Settings, now: datetime) -> datetime:
    """Where every poll of the next few minutes starts: now plus the lead, on the 5-minute step."""
    lead = max(timedelta(minutes=settings.lead_minutes), timedelta(seconds=MINIMUM_LEAD_SECONDS))
    return align_now(now) + lead


def poll_window(window: SearchWindow, floor: datetime, settings: Settings) -> SearchWindow:
    """What to poll for `window`: its whole grid cell, from `floor`."""
    cell = grid_cell(window.start, GRID_ORIGIN, settings.max_window_days)
    return SearchWindow(max(cell.start, min(floor, window.start)), cell.end)


def matching_offers(
    offered: list[AvailableTime],
    window: SearchWindow,
    duration: timedelta,
    constraints: Constraints,
    now: datetime,
    *,
    exclude: Collection[datetime] = (),
) -> list[AvailableTime]:
    """The offered slots inside `window` that meet `constraints`, best first (`matching_slots`).

    A poll covers a whole cell, wider than the request's window: what lies outside is not its.
    """
    inside = [t for t in offered if window.start <= t.start_time < window.end]
    by_start = {t.start_time: t for t in inside}
    ranked = matching_slots(
        [Slot(t.start_time, t.invitees_remaining or 1) for t in inside],
        duration,
        constraints,
        now,
        exclude=exclude,
    )
    return [by_start[r.start] for r in ranked]
