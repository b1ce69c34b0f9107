"""`kill -9` of workers in the middle of `POST /invitees`, again and again."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults.conftest import fault_stack
from tests.faults.invariants import booking_requests, check_invariant
from tests.faults.killer import Killer, KillKind

pytestmark = pytest.mark.slow

REQUESTS = 30
# Long enough for a kill to land while the POST is in flight (the booking is not made), or
# after Calendly committed it, while the worker reads the new event (the booking exists).
LATENCY_MS = 800
KILLS: list[KillKind] = ["worker", "pool_process", "worker", "pool_process", "worker", "worker"]


@pytest.mark.timeout(300)
def test_workers_killed_again_and_again_mid_booking_finish_everything_without_a_duplicate(
    tmp_path: Path,
) -> None:
    with fault_stack("redis_pg", tmp_path, workers=0) as stack:
        killer = Killer(stack, concurrency=2)
        killer.start_workers(3)
        slow = {"latency_ms": LATENCY_MS}
        stack.admin.set_faults(
            {
                "seed": 9,
                "endpoints": {"POST /invitees": slow, "GET /scheduled_events/{uuid}": slow},
            }
        )
        requests = booking_requests("kill", REQUESTS)
        ids = [r["request_id"] for r in requests]
        stack.submit(requests)
        for kind in KILLS:
            if killer.kill_mid_booking(kind, wait_seconds=30) is None:
                break  # nothing left in flight to kill
            time.sleep(1.0)
        stack.wait_terminal(ids, timeout=200)
        outcome = check_invariant(stack, ids)
        assert outcome.booked == REQUESTS, outcome.not_booked
        landed = [kill for kill in killer.kills if kill.request_id is not None]
        assert len(landed) >= 4, killer.kills
        assert {kill.kind for kill in landed} == {"worker", "pool_process"}
        # A killed booking is never made again blindly: it is reconciled first, and adopted
        # when Calendly had committed it.
        assert outcome.attempt_states["adopted"] >= 1, outcome.attempt_states
