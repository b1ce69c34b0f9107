"""The token revoked in the middle of a run: no POST after the first 401, held, then resumed.

The workers talk to the sandbox through `TokenProxy`, which plays the revocation. The 401 rule
(DESIGN §4): sending stops for every worker at once, requests are held (never failed), the token
is checked with `GET /users/me`, and sending resumes by itself when it works again, or at once
with `autobook resume`.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from autobook import store
from autobook.models import RequestStatus
from tests.faults.conftest import fault_stack
from tests.faults.invariants import booking_requests, check_invariant
from tests.faults.token_proxy import TokenProxy, running_proxy
from tests.support.stack import Stack

pytestmark = pytest.mark.slow

REQUESTS = 30
WORKERS = 2
CONCURRENCY = 2
# A POST whose intent was committed just before the pause may still go out: at most one per
# worker process, and only in the instant the first 401 is being recorded.
IN_FLIGHT_LIMIT = WORKERS * CONCURRENCY
SETTLE_SECONDS = 1.0


@contextlib.contextmanager
def stack_behind_proxy(backend_name: str, tmp_path: Path) -> Iterator[tuple[Stack, TokenProxy]]:
    with (
        fault_stack(backend_name, tmp_path, workers=0) as stack,
        running_proxy(stack.sandbox_url) as (proxy, url),
    ):
        stack.local.env["AUTOBOOK_CALENDLY_URL"] = url
        for index in range(WORKERS):
            stack.start_worker(concurrency=CONCURRENCY, name=f"worker{index}")
        yield stack, proxy


def wait_for(condition: object, timeout: float, what: str) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def paused(stack: Stack) -> store.SendingPause | None:
    with stack.sessions() as session:
        return store.sending_paused(session)


def booked_count(stack: Stack, ids: list[str]) -> int:
    return sum(row.status is RequestStatus.BOOKED for row in stack.rows(ids))


def revoke_mid_run(stack: Stack, proxy: TokenProxy, ids: list[str]) -> float:
    """Revoke once a few requests are booked; check the rule while paused; the first 401."""
    wait_for(lambda: booked_count(stack, ids) >= 5, 60, "the first bookings")
    proxy.revoke()
    wait_for(lambda: paused(stack) is not None, 20, "sending to pause")
    first_401 = proxy.first_401()
    assert first_401 is not None
    time.sleep(3.0)  # held: nothing may be sent, whatever the workers are doing
    quiet_from = first_401 + SETTLE_SECONDS
    assert proxy.posts_arrived_after(quiet_from) == []
    assert len(proxy.posts_arrived_after(first_401)) <= IN_FLIGHT_LIMIT
    pause = paused(stack)
    assert pause is not None
    assert pause.paused_at is not None
    rows = stack.rows(ids)
    with stack.sessions() as session:
        intents = [a.created_at for row in rows for a in store.attempts_for(session, row.id)]
    # `paused_at` is when the 401 was seen, a moment before the pause commits: an intent that
    # passed its pause check in between is one of the in-flight ones, bounded like the POSTs.
    settled = pause.paused_at + timedelta(seconds=SETTLE_SECONDS)
    assert all(at <= settled for at in intents), "an intent was written while paused"
    racing = [at for at in intents if at > pause.paused_at]
    assert len(racing) <= IN_FLIGHT_LIMIT
    # Held, not burnt: nothing failed or was rejected, and the rest wait.
    statuses = {str(row.status) for row in rows}
    assert statuses <= {"booked", "received", "searching", "booking", "unknown", "waiting"}
    assert booked_count(stack, ids) < REQUESTS
    return first_401


@pytest.mark.timeout(240)
def test_a_revoked_token_stops_every_post_holds_the_requests_and_they_finish_once_restored(
    tmp_path: Path,
) -> None:
    with stack_behind_proxy("redis_pg", tmp_path) as (stack, proxy):
        stack.admin.set_faults({"seed": 6, "endpoints": {"POST /invitees": {"latency_ms": 200}}})
        requests = booking_requests("revoked", REQUESTS)
        ids = [r["request_id"] for r in requests]
        stack.submit(requests)
        revoke_mid_run(stack, proxy, ids)
        proxy.restore()
        restored = time.monotonic()
        # Nobody runs `autobook resume`: the dispatcher's periodic GET /users/me notices.
        stack.wait_terminal(ids, timeout=120)
        outcome = check_invariant(stack, ids)
        assert outcome.booked == REQUESTS, outcome.not_booked
        assert paused(stack) is None
        checks = [
            call.answered
            for call in proxy.calls
            if (call.method, call.path, call.status) == ("GET", "/users/me", 200)
            and call.arrived > restored
        ]
        posts = [call.arrived for call in proxy.posts_arrived_after(restored)]
        assert checks
        assert posts
        assert min(checks) < min(posts)  # the working token was seen before any POST


@pytest.mark.timeout(180)
def test_autobook_resume_lets_the_held_requests_continue_at_once(tmp_path: Path) -> None:
    with stack_behind_proxy("embedded", tmp_path) as (stack, proxy):
        stack.admin.set_faults({"seed": 6, "endpoints": {"POST /invitees": {"latency_ms": 200}}})
        requests = booking_requests("resume", REQUESTS)
        ids = [r["request_id"] for r in requests]
        stack.submit(requests)
        revoke_mid_run(stack, proxy, ids)
        proxy.restore()
        env = {**os.environ, **stack.local.worker_env()}
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "autobook", "resume"],
            env=env,
            check=True,
            capture_output=True,
            timeout=30,
        )
        assert paused(stack) is None
        stack.wait_terminal(ids, timeout=60)
        # Well before the next periodic token check (15 s after the pause): resume did it.
        assert time.monotonic() - started < 10.0
        outcome = check_invariant(stack, ids)
        assert outcome.booked == REQUESTS, outcome.not_booked
