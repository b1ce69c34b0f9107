"""Availability snapshots shared through a real Redis: one poll serves every process, and an
`already_filled` anywhere makes every process poll afresh (issue 7: `forget` used to clear only
the copy of the process that met the refusal)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from autobook.booking.availability import AvailabilitySnapshots, RedisSnapshots
from autobook.booking.slots import SearchWindow
from autobook.calendly.models import AvailableTime
from tests.support.stack import free_redis_db

pytestmark = pytest.mark.redis

URI = "https://api.calendly.com/event_types/demo"
START = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
WINDOW = SearchWindow(START, START + timedelta(days=7))


class CountingCalendly:
    """Stands in for the Calendly client: counts the polls, returns one slot."""

    def __init__(self) -> None:
        self.polls = 0

    def list_available_times(self, *_: Any) -> list[AvailableTime]:
        self.polls += 1
        return [
            AvailableTime.model_validate(
                {"start_time": "2026-12-07T15:00:00Z", "status": "available"}
            )
        ]


class Clock:
    def __init__(self) -> None:
        self.now = START - timedelta(hours=1)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=10)
        return self.now


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    with free_redis_db() as url:
        yield redis.Redis.from_url(url)


def process(client: redis.Redis, calendly: CountingCalendly, clock: Clock) -> AvailabilitySnapshots:
    """One worker process's cache: its own local copies, the shared store in Redis."""
    return AvailabilitySnapshots(
        calendly,  # type: ignore[arg-type]
        ttl_seconds=30,
        shared=RedisSnapshots(client, prefix="test:availability"),
        clock=clock,
    )


def test_one_poll_serves_every_process(redis_client: redis.Redis) -> None:
    calendly, clock = CountingCalendly(), Clock()
    first, second = process(redis_client, calendly, clock), process(redis_client, calendly, clock)
    assert first.get(URI, WINDOW).fresh
    shared = second.get(URI, WINDOW)
    assert not shared.fresh
    assert [s.start_time for s in shared.slots] == [START + timedelta(hours=1)]
    assert calendly.polls == 1


def test_forget_in_one_process_makes_every_process_poll_afresh(redis_client: redis.Redis) -> None:
    calendly, clock = CountingCalendly(), Clock()
    first, second = process(redis_client, calendly, clock), process(redis_client, calendly, clock)
    first.get(URI, WINDOW)
    second.get(URI, WINDOW)  # `second` now has a local copy too
    assert calendly.polls == 1
    first.forget(URI)  # `first` met already_filled
    assert second.get(URI, WINDOW).fresh  # its local copy is stale: it polls
    assert calendly.polls == 2
    assert not first.get(URI, WINDOW).fresh  # that new poll is shared again
    assert calendly.polls == 2


def test_a_newer_poll_asked_for_is_polled_once_and_then_shared(redis_client: redis.Redis) -> None:
    calendly, clock = CountingCalendly(), Clock()
    first, second = process(redis_client, calendly, clock), process(redis_client, calendly, clock)
    old = first.get(URI, WINDOW)
    newer = first.get(URI, WINDOW, polled_after=old.polled_at)  # `recheck`: a newer poll
    assert newer.fresh
    assert newer.polled_at > old.polled_at
    assert calendly.polls == 2
    # Another process asking for one newer than the first poll gets the second, shared.
    shared = second.get(URI, WINDOW, polled_after=old.polled_at)
    assert not shared.fresh
    assert shared.polled_at == newer.polled_at
    assert calendly.polls == 2


def test_starts_found_taken_are_remembered_per_snapshot_only(redis_client: redis.Redis) -> None:
    calendly, clock = CountingCalendly(), Clock()
    snapshots = process(redis_client, calendly, clock)
    first = snapshots.get(URI, WINDOW)
    taken = {START + timedelta(hours=1)}
    snapshots.note_taken(URI, first.polled_at, taken)
    assert snapshots.known_taken(URI, first.polled_at) == taken
    assert (
        snapshots.known_taken("https://api.calendly.com/event_types/other", first.polled_at)
        == set()
    )
    newer = snapshots.get(URI, WINDOW, polled_after=first.polled_at)
    assert snapshots.known_taken(URI, newer.polled_at) == set()  # a newer poll knows better
