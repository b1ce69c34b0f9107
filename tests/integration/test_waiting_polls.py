"""Waiting requests on one event type share their polls: the cost of waiting grows with the
event types waited on, not with the number of requests (issue 13)."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.faults.invariants import booking_requests
from tests.support.stack import running_stack

pytestmark = pytest.mark.slow

NEW_YORK = ZoneInfo("America/New_York")
WAITING = 30
CONCURRENCY = 4
REPOLL_SECONDS = 4
WATCH_SECONDS = 16
POLLS = "/event_type_available_times"


def next_saturday(after: date) -> date:
    return after + timedelta(days=(5 - after.weekday()) % 7 or 7)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("backend_name", ["redis_pg", "embedded"])
def test_waiting_requests_on_one_event_type_share_their_polls(
    backend_name: str, tmp_path: Path
) -> None:
    # A Saturday two weeks out: the demo's host works weekdays, so nothing matches, and every
    # request waits on the same day of the same event type.
    day = next_saturday(datetime.now(NEW_YORK).date() + timedelta(days=14)).isoformat()
    until = (datetime.now(NEW_YORK) + timedelta(minutes=10)).isoformat()
    settings = {
        "AUTOBOOK_WAITING_REPOLL_SECONDS": str(REPOLL_SECONDS),
        "AUTOBOOK_AVAILABILITY_CACHE_SECONDS": "1",  # a fresh search needs a fresh poll
        "AUTOBOOK_DISPATCH_INTERVAL_SECONDS": "0.5",
    }
    with running_stack(
        backend_name, tmp_path, concurrency=CONCURRENCY, extra_env=settings
    ) as stack:
        requests = booking_requests(
            "wait",
            WAITING,
            window={"earliest": day, "latest": day},
            keep_trying_until=until,
        )
        ids = [r["request_id"] for r in requests]
        stack.submit(requests)
        deadline = time.monotonic() + 60
        while {str(row.status) for row in stack.rows(ids)} != {"waiting"}:
            assert time.monotonic() < deadline, {str(row.status) for row in stack.rows(ids)}
            time.sleep(0.2)
        before = stack.admin.count("GET", POLLS)
        time.sleep(WATCH_SECONDS)
        polls = stack.admin.count("GET", POLLS) - before
        rows = stack.rows(ids)
        searches = sum(int((row.extra or {}).get("searches", 0)) for row in rows)
        # Each request searched again several times, but the day's cell was polled about once
        # per repoll interval for all of them: not once per request.
        assert searches >= WAITING * (WATCH_SECONDS // REPOLL_SECONDS - 1), searches
        intervals = WATCH_SECONDS / REPOLL_SECONDS
        # With Redis every process shares each poll; on embedded defaults each of the worker's
        # prefork processes keeps its own copy, so up to one poll per process and interval.
        sharing = 1 if backend_name == "redis_pg" else CONCURRENCY
        assert polls <= 2 * sharing * (intervals + 1), (polls, searches)
        assert {str(row.status) for row in rows} == {"waiting"}
