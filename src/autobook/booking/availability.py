"""Availability snapshots shared by the requests of one event type for a few seconds.

A burst of 100 requests for the same event type must not cost 100 polls of
`GET /event_type_available_times`. A snapshot of one window is kept for `ttl_seconds` and serves
every request whose window it covers. Windows are aligned (see `align_now`) so that requests
arriving within the same few minutes ask for the same windows.

A snapshot goes stale as soon as someone books from it. Our own bookings are subtracted by the
caller, from the attempts every worker records (`booking/blocking.py`). A slot taken by someone
else meets `already_filled`: the caller then calls `forget`, which drops the event type's
snapshots in this process and, through Redis or the data folder (`stale_marks`), in every
process (a `stale-before` mark: a snapshot polled before it is never served again), so the next
search of every worker polls afresh. A cancellation that opens a slot does the same.

Single flight: while the cache is on, a poll of one window that is under way in this process is
waited for, not repeated, so a burst of proposals or searches that finds the cache cold or
expired costs one call, not one per thread. A waiter is served the poll as a cached copy
(`fresh` False: the call was not its own); if the poll fails or outlasts `FLIGHT_WAIT_SECONDS`,
it polls itself.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

import redis

from autobook.booking.slots import SearchWindow
from autobook.calendly.client import CalendlyClient
from autobook.calendly.models import AvailableTime
from autobook.times import utc_now

WINDOW_ALIGNMENT = timedelta(minutes=5)
# How long a caller waits for another thread's poll of the same window before polling itself.
FLIGHT_WAIT_SECONDS = 30.0


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


@dataclass(frozen=True)
class SharedLoad:
    """What the shared store holds for one window: a live snapshot, and the stale mark."""

    snapshot: Snapshot | None
    stale_before: datetime | None  # snapshots polled at or before this are stale


@dataclass
class _Flight:
    """A poll under way: its waiters wake on `done`; `snapshot` is None if it failed."""

    done: threading.Event = field(default_factory=threading.Event)
    snapshot: Snapshot | None = None


class SharedSnapshots(Protocol):
    """Where workers of other processes find the windows one of them polled."""

    def load(self, event_type_uri: str, window: SearchWindow) -> SharedLoad: ...

    def save(self, event_type_uri: str, snapshot: Snapshot, ttl_seconds: float) -> None: ...

    def mark_stale(self, event_type_uri: str, at: datetime, ttl_seconds: float) -> None: ...


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

    def _stale_key(self, event_type_uri: str) -> str:
        return f"{self._prefix}:{event_type_uri}:stale-before"

    def load(self, event_type_uri: str, window: SearchWindow) -> SharedLoad:
        try:
            text, mark = self._redis.mget(
                [self._key(event_type_uri, window), self._stale_key(event_type_uri)]
            )
        except redis.RedisError:
            return SharedLoad(None, None)
        stale_before = (
            datetime.fromisoformat(_text(mark)) if isinstance(mark, bytes | str) else None
        )
        if not isinstance(text, bytes | str):
            return SharedLoad(None, stale_before)
        document = json.loads(text)
        polled_at = datetime.fromisoformat(document["polled_at"])
        if stale_before is not None and polled_at <= stale_before:
            return SharedLoad(None, stale_before)
        slots = [AvailableTime.model_validate(item) for item in document["slots"]]
        return SharedLoad(Snapshot(window, slots, polled_at, fresh=False), stale_before)

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

    def mark_stale(self, event_type_uri: str, at: datetime, ttl_seconds: float) -> None:
        # The mark outlives every snapshot saved before it (they are kept `ttl_seconds`).
        milliseconds = max(int(ttl_seconds * 1000), 1) + 1000
        try:
            self._redis.set(self._stale_key(event_type_uri), at.isoformat(), px=milliseconds)
        except redis.RedisError:
            return


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class AvailabilitySnapshots:
    """Cache of availability windows: per process, and across processes when `shared` is set."""

    def __init__(
        self,
        client: CalendlyClient,
        *,
        ttl_seconds: float,
        keep_seconds: float = 0.0,
        shared: SharedSnapshots | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """`ttl_seconds`: how old a snapshot may be for a request searching afresh (0: none).

        `keep_seconds`: how long snapshots are kept for callers that accept older ones (a
        waiting request searching again accepts one as old as its repoll interval).
        """
        self._client = client
        self._ttl_seconds = ttl_seconds
        self._keep_seconds = max(keep_seconds, ttl_seconds) if ttl_seconds > 0 else 0.0
        self._shared = shared
        self._monotonic = monotonic
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshots: dict[str, list[Snapshot]] = {}
        self._flights: dict[tuple[str, datetime, datetime], _Flight] = {}
        # Per snapshot (event type, polled at): starts our own bookings since then have
        # certainly filled (`note_taken`).
        self._taken: dict[tuple[str, datetime], set[datetime]] = {}
        self.polls = 0

    def get(
        self,
        event_type_uri: str,
        window: SearchWindow,
        *,
        max_age_seconds: float | None = None,
        polled_after: datetime | None = None,
    ) -> Snapshot:
        """The slots of `window`, from a covering snapshot or a fresh poll.

        A snapshot serves if it is younger than `max_age_seconds` (at most the keep time), or
        than the TTL when not given, and was polled after `polled_after` when that is given.
        """
        now = self._monotonic()
        max_age = self._ttl_seconds
        if max_age > 0 and max_age_seconds is not None:
            max_age = max(min(max_age_seconds, self._keep_seconds), self._ttl_seconds)
        local = self._local(event_type_uri, window, now, max_age)
        if local is not None and polled_after is not None and local.polled_at <= polled_after:
            local = None
        if self._ttl_seconds > 0 and self._shared is not None:
            # Even a local copy is checked against the shared stale mark: another process may
            # have met `already_filled` since it was polled.
            shared = self._shared.load(event_type_uri, window)
            mark = shared.stale_before
            if local is not None and (mark is None or local.polled_at > mark):
                return local
            found = shared.snapshot
            if (
                found is not None
                and (self._clock() - found.polled_at).total_seconds() < max_age
                and (polled_after is None or found.polled_at > polled_after)
            ):
                return found
        elif local is not None:
            return local
        if self._ttl_seconds <= 0:
            return self._poll(event_type_uri, window, now)  # no sharing asked for: no flights
        return self._poll_once(event_type_uri, window, now)

    def _poll_once(self, event_type_uri: str, window: SearchWindow, now: float) -> Snapshot:
        """Poll `window`, or wait for the poll of it another thread has under way."""
        key = (event_type_uri, window.start, window.end)
        with self._lock:
            flight = self._flights.get(key)
            leading = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leading:
            if flight.done.wait(FLIGHT_WAIT_SECONDS) and flight.snapshot is not None:
                return replace(flight.snapshot, fresh=False)
            return self._poll(event_type_uri, window, now)
        try:
            flight.snapshot = self._poll(event_type_uri, window, now)
            return flight.snapshot
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()

    def _poll(self, event_type_uri: str, window: SearchWindow, now: float) -> Snapshot:
        polled_at = self._clock()
        slots = self._client.list_available_times(event_type_uri, window.start, window.end)
        snapshot = Snapshot(window, slots, polled_at, fresh=True, taken_at=now)
        with self._lock:
            self.polls += 1
            self._snapshots.setdefault(event_type_uri, []).append(snapshot)
        if self._ttl_seconds > 0 and self._shared is not None:
            self._shared.save(event_type_uri, snapshot, self._keep_seconds)
        return snapshot

    def _local(
        self, event_type_uri: str, window: SearchWindow, now: float, max_age: float
    ) -> Snapshot | None:
        with self._lock:
            kept = [
                snapshot
                for snapshot in self._snapshots.get(event_type_uri, [])
                if now - snapshot.taken_at < self._keep_seconds
            ]
            self._snapshots[event_type_uri] = kept
            # The youngest first: a fresher copy wins over an older one of the same window.
            for snapshot in reversed(kept):
                if now - snapshot.taken_at >= max_age:
                    continue
                covered = snapshot.window
                if covered.start <= window.start and window.end <= covered.end:
                    slots = [s for s in snapshot.slots if window.start <= s.start_time < window.end]
                    return replace(snapshot, window=window, slots=slots, fresh=False)
        return None

    def note_taken(self, event_type_uri: str, polled_at: datetime, starts: set[datetime]) -> None:
        """Remember that bookings of ours made since `polled_at` fill these starts.

        A search that found a window's matches all held by our bookings paid a transaction to
        learn it; the next searches of this process that read the same snapshot skip those
        starts without one. Our bookings do not go away, so the note stays true for as long as
        the snapshot serves (a foreign booking still meets `already_filled`, as before).
        """
        if not starts:
            return
        oldest = self._clock() - timedelta(seconds=self._keep_seconds + 60)
        with self._lock:
            for key in [key for key in self._taken if key[1] < oldest]:
                del self._taken[key]
            self._taken.setdefault((event_type_uri, polled_at), set()).update(starts)

    def known_taken(self, event_type_uri: str, polled_at: datetime) -> frozenset[datetime]:
        """The starts `note_taken` recorded for this snapshot."""
        with self._lock:
            return frozenset(self._taken.get((event_type_uri, polled_at), ()))

    def forget(self, event_type_uri: str) -> None:
        """Drop the event type's snapshots here and, when shared, in every process."""
        with self._lock:
            self._snapshots.pop(event_type_uri, None)
        if self._shared is not None and self._ttl_seconds > 0:
            self._shared.mark_stale(event_type_uri, self._clock(), self._keep_seconds)
