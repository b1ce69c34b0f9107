"""`autobook status --summary`: how the whole queue stands, for an operator, in a dozen lines.

`take_snapshot` reads the database once: requests by status, the oldest `waiting` and the
oldest `unknown` request (their ids and ages), `failed` requests grouped by reason, and whether
sending is paused (after a 401). The budget left per Calendly user is read from Redis
(`autobook.calendly.budget_view`) when `AUTOBOOK_REDIS_URL` is set; without it, from the budget
file in the data folder that every worker process shares. The metrics collector reads the same
snapshot, so the numbers on a dashboard and in this summary agree.

Reasons are shown as recorded (they never hold the token, and personal data is masked on the
way in); only the first line of each, cut to a width, is used as the group.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from autobook import store
from autobook.budget_status import read_budget_status
from autobook.calendly.budget_view import UserBudget
from autobook.config import Settings
from autobook.models import BookingRequestRow, RequestStatus
from autobook.times import utc_z

REASON_WIDTH = 100
TOP_REASONS = 10
OPEN_STATUSES = (
    RequestStatus.RECEIVED,
    RequestStatus.SEARCHING,
    RequestStatus.WAITING,
    RequestStatus.BOOKING,
    RequestStatus.UNKNOWN,
)


@dataclass(frozen=True)
class Oldest:
    request_id: str
    since: datetime
    age_seconds: float


@dataclass
class Snapshot:
    counts: dict[str, int]
    oldest_waiting: Oldest | None
    oldest_unknown: Oldest | None
    failures: list[tuple[str, int]]
    paused_reason: str | None
    paused_since: datetime | None
    budgets: list[UserBudget] = field(default_factory=list)
    budget_note: str | None = None


def _oldest(session: Session, status: RequestStatus, now: datetime) -> Oldest | None:
    row = session.execute(
        select(BookingRequestRow.request_id, BookingRequestRow.created_at)
        .where(BookingRequestRow.status == status)
        .order_by(BookingRequestRow.created_at)
        .limit(1)
    ).first()
    if row is None:
        return None
    return Oldest(row[0], row[1], max(0.0, (now - row[1]).total_seconds()))


def take_snapshot(session: Session, now: datetime) -> Snapshot:
    """Counts, oldest open requests, failure reasons and the pause, from the database."""
    counts = {status.value: 0 for status in RequestStatus}
    for status, count in session.execute(
        select(BookingRequestRow.status, func.count()).group_by(BookingRequestRow.status)
    ):
        counts[RequestStatus(status).value] = int(count)
    failures: dict[str, int] = {}
    for (reason,) in session.execute(
        select(BookingRequestRow.reason).where(BookingRequestRow.status == RequestStatus.FAILED)
    ):
        key = (reason or "(no reason)").splitlines()[0][:REASON_WIDTH]
        failures[key] = failures.get(key, 0) + 1
    pause = store.sending_paused(session)
    return Snapshot(
        counts=counts,
        oldest_waiting=_oldest(session, RequestStatus.WAITING, now),
        oldest_unknown=_oldest(session, RequestStatus.UNKNOWN, now),
        failures=sorted(failures.items(), key=lambda item: (-item[1], item[0]))[:TOP_REASONS],
        paused_reason=None if pause is None else pause.reason,
        paused_since=None if pause is None else pause.paused_at,
    )


def add_budgets(snapshot: Snapshot, settings: Settings) -> None:
    """Fill in the budget left per Calendly user, or say why it can't be seen."""
    snapshot.budgets, snapshot.budget_note = read_budget_status(settings)


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def render_text(snapshot: Snapshot) -> list[str]:
    lines = [
        "requests: "
        + ", ".join(f"{status} {count}" for status, count in snapshot.counts.items() if count)
        if any(snapshot.counts.values())
        else "requests: none yet"
    ]
    for label, oldest in (
        ("waiting", snapshot.oldest_waiting),
        ("unknown", snapshot.oldest_unknown),
    ):
        if oldest is None:
            lines.append(f"oldest {label}: none")
        else:
            lines.append(
                f"oldest {label}: {oldest.request_id} for {_age(oldest.age_seconds)} "
                f"(since {utc_z(oldest.since)})"
            )
    if snapshot.failures:
        lines.append("failed, by reason:")
        lines.extend(f"  {count:>5}  {reason}" for reason, count in snapshot.failures)
    else:
        lines.append("failed: none")
    if snapshot.paused_reason is None:
        lines.append("sending: active")
    else:
        since = f" since {utc_z(snapshot.paused_since)}" if snapshot.paused_since else ""
        lines.append(
            f"sending: PAUSED{since}: {snapshot.paused_reason} "
            "(fix the token, then autobook resume)"
        )
    if snapshot.budget_note is not None:
        lines.append(f"budget: {snapshot.budget_note}")
    for budget in snapshot.budgets:
        windows = ", ".join(f"{w.window} {w.remaining}/{w.limit}" for w in budget.windows)
        wait = budget.next_booking_in_seconds
        when = "now" if wait <= 0 else f"in {_age(wait)}"
        lines.append(f"budget {budget.user}: {windows}; next booking can be sent {when}")
    return lines


def render_json(snapshot: Snapshot) -> str:
    def oldest(found: Oldest | None) -> object:
        if found is None:
            return None
        return {
            "request_id": found.request_id,
            "since": utc_z(found.since),
            "age_seconds": round(found.age_seconds, 1),
        }

    return json.dumps(
        {
            "counts": snapshot.counts,
            "oldest_waiting": oldest(snapshot.oldest_waiting),
            "oldest_unknown": oldest(snapshot.oldest_unknown),
            "failures": [{"reason": r, "count": c} for r, c in snapshot.failures],
            "sending_paused": snapshot.paused_reason is not None,
            "paused_reason": snapshot.paused_reason,
            "budgets": [
                {
                    "user": b.user,
                    "next_booking_in_seconds": round(b.next_booking_in_seconds, 1),
                    "windows": [
                        {"window": w.window, "limit": w.limit, "remaining": w.remaining}
                        for w in b.windows
                    ],
                }
                for b in snapshot.budgets
            ],
            "budget_note": snapshot.budget_note,
        },
        indent=2,
    )
