"""What a callback says: `{"type", "timestamp", "data"}` for one outcome (DESIGN §7).

`data` is what `autobook status --json` shows of the request (links, times in UTC and in the
invitee's zone, the location as Calendly reports it) plus what the request asked for that the
source needs downstream: `tracking` (with `salesforce_uuid`), `event_guests` and
`questions_and_answers`. The body is built once, when the outcome is recorded, and stored with
the outbox row: every attempt sends the same bytes under the same `webhook-id`. Pure: no I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from autobook.models import BookingRequestRow
from autobook.times import utc_z
from autobook.views import as_json

EVENT_PREFIX = "booking."
RESCHEDULED = "booking.rescheduled"
# Scheduling bookkeeping of ours, not part of an outcome.
INTERNAL_KEYS = ("next_action", "next_action_at")


def event_name(status: str) -> str:
    return EVENT_PREFIX + status


def _asked(payload: dict[str, Any], key: str, empty: Any) -> Any:
    value = payload.get(key)
    return empty if value is None else value


def build(
    row: BookingRequestRow, event: str, at: datetime, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The event for `row` as it stands now (call it in the outcome's transaction)."""
    payload = row.payload if isinstance(row.payload, dict) else {}
    data = {key: value for key, value in as_json(row).items() if key not in INTERNAL_KEYS}
    tracking = payload.get("tracking")
    data["tracking"] = tracking if isinstance(tracking, dict) else {}
    data["event_guests"] = _asked(payload, "event_guests", [])
    data["questions_and_answers"] = _asked(payload, "questions_and_answers", [])
    data.update(extra or {})
    return {"type": event, "timestamp": utc_z(at), "data": data}
