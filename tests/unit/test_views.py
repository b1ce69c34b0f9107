"""`views`: what `autobook status` prints: UTC with Z in JSON, the invitee's own time in tables."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from autobook import views
from autobook.models import (
    AttemptState,
    BookingAttemptRow,
    BookingRequestRow,
    NextAction,
    RequestLogRow,
    RequestStatus,
)

PUBLIC_KEYS = {
    "request_id",
    "status",
    "reason",
    "event_type",
    "start_time",
    "event_uri",
    "invitee_uri",
    "cancel_url",
    "reschedule_url",
    "attempts",
}
CREATED = datetime(2026, 12, 1, 8, 0, 0, 123456, tzinfo=UTC)
EVENT_TYPE = "https://api.calendly.com/event_types/et-1"


def _payload(timezone: str = "Asia/Tokyo", event_type: object = None) -> dict[str, Any]:
    return {
        "request_id": "view-1",
        "event_type": event_type or {"slug": "demo"},
        "invitee": {"name": "Ada", "email": "ada@example.com", "timezone": timezone},
    }


def _booked(start: datetime, timezone: str = "Asia/Tokyo") -> BookingRequestRow:
    return BookingRequestRow(
        id=1,
        request_id="view-booked",
        status=RequestStatus.BOOKED,
        reason=None,
        payload=_payload(timezone),
        event_type_uri=EVENT_TYPE,
        attempts=2,
        next_action=NextAction.NONE,
        next_action_at=None,
        start_time=start,
        event_uri="https://api.calendly.com/scheduled_events/ev-1",
        invitee_uri="https://api.calendly.com/scheduled_events/ev-1/invitees/in-1",
        cancel_url="https://calendly.com/cancellations/in-1",
        reschedule_url="https://calendly.com/reschedulings/in-1",
        location={"type": "zoom", "join_url": "https://zoom.us/j/1"},
        created_at=CREATED,
        updated_at=CREATED,
    )


def _invalid() -> BookingRequestRow:
    return BookingRequestRow(
        id=2,
        request_id="view-invalid",
        status=RequestStatus.INVALID,
        reason="invitee.timezone: 'PST' is not an IANA timezone",
        payload=_payload("PST"),
        attempts=0,
        next_action=NextAction.NONE,
        created_at=CREATED,
        updated_at=CREATED,
    )


def _render(renderable: object) -> str:
    console = Console(record=True, width=220, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_json_has_the_public_keys_and_utc_times_with_z() -> None:
    item = views.as_json(_booked(datetime(2026, 12, 2, 15, 0, tzinfo=UTC)))
    assert item.keys() >= PUBLIC_KEYS
    assert item["start_time"] == "2026-12-02T15:00:00Z"
    assert item["created_at"] == "2026-12-01T08:00:00Z"
    assert item["status"] == "booked"
    assert item["attempts"] == 2
    assert item["event_type"] == EVENT_TYPE
    assert item["cancel_url"] == "https://calendly.com/cancellations/in-1"
    assert item["reschedule_url"] == "https://calendly.com/reschedulings/in-1"
    json.dumps(item)  # plain JSON, nothing a serializer would choke on


def test_json_start_time_is_utc_whatever_the_stored_offset() -> None:
    start = datetime(2026, 12, 2, 10, 0, tzinfo=ZoneInfo("America/New_York"))
    assert views.as_json(_booked(start))["start_time"] == "2026-12-02T15:00:00Z"


def test_local_time_is_in_the_invitees_zone() -> None:
    row = _booked(datetime(2026, 12, 2, 15, 0, tzinfo=UTC))
    assert views.local_time(row) == "Thu 2026-12-03 00:00 JST (Asia/Tokyo)"
    assert views.as_json(row)["start_time_local"] == "Thu 2026-12-03 00:00 JST (Asia/Tokyo)"


@pytest.mark.parametrize(
    ("start", "shown"),
    [
        (datetime(2027, 3, 12, 14, 0, tzinfo=UTC), "Fri 2027-03-12 09:00 EST (America/New_York)"),
        (datetime(2027, 3, 15, 13, 0, tzinfo=UTC), "Mon 2027-03-15 09:00 EDT (America/New_York)"),
    ],
)
def test_local_time_follows_daylight_saving(start: datetime, shown: str) -> None:
    assert views.local_time(_booked(start, "America/New_York")) == shown


def test_no_local_time_without_a_start_or_a_usable_zone() -> None:
    assert views.local_time(_invalid()) is None
    unbooked = _booked(datetime(2026, 12, 2, 15, 0, tzinfo=UTC))
    unbooked.start_time = None
    assert views.local_time(unbooked) is None
    garbage = _invalid()
    garbage.payload = {"malformed": "42"}
    assert views.local_time(garbage) is None
    assert views.invitee_zone(garbage) is None


@pytest.mark.parametrize(
    ("event_type_uri", "payload", "label"),
    [
        (EVENT_TYPE, _payload(event_type={"slug": "demo"}), EVENT_TYPE),
        (None, _payload(event_type=EVENT_TYPE), EVENT_TYPE),
        (None, _payload(event_type={"slug": "demo"}), "slug=demo"),
        (
            None,
            _payload(event_type={"name": "Demo", "owner": "t@acme.com"}),
            "name=Demo, owner=t@acme.com",
        ),
        (None, {"malformed": "42"}, None),
    ],
)
def test_event_type_label_prefers_the_resolved_uri(
    event_type_uri: str | None, payload: dict[str, Any], label: str | None
) -> None:
    row = _invalid()
    row.event_type_uri, row.payload = event_type_uri, payload
    assert views.event_type_label(row) == label


def test_invalid_request_json_has_its_reason_and_no_times() -> None:
    item = views.as_json(_invalid())
    assert item["status"] == "invalid"
    assert item["reason"].startswith("invitee.timezone")
    assert item["start_time"] is None
    assert item["start_time_local"] is None
    assert item["next_action_at"] is None
    assert item["attempts"] == 0


def test_table_shows_the_invitees_time_and_the_reason_or_cancel_link() -> None:
    rows = [_booked(datetime(2026, 12, 2, 15, 0, tzinfo=UTC)), _invalid()]
    text = _render(views.requests_table(rows))
    assert "Thu 2026-12-03 00:00 JST (Asia/Tokyo)" in text
    assert "https://calendly.com/cancellations/in-1" in text
    assert "'PST' is not an IANA timezone" in text
    assert "view-booked" in text
    assert "view-invalid" in text


def test_detail_shows_every_field_the_attempts_and_the_log() -> None:
    row = _booked(datetime(2026, 12, 2, 15, 0, tzinfo=UTC))
    attempts = [
        BookingAttemptRow(
            id=1,
            request_pk=1,
            fence=1,
            slot_start=datetime(2026, 12, 2, 14, 30, tzinfo=UTC),
            correlation_token="ab-1",
            state=AttemptState.REJECTED,
            http_status=400,
            reason="already_filled",
            created_at=CREATED,
        ),
        BookingAttemptRow(
            id=2,
            request_pk=1,
            fence=1,
            slot_start=datetime(2026, 12, 2, 15, 0, tzinfo=UTC),
            correlation_token="ab-2",
            state=AttemptState.BOOKED,
            http_status=201,
            created_at=CREATED,
        ),
    ]
    logs = [
        RequestLogRow(id=1, request_pk=1, at=CREATED, kind="received", message="received"),
        RequestLogRow(id=2, request_pk=1, at=CREATED, kind="booked", message="booked: ev-1"),
    ]
    console = Console(record=True, width=220, color_system=None)
    views.print_request_detail(console, row, attempts, logs)
    text = console.export_text()
    for shown in (
        "view-booked",
        "2026-12-02T15:00:00Z",
        "Thu 2026-12-03 00:00 JST (Asia/Tokyo)",
        "https://calendly.com/reschedulings/in-1",
        "2026-12-02T14:30:00Z",
        "already_filled",
        "booked: ev-1",
    ):
        assert shown in text, shown
