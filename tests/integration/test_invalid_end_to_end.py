"""The invalid corpus end to end: each request is recorded `invalid`, and Calendly is never called.

Half of the corpus goes through intake (what `autobook submit` does), the other half straight on
the queue as raw `autobook.book` messages, as a producer in another language would send them,
together with messages that are no request at all: no argument, two arguments, keyword arguments
only. Each ends `invalid` with a reason naming the field (or the message); the sandbox's stats
show no call; and the same worker then books a valid request.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from autobook import intake
from autobook.models import BookingRequestRow
from autobook.requests import request_id_of
from tests.conftest import ProxiedStack, StartStack
from tests.unit.invalid_requests import INVALID_REQUESTS, valid_base_request

pytestmark = pytest.mark.slow

# (args, kwargs) of messages that are not `autobook.book(request_or_id)` at all.
GARBAGE_MESSAGES: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    ((), {}),
    (("x", "y"), {}),
    ((), {"request_id": "kwargs-only"}),
    ((), {"request": valid_base_request("kwargs-request")}),
    ((valid_base_request("positional-and-keyword"),), {"priority": 1}),
]
STRAY_ID = "never-submitted-request"
VALID = {
    "request_id": "valid-after-garbage",
    "event_type": {"slug": "demo"},
    "invitee": {"name": "Valid Person", "email": "valid@example.com", "timezone": "UTC"},
}


def _expected_id(raw: object) -> str:
    return request_id_of(raw) or intake.synthetic_request_id(raw)


def _via_queue(index: int, raw: object) -> bool:
    """Odd items and every non-object go on the queue; a string there would be read as an id."""
    if isinstance(raw, str):
        return False
    return index % 2 == 1 or not isinstance(raw, dict)


def _wait_recorded(stack: ProxiedStack, ids: list[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(stack.rows(ids)) < len(ids):
        if time.monotonic() > deadline:
            missing = set(ids) - {row.request_id for row in stack.rows(ids)}
            raise AssertionError(f"never recorded: {sorted(missing)}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> ProxiedStack:
    return start_stack("embedded")


@pytest.fixture(scope="module")
def calls_before(stack: ProxiedStack) -> list[dict[str, Any]]:
    """The sandbox's stats before any request: only the harness's readiness probe."""
    stats = stack.admin.stats()
    assert [(r["method"], r["path"]) for r in stats] == [("GET", "/users/me")]
    return stats


@pytest.fixture(scope="module")
def corpus_rows(
    stack: ProxiedStack, calls_before: list[dict[str, Any]]
) -> dict[str, BookingRequestRow]:
    """Every corpus item and garbage message sent, all recorded; keyed by corpus label."""
    expected: dict[str, str] = {}
    for index, (label, raw, _) in enumerate(INVALID_REQUESTS):
        if _via_queue(index, raw):
            stack.send_raw(raw)
            expected[label] = _expected_id(raw)
        else:
            (result,) = stack.submit([raw])
            expected[label] = result.request_id
    for number, (args, kwargs) in enumerate(GARBAGE_MESSAGES):
        stack.send_raw(*args, **kwargs)
        expected[f"garbage-{number}"] = intake.synthetic_request_id(
            intake.malformed_payload(args, kwargs)
        )
    stack.send_raw(STRAY_ID)
    expected["stray-id"] = intake.synthetic_request_id(intake.malformed_payload((STRAY_ID,), {}))
    assert len(set(expected.values())) == len(expected), "each item is recorded on its own"
    _wait_recorded(stack, list(expected.values()))
    rows = stack.wait_terminal(list(expected.values()), timeout=30)
    by_id = {row.request_id: row for row in rows}
    return {label: by_id[request_id] for label, request_id in expected.items()}


@pytest.mark.parametrize(
    ("label", "field"),
    [(label, field) for label, _, field in INVALID_REQUESTS],
    ids=[label for label, _, _ in INVALID_REQUESTS],
)
def test_each_invalid_request_ends_invalid_naming_its_field(
    corpus_rows: dict[str, BookingRequestRow], label: str, field: str
) -> None:
    row = corpus_rows[label]
    assert str(row.status) == "invalid"
    assert row.reason is not None
    assert field in row.reason, f"{label}: {row.reason!r} does not name {field}"
    assert row.attempts == 0
    assert row.event_uri is None


def test_messages_that_are_no_request_are_recorded_invalid_naming_the_message(
    corpus_rows: dict[str, BookingRequestRow],
) -> None:
    for number in range(len(GARBAGE_MESSAGES)):
        row = corpus_rows[f"garbage-{number}"]
        assert str(row.status) == "invalid"
        assert row.reason is not None
        assert row.reason.startswith("message: "), row.reason
        assert "one argument" in row.reason


def test_an_id_that_was_never_submitted_is_recorded_invalid_naming_request_id(
    corpus_rows: dict[str, BookingRequestRow],
) -> None:
    row = corpus_rows["stray-id"]
    assert str(row.status) == "invalid"
    assert row.reason is not None
    assert row.reason.startswith("request_id: "), row.reason
    assert STRAY_ID in row.reason


def test_no_calendly_call_is_made_for_any_invalid_request(
    stack: ProxiedStack,
    calls_before: list[dict[str, Any]],
    corpus_rows: dict[str, BookingRequestRow],
) -> None:
    assert corpus_rows  # every item is recorded and terminal by now
    assert stack.admin.stats() == calls_before
    assert stack.admin.ledger() == []


def test_the_same_worker_books_a_valid_request_afterwards(
    stack: ProxiedStack, corpus_rows: dict[str, BookingRequestRow]
) -> None:
    assert corpus_rows
    (worker,) = [p for p in stack.local.processes if "worker" in " ".join(map(str, p.args))]
    stack.send_raw(VALID)
    (row,) = stack.wait_terminal([VALID["request_id"]], timeout=30)
    assert str(row.status) == "booked", row.reason
    assert worker.poll() is None  # the very worker that took the garbage, still running
    (booking,) = stack.admin.ledger()
    assert booking["email"] == "valid@example.com"
    assert stack.admin.count("POST", "/invitees", 201) == 1
