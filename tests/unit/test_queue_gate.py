"""`gate.expired`: which `expires` headers are past (pure; the worker test sends real ones)."""

from __future__ import annotations

from datetime import UTC, datetime

from autobook.queue import gate

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_a_past_expires_header_is_named_and_a_future_or_absent_one_is_not() -> None:
    assert gate.expired({"expires": "2026-12-01T11:59:59+00:00"}, NOW) == (
        "2026-12-01T11:59:59+00:00"
    )
    assert gate.expired({"expires": "2026-12-01T12:00:01+00:00"}, NOW) is None
    assert gate.expired({"expires": None}, NOW) is None
    assert gate.expired({}, NOW) is None
    assert gate.expired("not headers", NOW) is None


def test_an_expires_header_that_is_no_time_is_left_to_celery() -> None:
    assert gate.expired({"expires": "soon"}, NOW) is None
    assert gate.expired({"expires": 12}, NOW) is None
