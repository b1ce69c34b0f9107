"""Lost broker messages and abandoned claims: the dispatcher re-sends, nothing is lost."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from autobook import intake, store
from autobook.times import utc_now
from tests.faults.conftest import fault_stack
from tests.faults.invariants import booking_requests, check_invariant

pytestmark = pytest.mark.slow

LOST = 10
ABANDONED = 5
GHOST_LEASE = timedelta(seconds=3)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend_name", ["redis_pg", "embedded"])
def test_requests_whose_message_is_lost_or_whose_claim_is_abandoned_are_still_booked(
    backend_name: str, tmp_path: Path
) -> None:
    with fault_stack(backend_name, tmp_path) as stack:
        lost = booking_requests("lost", LOST)
        abandoned = booking_requests("ghost", ABANDONED)
        # Recorded, but the doorbell never rings: the message is lost before the broker.
        intake.submit_many(stack.sessions, lost + abandoned, now=utc_now, ring=lambda _: None)
        # A ghost worker claims some and dies at once: no message, a live lease, then nothing.
        for request in abandoned:
            row = stack.row(request["request_id"])
            with stack.sessions() as session:
                claimed = store.claim(
                    session, row.id, worker="ghost:1", lease=GHOST_LEASE, now=utc_now()
                )
            assert claimed is not None
        started = time.monotonic()
        ids = [r["request_id"] for r in lost + abandoned]
        stack.wait_terminal(ids, timeout=90)
        outcome = check_invariant(stack, ids)
        assert outcome.booked == LOST + ABANDONED, outcome.not_booked
        assert time.monotonic() - started < 60
        for request in abandoned:  # taken over only after the ghost's lease ran out
            assert stack.row(request["request_id"]).fence >= 2
