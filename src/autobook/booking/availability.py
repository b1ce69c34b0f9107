"""Availability snapshots shared by the requests of one event type for a few seconds.

A burst of 100 requests for the same event type must not cost 100 polls of
`GET /event_type_available_times`. A snapshot of one window is kept for `ttl_seconds` and serves
every request whose window it covers. Windows are aligned (see `align_now`) so that requests
arriving within the same few minutes ask for the same windows.

A snapshot goes stale as soon as someone books from it. To keep requests from walking into
`already_filled`, the caller subtracts the slots that any of our workers booked or is booking
since the snapshot was polled (`store.slot_claims_since`, from `Snapshot.polled_at`). A slot
taken by someone else still meets `already_filled`; the request searches again without it, and
the snapshot is dropped so the next search polls afresh.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from autobook.booking.slots import SearchWindow
from autobook.calendly.client import CalendlyClient
from autobook.calendly.models import AvailableTime
from autobook.times import utc_now

WINDOW_ALIGNMENT = timedelta(minutes=5)


def align_now(now: datetime) -> datetime:
    """`now` rounded up to the alignment grid, so close requests share their windows."""
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    steps = -(-(now - epoch) // WINDOW_ALIGNMENT)
    return epoch + steps * WINDOW_ALIGNMENT


@dataclass
class Snapshot:
    """The open slots of one window as polled at `polled_at` (wall clock, UTC)."""

    window: SearchWindow
    slots: list[AvailableTime]
    polled_at: datetime
    fresh: bool
    taken_at: float = 0.0  # monotonic, for the TTL


class AvailabilitySnapshots:
    """Per-process cache of availability windows; thread-safe."""

    def __init__(
        self,
        client: CalendlyClient,
        *,
        ttl_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._client = client
        self._ttl_seconds = ttl_seconds
        self._monotonic = monotonic
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshots: dict[str, list[Snapshot]] = {}
        self.polls = 0

    def get(self, event_type_uri: str, window: SearchWindow) -> Snapshot:
        """The slots of `window`, from a covering snapshot or a fresh poll."""
        now = self._monotonic()
        with self._lock:
            live = [
                snapshot
                for snapshot in self._snapshots.get(event_type_uri, [])
                if now - snapshot.taken_at < self._ttl_seconds
            ]
            self._snapshots[event_type_uri] = live
            for snapshot in live:
                covered = snapshot.window
                if covered.start <= window.start and window.end <= covered.end:
                    slots = [s for s in snapshot.slots if window.start <= s.start_time < window.end]
                    return replace(snapshot, window=window, slots=slots, fresh=False)
        polled_at = self._clock()
        slots = self._client.list_available_times(event_type_uri, window.start, window.end)
        snapshot = Snapshot(window, slots, polled_at, fresh=True, taken_at=now)
        with self._lock:
            self.polls += 1
            self._snapshots.setdefault(event_type_uri, []).append(snapshot)
        return snapshot

    def forget(self, event_type_uri: str) -> None:
        with self._lock:
            self._snapshots.pop(event_type_uri, None)
