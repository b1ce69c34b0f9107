"""Availability snapshots shared by the requests of one event type for a few seconds.

A burst of 100 requests for the same event type must not cost 100 polls of
`GET /event_type_available_times`. A snapshot of one window is kept for `ttl_seconds` and serves
every request whose window it covers. Windows are aligned (see `align_now`) so that requests
arriving within the same few minutes ask for the same windows. A slot read from a snapshot can be
stale: booking it may meet `already_filled`, which sends the request back to search without it,
and the snapshot is dropped so the next search polls afresh.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from autobook.booking.slots import SearchWindow
from autobook.calendly.client import CalendlyClient
from autobook.calendly.models import AvailableTime

WINDOW_ALIGNMENT = timedelta(minutes=5)


def align_now(now: datetime) -> datetime:
    """`now` rounded up to the alignment grid, so close requests share their windows."""
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    steps = -(-(now - epoch) // WINDOW_ALIGNMENT)
    return epoch + steps * WINDOW_ALIGNMENT


class AvailabilitySnapshots:
    """Per-process cache of availability windows; thread-safe."""

    def __init__(
        self,
        client: CalendlyClient,
        *,
        ttl_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl_seconds = ttl_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._snapshots: dict[str, list[tuple[float, SearchWindow, list[AvailableTime]]]] = {}
        self.polls = 0

    def slots(self, event_type_uri: str, window: SearchWindow) -> tuple[list[AvailableTime], bool]:
        """The slots of `window`, and whether they came from a fresh poll."""
        now = self._monotonic()
        with self._lock:
            entries = [
                entry
                for entry in self._snapshots.get(event_type_uri, [])
                if now - entry[0] < self._ttl_seconds
            ]
            self._snapshots[event_type_uri] = entries
            for _, covered, slots in entries:
                if covered.start <= window.start and window.end <= covered.end:
                    return [s for s in slots if window.start <= s.start_time < window.end], False
        slots = self._client.list_available_times(event_type_uri, window.start, window.end)
        with self._lock:
            self.polls += 1
            self._snapshots.setdefault(event_type_uri, []).append((now, window, slots))
        return slots, True

    def forget(self, event_type_uri: str) -> None:
        with self._lock:
            self._snapshots.pop(event_type_uri, None)
