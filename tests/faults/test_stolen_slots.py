"""`steal_slot`: someone takes the slot just before our POST; the next matching slot is ours."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from autobook.sandbox.seed import load_seed
from tests.faults.conftest import fault_stack
from tests.faults.invariants import booking_request, check_invariant, email_for

pytestmark = pytest.mark.slow

NEW_YORK = ZoneInfo("America/New_York")
DAYS = 8
FIRST_SLOT = time(9, 0)
SLOT = timedelta(minutes=30)  # the `demo` type: 30 minutes, on the half hour


def seeded_days() -> set[date]:
    """Days with a booking in the default seed: their slots are not all free."""
    return {booking.start_time.astimezone(NEW_YORK).date() for booking in load_seed().bookings}


def free_weekdays_from(start: date, count: int) -> list[date]:
    busy = seeded_days()
    days: list[date] = []
    day = start
    while len(days) < count:
        if day.weekday() < 5 and day not in busy:
            days.append(day)
        day += timedelta(days=1)
    return days


def parse_z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.timeout(180)
@pytest.mark.parametrize("backend_name", ["redis_pg", "embedded"])
def test_a_stolen_slot_is_skipped_and_the_next_matching_slot_is_booked(
    backend_name: str, tmp_path: Path
) -> None:
    # Enough slot retries that every steal in a row is survivable: the assertion is about which
    # slot is booked, not about giving up.
    with fault_stack(
        backend_name, tmp_path, extra_env={"AUTOBOOK_MAX_SLOT_RETRIES": "15"}
    ) as stack:
        stack.admin.set_faults({"seed": 3, "endpoints": {"POST /invitees": {"steal_slot": 0.4}}})
        today = datetime.now(NEW_YORK).date()
        days = free_weekdays_from(today + timedelta(days=3), DAYS)
        # One request per day, so each walks its own day's slots from 09:00 on.
        requests = [
            booking_request(
                f"steal-{index}",
                window={
                    "earliest": day.isoformat(),
                    "latest": day.isoformat(),
                    "timezone": "America/New_York",
                    "hours": ["09:00-17:00"],
                },
            )
            for index, day in enumerate(days)
        ]
        ids = [r["request_id"] for r in requests]
        stack.submit(requests)
        stack.wait_terminal(ids, timeout=150)
        ledger = stack.admin.ledger()
        outcome = check_invariant(stack, ids, ledger)
        assert outcome.booked == DAYS, outcome.not_booked
        stolen = [entry for entry in ledger if entry["email"].startswith("slot-thief")]
        assert len(stolen) >= 3  # the fault did fire
        for request, day in zip(requests, days, strict=True):
            first = datetime.combine(day, FIRST_SLOT, NEW_YORK)
            thefts = sorted(
                parse_z(e["start_time"]) for e in stolen if parse_z(e["start_time"]).date() == day
            )
            # Each theft took the slot we were about to book, earliest first ...
            assert thefts == [first + SLOT * n for n in range(len(thefts))]
            # ... and we booked the very next one.
            (ours,) = [e for e in ledger if e["email"] == email_for(request["request_id"])]
            assert parse_z(ours["start_time"]) == first + SLOT * len(thefts)
