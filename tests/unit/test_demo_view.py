"""`demo_view`: the demo's outcomes, rendered as a pipe or a narrow terminal would show them.

Rich assumes 80 columns when output is piped; a link folded there, in the middle of its UUID, can
be neither clicked nor copied. Ids are the ones `autobook status` accepts, whole.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.console import Console

from autobook import demo_view
from autobook.models import BookingRequestRow, NextAction, RequestStatus

NOW = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
SANDBOX = "http://127.0.0.1:58781"
INVITEE_UUID = "96955495-8a99-4143-b8c9-ddb878eaab11"


def _row(request_id: str, status: RequestStatus, **fields: Any) -> BookingRequestRow:
    payload = {
        "request_id": request_id,
        "event_type": {"slug": "demo"},
        "invitee": {"name": "Ada", "email": "ada@example.com", "timezone": "America/New_York"},
        **fields.pop("payload", {}),
    }
    values: dict[str, Any] = {
        "id": abs(hash(request_id)) % 10_000,
        "request_id": request_id,
        "status": status,
        "reason": None,
        "payload": payload,
        "attempts": 1,
        "next_action": NextAction.NONE,
        "next_action_at": None,
        "created_at": NOW,
        "updated_at": NOW,
        **fields,
    }
    return BookingRequestRow(**values)


def _booked(request_id: str, index: int, location: dict[str, Any] | None) -> BookingRequestRow:
    uuid = f"{index:08d}-8a99-4143-b8c9-{index:012d}"
    return _row(
        request_id,
        RequestStatus.BOOKED,
        start_time=NOW + timedelta(days=1),
        event_uri=f"{SANDBOX}/scheduled_events/{uuid}",
        invitee_uri=f"{SANDBOX}/scheduled_events/{uuid}/invitees/{uuid}",
        cancel_url=f"https://calendly.com/cancellations/{uuid}",
        reschedule_url=f"https://calendly.com/reschedulings/{uuid}",
        location=location,
    )


def _demo_rows() -> list[BookingRequestRow]:
    zoom = {"type": "zoom", "status": "pushed", "join_url": "https://us06web.zoom.us/j/19767934541"}
    return [
        _booked("demo-66a56e-minimal", 1, {"type": "custom", "location": None}),
        _booked("demo-66a56e-required-questions", 2, zoom),
        _booked(
            "demo-66a56e-ask-invitee",
            3,
            {"type": "ask_invitee", "location": "Café Clock, Derb Magana, Marrakesh"},
        ),
        _row(
            "demo-66a56e-rule-refused",
            RequestStatus.REJECTED,
            reason="location.kind: 'zoom_conference' is not configured for event type "
            "'Phone Call'; choose one of: outbound_call",
        ),
    ]


def _render(rows: list[BookingRequestRow], width: int) -> list[str]:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=False, color_system=None)
    demo_view.print_outcomes(console, rows)
    return out.getvalue().splitlines()


@pytest.mark.parametrize("width", [80, 40])
def test_every_link_is_whole_on_one_line_at_narrow_widths(width: int) -> None:
    rows = _demo_rows()
    lines = _render(rows, width)
    expected = [url for row in rows for _, url in demo_view.links(row)]
    assert len(expected) == 7  # 3 cancel + 3 reschedule + 1 join
    for url in expected:
        # A folded URL is on no line whole; a whole one is on exactly one.
        holding = [line for line in lines if url in line]
        assert len(holding) == 1, (url, lines)


def test_request_ids_are_shown_whole_as_status_accepts_them() -> None:
    rows = _demo_rows()
    lines = _render(rows, 80)
    for row in rows:
        assert any(line.startswith(row.request_id + " ") for line in lines), row.request_id


def test_the_table_fits_in_80_columns() -> None:
    assert all(len(line) <= 80 for line in _render(_demo_rows(), 80) if "https://" not in line)


def test_a_booking_with_no_location_says_so_instead_of_a_bare_custom() -> None:
    assert demo_view.location_label({"type": "custom", "location": None}) == "no location"
    assert demo_view.location_label({"type": "custom", "location": "Bryant Park"}) == (
        "custom: Bryant Park"
    )
    text = "\n".join(_render(_demo_rows(), 80))
    assert "no location" in text


def _follow_up() -> BookingRequestRow:
    return _row(
        "demo-66a56e-follow-up",
        RequestStatus.RECEIVED,
        payload={"start_after": "2026-12-01T17:00:08Z"},
        next_action=NextAction.SEARCH,
        next_action_at=NOW + timedelta(seconds=8),
    )


def test_a_held_follow_up_says_until_when_and_why() -> None:
    reason = demo_view.pending_reason(_follow_up(), NOW)
    assert reason == "a follow-up, held until its start_after 2026-12-01T17:00:08Z"
    summary = demo_view.pending_summary([*_demo_rows(), _follow_up()], NOW)
    assert summary == "1 to go; follow-up held until 17:00:08Z"


def test_once_its_start_after_has_passed_a_follow_up_is_just_pending() -> None:
    later = NOW + timedelta(seconds=9)
    assert "held" not in demo_view.pending_reason(_follow_up(), later)
    assert demo_view.pending_summary([_follow_up()], later) == "1 to go"


def test_a_waiting_request_says_when_it_searches_again() -> None:
    row = _row(
        "demo-1-waiting",
        RequestStatus.WAITING,
        next_action=NextAction.SEARCH,
        next_action_at=NOW + timedelta(minutes=5),
    )
    assert "searched again at 2026-12-01T17:05:00Z" in demo_view.pending_reason(row, NOW)


def test_a_timeout_names_each_unfinished_request_and_why() -> None:
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=False, color_system=None)
    demo_view.print_timeout(console, [*_demo_rows(), _follow_up()], 5.0, NOW)
    text = out.getvalue()
    assert "timed out after 5s with 1 request(s) not finished" in text
    assert "demo-66a56e-follow-up: a follow-up, held until its start_after" in text
    assert "demo-66a56e-minimal" not in text
