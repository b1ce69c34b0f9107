"""The promise of issue 4, checked against the sandbox's ledger: booked at most once, none lost.

Every fault test builds its requests with `booking_requests` (each request gets an invitee email
of its own, so a ledger entry belongs to exactly one request) and ends with `check_invariant`:

- every request is terminal (none lost, none stuck);
- for each request, at most one *active* booking in the ledger;
- the database agrees with the ledger: a `booked` row has exactly the ledger's booking (same
  invitee URI, event URI and start), and a row in any other status has no active booking;
- the booking carries a correlation token of one of the request's own attempts, when the request
  left a tracking key free for it.

Ledger entries with other emails (the `steal_slot` thief) are not ours and are ignored.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from autobook import store
from autobook.models import BookingRequestRow, RequestStatus
from tests.support.stack import Stack

EMAIL_DOMAIN = "faults.example.com"


def email_for(request_id: str) -> str:
    return f"{request_id}@{EMAIL_DOMAIN}"


def booking_request(request_id: str, **overrides: Any) -> dict[str, Any]:
    """A valid request for the seed's `demo` type, with an invitee email of its own."""
    request: dict[str, Any] = {
        "request_id": request_id,
        "event_type": {"slug": "demo"},
        "invitee": {
            "name": f"Invitee {request_id}",
            "email": email_for(request_id),
            "timezone": "America/New_York",
        },
    }
    request.update(overrides)
    return request


def booking_requests(prefix: str, count: int, **overrides: Any) -> list[dict[str, Any]]:
    return [booking_request(f"{prefix}-{index:04d}", **overrides) for index in range(count)]


@dataclass
class Outcome:
    """What a run ended with, as the invariant saw it."""

    statuses: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    lost: int = 0
    non_terminal: int = 0
    mismatches: list[str] = field(default_factory=list)
    dropped_adopted: int = 0
    foreign_bookings: int = 0
    not_booked: dict[str, str] = field(default_factory=dict)  # request_id -> status: reason
    attempt_states: Counter[str] = field(default_factory=Counter)  # over every attempt

    @property
    def booked(self) -> int:
        return self.statuses.get(str(RequestStatus.BOOKED), 0)


def _same_instant(ledger_text: str, moment: datetime | None) -> bool:
    if moment is None:
        return False
    return datetime.fromisoformat(ledger_text.replace("Z", "+00:00")) == moment


def _attempts_by_request(
    stack: Stack, rows: list[BookingRequestRow], states: Counter[str]
) -> dict[str, set[str]]:
    """The correlation tokens each request sent; counts attempt states into `states`."""
    tokens: dict[str, set[str]] = {}
    with stack.sessions() as session:
        for row in rows:
            attempts = store.attempts_for(session, row.id)
            states.update(str(attempt.state) for attempt in attempts)
            tokens[row.request_id] = {a.correlation_token for a in attempts if a.correlation_token}
    return tokens


def measure(
    stack: Stack, request_ids: Iterable[str], ledger: list[dict[str, Any]] | None = None
) -> Outcome:
    """Compare the database with the ledger for these requests; never raises."""
    ids = list(request_ids)
    rows = stack.rows(ids)
    ledger = stack.admin.ledger() if ledger is None else ledger
    outcome = Outcome()
    by_email = {email_for(row.request_id): row for row in rows}
    outcome.lost = len(ids) - len(rows)
    active: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in ledger:
        if entry["email"] not in by_email:
            outcome.foreign_bookings += 1
            continue
        if entry["status"] == "active":
            active[entry["email"]].append(entry)
    tokens = _attempts_by_request(stack, rows, outcome.attempt_states)
    for email, row in by_email.items():
        outcome.statuses[str(row.status)] += 1
        if row.status is not RequestStatus.BOOKED:
            outcome.not_booked[row.request_id] = f"{row.status}: {row.reason}"
        if not row.status.is_terminal:
            outcome.non_terminal += 1
        mine = active.get(email, [])
        if len(mine) > 1:
            outcome.duplicates += len(mine) - 1
            outcome.mismatches.append(f"{row.request_id}: {len(mine)} active bookings")
        if row.status is RequestStatus.BOOKED:
            if len(mine) != 1:
                outcome.mismatches.append(f"{row.request_id}: booked, {len(mine)} in the ledger")
                continue
            entry = mine[0]
            if (entry["uri"], entry["event"]) != (row.invitee_uri, row.event_uri):
                outcome.mismatches.append(
                    f"{row.request_id}: database has {row.invitee_uri}, ledger {entry['uri']}"
                )
            if not _same_instant(entry["start_time"], row.start_time):
                outcome.mismatches.append(
                    f"{row.request_id}: start {row.start_time} vs ledger {entry['start_time']}"
                )
            carried = {str(v) for v in (entry.get("tracking") or {}).values() if v}
            if tokens[row.request_id] and not carried & tokens[row.request_id]:
                outcome.mismatches.append(f"{row.request_id}: booking carries no token of ours")
            if entry.get("dropped"):
                outcome.dropped_adopted += 1
        elif mine:
            outcome.mismatches.append(
                f"{row.request_id}: {row.status} in the database, booked in the ledger"
            )
    return outcome


def check_invariant(
    stack: Stack, request_ids: Iterable[str], ledger: list[dict[str, Any]] | None = None
) -> Outcome:
    """Assert the promise for these requests; returns the outcome for further checks."""
    outcome = measure(stack, request_ids, ledger)
    assert outcome.lost == 0, f"{outcome.lost} requests are not in the database"
    assert outcome.non_terminal == 0, f"{outcome.non_terminal} requests are not terminal"
    assert outcome.duplicates == 0, f"duplicate bookings: {outcome.mismatches}"
    assert not outcome.mismatches, f"database and ledger disagree: {outcome.mismatches}"
    return outcome
