"""End to end: real Celery workers as subprocesses, the sandbox over HTTP, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.slow


@pytest.fixture(params=["embedded", "redis_pg"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    with running_stack(request.param, tmp_path) as running:
        yield running


def test_requests_are_booked_once_each_and_match_the_ledger(stack: Stack) -> None:
    requests = [
        {
            "request_id": f"e2e-{index}",
            "event_type": {"slug": "demo"},
            "invitee": {
                "name": f"Person {index}",
                "email": f"person{index}@example.com",
                "timezone": "America/New_York",
            },
        }
        for index in range(6)
    ]
    results = stack.submit(requests)
    assert [r.status for r in results] == ["received"] * 6
    rows = stack.wait_terminal([r["request_id"] for r in requests], timeout=60)
    assert {str(row.status) for row in rows} == {"booked"}
    ledger = [b for b in stack.admin.ledger() if b["status"] == "active"]
    by_email = {b["email"]: b for b in ledger}
    assert len(ledger) == 6 == len(by_email)
    for row in rows:
        booking = by_email[row.payload["invitee"]["email"]]
        assert booking["uri"] == row.invitee_uri
        assert booking["event"] == row.event_uri
        assert row.start_time is not None
        assert booking["start_time"].startswith(row.start_time.strftime("%Y-%m-%dT%H:%M:%S"))
