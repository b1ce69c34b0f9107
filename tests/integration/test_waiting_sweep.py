"""Waiting requests are searched per event type (issue 13): the cost of waiting grows with the
event types waited on, not with the requests, and a slot that opens is found by the next sweep."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.faults.invariants import booking_request, booking_requests
from tests.support.sandbox import auth_headers
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.slow

NEW_YORK = ZoneInfo("America/New_York")
WAITING = 30
CONCURRENCY = 4
REPOLL_SECONDS = 3
WATCH_SECONDS = 12
POLLS = "/event_type_available_times"
SETTINGS = {
    "AUTOBOOK_WAITING_REPOLL_SECONDS": str(REPOLL_SECONDS),
    "AUTOBOOK_AVAILABILITY_CACHE_SECONDS": "1",  # a fresh search needs a fresh poll
    "AUTOBOOK_DISPATCH_INTERVAL_SECONDS": "0.5",
}


def weekday_in_two_weeks(weekday: int) -> date:
    start = datetime.now(NEW_YORK).date() + timedelta(days=14)
    return start + timedelta(days=(weekday - start.weekday()) % 7)


def wait_until(stack: Stack, ids: list[str], wanted: set[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while {str(row.status) for row in stack.rows(ids)} != wanted:
        assert time.monotonic() < deadline, [(r.request_id, str(r.status)) for r in stack.rows(ids)]
        time.sleep(0.2)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("backend_name", ["redis_pg", "embedded"])
def test_waiting_requests_on_one_event_type_share_their_polls_and_cost_no_transaction(
    backend_name: str, tmp_path: Path
) -> None:
    # A Saturday: the demo's host works weekdays, so nothing matches and every request waits on
    # the same day of the same event type.
    day = weekday_in_two_weeks(5).isoformat()
    until = (datetime.now(NEW_YORK) + timedelta(minutes=10)).isoformat()
    with running_stack(
        backend_name, tmp_path, concurrency=CONCURRENCY, extra_env=SETTINGS
    ) as stack:
        requests = booking_requests(
            "wait", WAITING, window={"earliest": day, "latest": day}, keep_trying_until=until
        )
        ids = [r["request_id"] for r in requests]
        stack.submit(requests)
        wait_until(stack, ids, {"waiting"}, timeout=60)
        fences = {row.request_id: row.fence for row in stack.rows(ids)}
        before = stack.admin.count("GET", POLLS)
        time.sleep(WATCH_SECONDS)
        polls = stack.admin.count("GET", POLLS) - before
        rows = stack.rows(ids)
        # Nothing opened: no request was claimed again (no transaction, no history)...
        assert {row.request_id: row.fence for row in rows} == fences
        assert {str(row.status) for row in rows} == {"waiting"}
        # ...and the day's cell was polled about once per repoll interval for all of them.
        assert polls <= WATCH_SECONDS / REPOLL_SECONDS + 2, polls


@pytest.mark.timeout(180)
def test_a_cancellation_that_opens_a_slot_is_found_by_the_next_sweep(tmp_path: Path) -> None:
    day = weekday_in_two_weeks(2)
    window = {"earliest": day.isoformat(), "latest": day.isoformat(), "hours": ["10:00-10:30"]}
    until = (datetime.now(NEW_YORK) + timedelta(minutes=10)).isoformat()
    with running_stack("redis_pg", tmp_path, concurrency=2, extra_env=SETTINGS) as stack:
        first = booking_request("opens-first", window=window)
        stack.submit([first])
        (booked,) = stack.wait_terminal(["opens-first"], timeout=60)
        assert str(booked.status) == "booked", booked.reason
        second = booking_request("opens-second", window=window, keep_trying_until=until)
        stack.submit([second])
        wait_until(stack, ["opens-second"], {"waiting"}, timeout=60)
        assert booked.event_uri is not None
        with httpx.Client(base_url=stack.sandbox_url, headers=auth_headers()) as http:
            response = http.post(
                f"{urlsplit(booked.event_uri).path}/cancellation", json={"reason": "test"}
            )
            assert response.status_code == 201, response.text
        (row,) = stack.wait_terminal(["opens-second"], timeout=REPOLL_SECONDS * 10)
        assert str(row.status) == "booked", row.reason
        assert row.start_time == booked.start_time
