"""`drop_after_commit`: Calendly made the booking but the answer never came back."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.conftest import fault_stack
from tests.faults.invariants import booking_requests, check_invariant

pytestmark = pytest.mark.slow

REQUESTS = 20


@pytest.mark.timeout(180)
@pytest.mark.parametrize("backend_name", ["redis_pg", "embedded"])
def test_responses_dropped_after_commit_leave_each_request_booked_exactly_once(
    backend_name: str, tmp_path: Path
) -> None:
    with fault_stack(backend_name, tmp_path) as stack:
        stack.admin.set_faults(
            {"seed": 4, "endpoints": {"POST /invitees": {"drop_after_commit": 0.3}}}
        )
        requests = booking_requests("drop", REQUESTS)
        stack.submit(requests)
        ids = [r["request_id"] for r in requests]
        stack.wait_terminal(ids, timeout=150)
        outcome = check_invariant(stack, ids)
        assert outcome.booked == REQUESTS, outcome.not_booked
        # The fault did happen, and every dropped booking was adopted, not made again.
        assert outcome.dropped_adopted >= 3, outcome
