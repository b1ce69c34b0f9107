"""The checklist of Calendly's agent-booking guide, end to end, each item read from the sandbox.

One stack (sandbox + a real `autobook worker`) serves the module, with a recording proxy between
the worker and the sandbox, so the tests see both what autobook sent on the wire and what the
sandbox's ledger stored. Three requests are booked up front: a minimal one (name, email,
timezone), a CRM lead with guests, a reminder number, questions and tracking, and an outbound
call with a phone number put straight on the queue as a whole request object.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import ProxiedStack, StartStack
from tests.support.contract import STATUS_JSON_KEYS
from tests.support.sandbox import TRACKING_KEYS, calendly_client

pytestmark = pytest.mark.slow

UTC_WIRE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")

MINIMAL = {
    "request_id": "checklist-minimal",
    "event_type": {"slug": "intro"},
    "invitee": {"name": "Grace Hopper", "email": "grace.h@example.com", "timezone": "Asia/Tokyo"},
}
CRM_LEAD = {
    "request_id": "checklist-crm-lead",
    "event_type": {"name": "30 Minute Demo"},
    "invitee": {
        "name": "Ada Lovelace",
        "email": "ada.lovelace@example.com",
        "timezone": "America/Los_Angeles",
        "text_reminder_number": "+14155550123",
    },
    "event_guests": ["cc.person@example.com", "bob.guest@example.org"],
    "questions_and_answers": [{"question": "company", "answer": "Analytical", "position": 0}],
    "tracking": {
        "utm_source": "salesforce",
        "utm_campaign": "q4-demo",
        "utm_medium": "crm",
        "salesforce_uuid": "00Q5e00000AbCdE",
    },
}
PHONE_CALL = {
    "request_id": "checklist-phone-call",
    "event_type": {"slug": "phone-call"},
    "invitee": {
        "first_name": "Katherine",
        "last_name": "Johnson",
        "email": "katherine.j@example.com",
        "timezone": "Australia/Sydney",
        "text_reminder_number": "+61293744000",
    },
    "location": {"kind": "outbound_call", "location": "+61 2 9374 4001"},
    "event_guests": ["dorothy.v@example.com"],
}
REQUESTS = [MINIMAL, CRM_LEAD, PHONE_CALL]
STRAY_DOORBELL = "call +14155550123 or write to grace.h@example.com"
EMAILS = [
    "grace.h@example.com",
    "ada.lovelace@example.com",
    "cc.person@example.com",
    "bob.guest@example.org",
    "katherine.j@example.com",
    "dorothy.v@example.com",
]
PHONES = ["+14155550123", "14155550123", "+61293744000", "61293744000", "+61293744001"]


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> ProxiedStack:
    running = start_stack("embedded", recording=True)
    running.submit([MINIMAL, CRM_LEAD])
    running.send_raw(PHONE_CALL)
    # Messages the worker can only log about: an unknown id that holds an email and a phone
    # number, and a malformed message whose keyword arguments carry both.
    running.send_raw(STRAY_DOORBELL)
    running.send_raw(email="ada.lovelace@example.com", phone="+14155550123")
    rows = running.wait_terminal([r["request_id"] for r in REQUESTS], timeout=60)
    assert {row.request_id: str(row.status) for row in rows} == {
        r["request_id"]: "booked" for r in REQUESTS
    }, {row.request_id: row.reason for row in rows}
    return running


def _ledger_entry(stack: ProxiedStack, email: str) -> dict[str, Any]:
    (entry,) = [b for b in stack.admin.ledger() if b["email"] == email and b["status"] == "active"]
    return entry


def _body_for(stack: ProxiedStack, email: str) -> dict[str, Any]:
    """The body of the POST that booked `email` (an earlier one may have met already_filled)."""
    posts = [e for e in stack.posted() if e.body["invitee"]["email"] == email]
    assert [e.status for e in posts][-1:] == [201], posts
    assert all(e.status == 400 for e in posts[:-1]), posts
    body: dict[str, Any] = posts[-1].body
    return body


def _get(stack: ProxiedStack, uri: str) -> dict[str, Any]:
    with calendly_client(stack.sandbox_url) as http:
        response = http.get(urlsplit(uri).path)
        response.raise_for_status()
        resource: dict[str, Any] = response.json()["resource"]
        return resource


def _status_json(stack: ProxiedStack) -> dict[str, dict[str, Any]]:
    result = stack.cli("status", "--json")
    assert result.returncode == 0, result.stderr
    return {item["request_id"]: item for item in json.loads(result.stdout)}


def _path(uri: str | None) -> str:
    assert uri is not None
    return urlsplit(uri).path


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def test_booking_with_only_name_email_and_timezone_is_made_at_a_utc_start(
    stack: ProxiedStack,
) -> None:
    body = _body_for(stack, MINIMAL["invitee"]["email"])
    assert body["invitee"] == MINIMAL["invitee"]
    # intro has no location: none is sent; no guests or answers were asked for.
    assert "location" not in body
    assert "event_guests" not in body
    assert "questions_and_answers" not in body
    assert UTC_WIRE_TIME.match(body["start_time"]), body["start_time"]
    entry = _ledger_entry(stack, MINIMAL["invitee"]["email"])
    assert (entry["name"], entry["timezone"]) == ("Grace Hopper", "Asia/Tokyo")
    assert _instant(entry["start_time"]) == _instant(body["start_time"])
    row = stack.row("checklist-minimal")
    assert row.start_time == _instant(entry["start_time"])
    # The worker reached the sandbox through the proxy: same resources, another host.
    assert _path(row.event_uri) == _path(entry["event"])
    assert _path(row.invitee_uri) == _path(entry["uri"])


def test_cancel_and_reschedule_links_are_returned_stored_and_shown(stack: ProxiedStack) -> None:
    shown = _status_json(stack)
    for request in REQUESTS:
        row = stack.row(request["request_id"])
        assert row.invitee_uri is not None
        invitee = _get(stack, row.invitee_uri)
        assert invitee["cancel_url"]
        assert invitee["reschedule_url"]
        # The sandbox's links are on the host the worker reached it by (the proxy): same pages.
        links = (_path(invitee["cancel_url"]), _path(invitee["reschedule_url"]))
        assert (_path(row.cancel_url), _path(row.reschedule_url)) == links
        item = shown[request["request_id"]]
        assert item.keys() >= STATUS_JSON_KEYS
        assert (item["cancel_url"], item["reschedule_url"]) == (row.cancel_url, row.reschedule_url)
        assert (item["event_uri"], item["invitee_uri"]) == (row.event_uri, row.invitee_uri)
        assert item["status"] == "booked"
        posts = [
            e for e in stack.posted() if e.body["invitee"]["email"] == request["invitee"]["email"]
        ]
        assert item["attempts"] == len(posts) >= 1


def test_start_is_utc_with_z_in_json_and_in_the_invitee_zone_in_the_table(
    stack: ProxiedStack,
) -> None:
    shown = _status_json(stack)
    table = stack.cli("status")
    assert table.returncode == 0, table.stderr
    for request in REQUESTS:
        entry = _ledger_entry(stack, request["invitee"]["email"])
        start = _instant(entry["start_time"])
        item = shown[request["request_id"]]
        assert item["start_time"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
        zone = ZoneInfo(request["invitee"]["timezone"])
        local = start.astimezone(zone)
        assert local.utcoffset() != start.utcoffset()  # the zones differ from UTC: a real check
        local_text = f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
        assert local_text in table.stdout, (local_text, table.stdout)
        detail = stack.cli("status", request["request_id"])
        assert detail.returncode == 0, detail.stderr
        assert local_text in detail.stdout
        assert item["start_time"] in detail.stdout


def test_event_guests_are_on_the_scheduled_event(stack: ProxiedStack) -> None:
    for request in (CRM_LEAD, PHONE_CALL):
        row = stack.row(request["request_id"])
        assert row.event_uri is not None
        event = _get(stack, row.event_uri)
        assert sorted(g["email"] for g in event["event_guests"]) == sorted(request["event_guests"])
        entry = _ledger_entry(stack, request["invitee"]["email"])
        assert sorted(entry["event_guests"]) == sorted(request["event_guests"])


def test_every_tracking_value_salesforce_uuid_among_them_is_on_the_invitee(
    stack: ProxiedStack,
) -> None:
    row = stack.row("checklist-crm-lead")
    entry = _ledger_entry(stack, CRM_LEAD["invitee"]["email"])
    assert row.invitee_uri is not None
    invitee = _get(stack, row.invitee_uri)
    for tracking in (entry["tracking"], invitee["tracking"]):
        assert set(tracking) == set(TRACKING_KEYS)
        for key, value in CRM_LEAD["tracking"].items():
            assert tracking[key] == value
        assert tracking["salesforce_uuid"] == "00Q5e00000AbCdE"
        # The correlation token went into a key the request left empty, never over a value.
        assert row.correlation_token
        assert tracking["utm_content"] == row.correlation_token
        assert tracking["utm_term"] is None
    # The question name was matched case-insensitively and echoed as the type spells it.
    assert entry["questions_and_answers"][0]["question"] == "Company"


def test_phone_number_location_is_booked_as_given_and_reported(stack: ProxiedStack) -> None:
    body = _body_for(stack, PHONE_CALL["invitee"]["email"])
    assert body["location"] == {"kind": "outbound_call", "location": "+61293744001"}
    assert body["invitee"]["text_reminder_number"] == "+61293744000"
    row = stack.row("checklist-phone-call")
    assert row.location is not None
    assert row.location.get("location") == "+61293744001"


def test_worker_logs_hold_no_email_phone_number_or_token(stack: ProxiedStack) -> None:
    logs = stack.worker_logs()
    # The worker did log about messages full of personal data: the check below is not vacuous.
    assert "no request with id" in logs
    assert "g***@example.com" in logs
    assert "malformed message recorded" in logs
    for email in EMAILS:
        assert email not in logs
        assert quote(email) not in logs
        assert email.split("@")[0] + "%40" not in logs
    for phone in PHONES:
        assert phone not in logs
    assert "sandbox-token" not in logs
