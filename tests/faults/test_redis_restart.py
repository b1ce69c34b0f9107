"""A Redis restart in the middle of a run: the queue, unacked messages and budget are gone."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from autobook.models import RequestStatus
from tests.faults.conftest import stack_on
from tests.faults.invariants import booking_requests, check_invariant
from tests.faults.private_redis import private_redis
from tests.support.databases import postgres_test_database
from tests.support.stack import Backend

pytestmark = pytest.mark.slow

BEFORE = 30
DURING = 5  # submitted while Redis is down: their doorbell fails, the dispatcher rings later
DOWN_SECONDS = 3.0


@pytest.mark.timeout(240)
def test_a_redis_restart_mid_run_loses_no_request_and_books_none_twice(tmp_path: Path) -> None:
    with private_redis(tmp_path / "redis") as server, postgres_test_database() as database_url:
        backend = Backend("redis_pg", database_url, broker_url=server.url, redis_url=server.url)
        with stack_on(backend, tmp_path) as stack:
            # Don't let the test's own producer retry for long while Redis is down.
            stack.app.conf.task_publish_retry = False
            stack.admin.set_faults(
                {"seed": 2, "endpoints": {"POST /invitees": {"latency_ms": 400}}}
            )
            first = booking_requests("redis-before", BEFORE)
            stack.submit(first)
            ids = [r["request_id"] for r in first]
            deadline = time.monotonic() + 60
            while sum(r.status is RequestStatus.BOOKED for r in stack.rows(ids)) < 5:
                assert time.monotonic() < deadline, "nothing got booked before the restart"
                time.sleep(0.1)
            server.kill()
            during = booking_requests("redis-during", DURING)
            stack.submit(during)
            ids += [r["request_id"] for r in during]
            time.sleep(DOWN_SECONDS)
            server.start()
            stack.wait_terminal(ids, timeout=150)
            outcome = check_invariant(stack, ids)
            assert outcome.booked == BEFORE + DURING, outcome.not_booked
