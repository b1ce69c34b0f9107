"""The hostile corpus as raw `autobook.book` messages, through a real worker on both backends.

A producer in another language puts the whole request object on the queue as the task's one
argument; nothing checked it before. Each hand-written hostile case, the generated mutations
that intake refuses, and a few arguments that are no object at all are sent straight to the
queue of a running `autobook worker`. Each must end recorded: `invalid` naming its field (or
under a `malformed-…` id), with not one Calendly call made for it, while the same worker process
stays alive and books a valid request afterwards. The cost of a valid booking is measured in
the same test (a cold booking first), so "no call attributable to the invalid items" is a
comparison with a number this run produced, not with a constant.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autobook import intake
from autobook.errors import InvalidRequest
from autobook.request_horizon import horizon_problems
from autobook.requests import parse_request, request_id_of
from autobook.times import utc_now
from tests.hostile.corpus import HOSTILE_CASES, generated_cases
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.slow

GENERATED_SAMPLE_EVERY = 7  # a spread over every path and value, bounded for CI time
# Arguments that are no request object: recorded under a synthetic `malformed-…` id.
NON_OBJECTS: list[object] = [None, 3.5, [1, "two"], [[[[["deep"]]]]], True]
Call = tuple[str, str, int]


def _refused_by_intake(raw: object) -> bool:
    """True when intake would record `raw` as invalid now (what the worker will decide too)."""
    try:
        request = parse_request(raw)
    except InvalidRequest:
        return True
    return bool(horizon_problems(request, utc_now()))


def _generated_invalid() -> list[tuple[str, dict[str, Any]]]:
    sample = list(generated_cases())[::GENERATED_SAMPLE_EVERY]
    return [(label, raw) for label, raw in sample if _refused_by_intake(raw)]


def _valid(request_id: str) -> dict[str, object]:
    return {
        "request_id": request_id,
        "event_type": {"slug": "intro"},
        "invitee": {"name": "A", "email": f"{request_id}@example.com", "timezone": "UTC"},
    }


# The booked sweep (issue 11) compares our bookings with Calendly in the background: it reads
# who the token is (for the organization), the events listing and an invitee that already
# exists, none of which an invalid item can cause.
SWEEP_READS = {
    ("GET", "/users/me"),
    ("GET", "/scheduled_events"),
    ("GET", "/scheduled_events/{event_uuid}/invitees/{invitee_uuid}"),
}


def _calls(stack: Stack) -> Counter[Call]:
    return Counter(
        {
            (row["method"], row["path"], row["status"]): row["count"]
            for row in stack.admin.stats()
            if (row["method"], row["path"]) not in SWEEP_READS
        }
    )


def _wait_recorded(stack: Stack, ids: list[str], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        rows = stack.rows(ids)
        if len(rows) == len(ids) and all(row.status.is_terminal for row in rows):
            return
        if time.monotonic() > deadline:
            missing = sorted(set(ids) - {row.request_id for row in rows})
            raise AssertionError(f"never recorded: {missing[:10]} ({len(missing)} in all)")
        time.sleep(0.3)


@pytest.fixture(params=["embedded", "redis_pg"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    with running_stack(request.param, tmp_path) as running:
        yield running


def test_the_hostile_corpus_as_raw_messages_is_recorded_with_no_calendly_call(
    stack: Stack,
) -> None:
    (worker,) = [p for p in stack.local.processes if "worker" in " ".join(map(str, p.args))]
    generated = _generated_invalid()
    assert len(generated) >= 20, "the sample must still cover many paths"

    # The baseline: what one valid booking costs on this stack, from cold caches.
    before_baseline = _calls(stack)
    stack.send_raw(_valid("queue-baseline"))
    (baseline,) = stack.wait_terminal(["queue-baseline"], timeout=60)
    assert str(baseline.status) == "booked", baseline.reason
    one_booking = _calls(stack) - before_baseline
    assert one_booking[("POST", "/invitees", 201)] == 1

    before_hostile = _calls(stack)
    fields: dict[str, str] = {}  # expected request_id -> the field its reason must name
    for _, raw, field in HOSTILE_CASES:
        stack.send_raw(raw)
        fields[request_id_of(raw) or intake.synthetic_request_id(raw)] = field
    generated_ids = []
    for _, raw in generated:
        stack.send_raw(raw)
        generated_ids.append(request_id_of(raw) or intake.synthetic_request_id(raw))
    malformed_ids = []
    for value in NON_OBJECTS:
        stack.send_raw(value)
        malformed_ids.append(intake.synthetic_request_id(value))
    all_ids = [*fields, *generated_ids, *malformed_ids]
    assert len(set(all_ids)) == len(all_ids), "each item is recorded on its own"
    _wait_recorded(stack, all_ids)

    rows = {row.request_id: row for row in stack.rows(all_ids)}
    for request_id in all_ids:
        row = rows[request_id]
        assert str(row.status) == "invalid", (request_id, row.reason)
        assert row.reason is not None
        assert row.reason.isprintable(), repr(row.reason[:200])
        assert len(row.reason) < 8_000
        assert row.attempts == 0
        assert row.event_uri is None
    for request_id, field in fields.items():
        assert field in str(rows[request_id].reason), (request_id, rows[request_id].reason)
    for request_id in malformed_ids:
        assert request_id.startswith(intake.MALFORMED_PREFIX)
    assert _calls(stack) == before_hostile, "an invalid item reached Calendly"
    assert worker.poll() is None, "the worker died"

    stack.send_raw(_valid("queue-after-hostile"))
    (after,) = stack.wait_terminal(["queue-after-hostile"], timeout=60)
    assert str(after.status) == "booked", after.reason
    after_calls = _calls(stack) - before_hostile
    assert after_calls[("POST", "/invitees", 201)] == 1
    assert sum(count for (_, path, _), count in after_calls.items() if path == "/invitees") == 1
    # Warm caches may make the second booking cheaper; never dearer, never another route.
    assert set(after_calls) <= set(one_booking), (after_calls, one_booking)
    assert after_calls.total() <= one_booking.total(), (after_calls, one_booking)
    assert worker.poll() is None, "the worker died"
    assert len(stack.admin.ledger()) == 2
    assert "Unrecoverable error" not in stack.worker_logs()
