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

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

import redis

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


class SharedSnapshots(Protocol):
    """Where workers of other processes find the windows one of them polled."""

    def load(self, event_type_uri: str, window: SearchWindow) -> Snapshot | None: ...

    def save(self, event_type_uri: str, snapshot: Snapshot, ttl_seconds: float) -> None: ...


class RedisSnapshots:
    """Snapshots shared through Redis, keyed by event type and exact window.

    Windows are aligned (`align_now`), so requests of the same few minutes ask for the same keys.
    A Redis failure only costs a poll: snapshots are an optimisation, never the truth.
    """

    def __init__(self, client: redis.Redis, *, prefix: str = "autobook:availability") -> None:
        self._redis = client
        self._prefix = prefix

    def _key(self, event_type_uri: str, window: SearchWindow) -> str:
        span = f"{window.start.timestamp():.0f}-{window.end.timestamp():.0f}"
        return f"{self._prefix}:{event_type_uri}:{span}"

    def load(self, event_type_uri: str, window: SearchWindow) -> Snapshot | None:
        try:
            text = self._redis.get(self._key(event_type_uri, window))
        except redis.RedisError:
            return None
        if not isinstance(text, bytes | str):
            return None
        document = json.loads(text)
        slots = [AvailableTime.model_validate(item) for item in document["slots"]]
        polled_at = datetime.fromisoformat(document["polled_at"])
        return Snapshot(window, slots, polled_at, fresh=False)

    def save(self, event_type_uri: str, snapshot: Snapshot, ttl_seconds: float) -> None:
        document = {
            "polled_at": snapshot.polled_at.isoformat(),
            "slots": [slot.model_dump(mode="json") for slot in snapshot.slots],
        }
        milliseconds = max(int(ttl_seconds * 1000), 1)
        try:
            self._redis.set(
                self._key(event_type_uri, snapshot.window), json.dumps(document), px=milliseconds
            )
        except redis.RedisError:
            return


class AvailabilitySnapshots:
    """Cache of availability windows: per process, and across processes when `shared` is set."""

    def __init__(
        self,
        client: CalendlyClient,
        *,
        ttl_seconds: float,
        shared: SharedSnapshots | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._client = client
        self._ttl_seconds = ttl_seconds
        self._shared = shared
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
        if self._ttl_seconds > 0 and self._shared is not None:
            shared = self._shared.load(event_type_uri, window)
            if shared is not None:
                return shared
        polled_at = self._clock()
        slots = self._client.list_available_times(event_type_uri, window.start, window.end)
        snapshot = Snapshot(window, slots, polled_at, fresh=True, taken_at=now)
        with self._lock:
            self.polls += 1
            self._snapshots.setdefault(event_type_uri, []).append(snapshot)
        if self._ttl_seconds > 0 and self._shared is not None:
            self._shared.save(event_type_uri, snapshot, self._ttl_seconds)
        return snapshot

    def forget(self, event_type_uri: str) -> None:
        with self._lock:
            self._snapshots.pop(event_type_uri, None)
