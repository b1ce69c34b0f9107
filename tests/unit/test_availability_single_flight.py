"""Single flight in `AvailabilitySnapshots`: concurrent callers of one window share one poll.

The Calendly client is a stand-in that blocks its first call until released, so the other
callers arrive while that poll is under way, as a burst of proposals does on a cold cache.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from autobook.booking.availability import AvailabilitySnapshots, Snapshot
from autobook.booking.slots import SearchWindow
from autobook.calendly.client import CalendlyClient
from autobook.calendly.models import AvailableTime
from autobook.errors import RequestNotSent

START = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
WINDOW = SearchWindow(START, START + timedelta(days=7))
URI = "https://api.calendly.com/event_types/demo"
CALLERS = 6


class BlockingClient:
    def __init__(self, *, fail_first: bool = False) -> None:
        self.calls = 0
        self.release = threading.Event()
        self.started = threading.Event()
        self.fail_first = fail_first
        self._lock = threading.Lock()

    def list_available_times(self, uri: str, start: datetime, end: datetime) -> list[Any]:
        with self._lock:
            self.calls += 1
            first = self.calls == 1
        if first:
            self.started.set()
            assert self.release.wait(10)
            if self.fail_first:
                raise RequestNotSent("connection refused")
        return [AvailableTime(start_time=START, start_time_raw="2026-12-07T14:00:00Z")]


def _burst(snapshots: AvailabilitySnapshots, client: BlockingClient) -> list[Snapshot | None]:
    got: list[Snapshot | None] = [None] * CALLERS

    def call(index: int) -> None:
        try:
            got[index] = snapshots.get(URI, WINDOW)
        except RequestNotSent:
            got[index] = None

    first = threading.Thread(target=call, args=(0,))
    first.start()
    assert client.started.wait(10)
    others = [threading.Thread(target=call, args=(n,)) for n in range(1, CALLERS)]
    for thread in others:
        thread.start()
    time.sleep(0.3)  # the others reach the poll under way (or, without single flight, Calendly)
    client.release.set()
    for thread in [first, *others]:
        thread.join(10)
    return got


def test_a_burst_on_a_cold_cache_costs_one_poll() -> None:
    client = BlockingClient()
    snapshots = AvailabilitySnapshots(cast(CalendlyClient, client), ttl_seconds=10)
    got = _burst(snapshots, client)
    assert client.calls == 1
    assert all(snapshot is not None and len(snapshot.slots) == 1 for snapshot in got)
    assert [snapshot.fresh for snapshot in got if snapshot] == [True] + [False] * (CALLERS - 1)


def test_when_the_shared_poll_fails_each_waiter_polls_itself() -> None:
    client = BlockingClient(fail_first=True)
    snapshots = AvailabilitySnapshots(cast(CalendlyClient, client), ttl_seconds=10)
    got = _burst(snapshots, client)
    assert got[0] is None  # the poll that failed is the leader's error
    assert all(snapshot is not None for snapshot in got[1:])
    assert client.calls == CALLERS
    assert snapshots._flights == {}


def test_without_a_cache_every_caller_polls() -> None:
    client = BlockingClient()
    client.release.set()
    snapshots = AvailabilitySnapshots(cast(CalendlyClient, client), ttl_seconds=0)
    for _ in range(3):
        assert snapshots.get(URI, WINDOW).fresh
    assert client.calls == 3
