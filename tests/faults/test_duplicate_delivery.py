"""The same request submitted twice, and the same broker message delivered twice: one booking."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.faults.conftest import fault_stack
from tests.faults.invariants import booking_requests, check_invariant

pytestmark = pytest.mark.slow

SUBMITTED = 10
RAW = 5
COPIES = 3


@pytest.mark.timeout(180)
@pytest.mark.parametrize("backend_name", ["redis_pg", "embedded"])
def test_requests_submitted_and_delivered_several_times_are_booked_once_each(
    backend_name: str, tmp_path: Path
) -> None:
    with fault_stack(backend_name, tmp_path) as stack:
        # Slow bookings, so the duplicate messages arrive while the first is still running.
        stack.admin.set_faults({"seed": 5, "endpoints": {"POST /invitees": {"latency_ms": 300}}})
        submitted = booking_requests("twice", SUBMITTED)
        raw = booking_requests("raw", RAW)
        # The same requests submitted by several producers at once, then again.
        with ThreadPoolExecutor(max_workers=COPIES) as pool:
            batches = list(pool.map(lambda _: stack.submit(submitted), range(COPIES)))
        again = stack.submit(submitted)
        created = [r.created for batch in [*batches, again] for r in batch]
        assert created.count(True) == SUBMITTED
        for request in submitted:
            for _ in range(COPIES):  # the doorbell rung again and again
                stack.send_raw(request["request_id"])
        for request in raw:
            for _ in range(COPIES):  # a whole request put on the queue several times
                stack.send_raw(request)
        ids = [r["request_id"] for r in [*submitted, *raw]]
        rows = stack.wait_terminal(ids, timeout=120)
        assert len(rows) == len(stack.rows()) == SUBMITTED + RAW
        outcome = check_invariant(stack, ids)
        assert outcome.booked == SUBMITTED + RAW, outcome.not_booked
        assert outcome.attempt_states["booked"] == SUBMITTED + RAW  # one POST each
