"""A corpus of invalid booking requests, each wrong in exactly one way.

`INVALID_REQUESTS` holds `(label, raw, field)`: `raw` is what a producer might send (JSON-ready),
and `field` is the dotted path that the reason must name. Every raw object starts from
`valid_base_request()` and changes one thing; each carries its own unique `request_id`
(`invalid-<label>`) unless the request_id itself is the fault. The last items are not objects at
all, as a producer in another language might put them on the queue.

Used by `test_invalid_corpus.py` (parse_request refuses each one), and by the end-to-end test
(each ends `invalid`, and Calendly is never called).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

EVENT_TYPE_URI = "https://api.calendly.com/event_types/9ac0b557-1840-4846-b35b-cc457712510b"

_VALID_BASE: dict[str, Any] = {
    "request_id": "valid-base",
    "event_type": EVENT_TYPE_URI,
    "invitee": {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "timezone": "America/New_York",
        "text_reminder_number": "+14155550100",
    },
    "window": {
        "earliest": "2026-12-01",
        "latest": "2026-12-19",
        "timezone": "America/New_York",
        "days": ["wed", "thu"],
        "hours": ["09:00-12:00", "13:00-17:00"],
        "min_notice_minutes": 120,
    },
    "prefer": "earliest",
    "keep_trying_until": "2026-12-10T00:00:00Z",
    "start_after": "2026-12-01T09:00:00Z",
    "location": {"kind": "outbound_call", "location": "+14155550100"},
    "event_guests": ["cc@example.com", "bob@example.org"],
    "questions_and_answers": [
        {"question": "Company", "answer": "Acme", "position": 0},
        {"question": "Team size", "answer": "12", "position": 1},
    ],
    "tracking": {"utm_source": "salesforce", "salesforce_uuid": "00Q5e00000AbCdE"},
    "callback_url": "https://crm.example.com/hooks/booking",
}


def valid_base_request(request_id: str = "valid-base") -> dict[str, Any]:
    """A fresh copy of a request that uses every feature and is valid."""
    raw = copy.deepcopy(_VALID_BASE)
    raw["request_id"] = request_id
    return raw


def _variant(label: str, change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    raw = valid_base_request(f"invalid-{label}")
    change(raw)
    return raw


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    """A change that sets a dotted path (`invitee.email`) to `value`."""

    def change(raw: dict[str, Any]) -> None:
        *parents, key = path.split(".")
        target = raw
        for parent in parents:
            target = target[parent]
        target[key] = value

    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def change(raw: dict[str, Any]) -> None:
        *parents, key = path.split(".")
        target = raw
        for parent in parents:
            target = target[parent]
        del target[key]

    return change


_CASES: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    # request_id
    ("request-id-missing", _drop("request_id"), "request_id"),
    ("request-id-empty", _set("request_id", ""), "request_id"),
    ("request-id-with-spaces", _set("request_id", "invalid request id"), "request_id"),
    ("request-id-too-long", _set("request_id", "invalid-" + "x" * 300), "request_id"),
    ("request-id-number", _set("request_id", 12345), "request_id"),
    # event_type
    ("event-type-missing", _drop("event_type"), "event_type"),
    ("event-type-bare-uuid", _set("event_type", "9ac0b557-1840-4846"), "event_type"),
    ("event-type-number", _set("event_type", 42), "event_type"),
    ("selector-owner-only", _set("event_type", {"owner": "taylor@acme.com"}), "event_type"),
    ("selector-unknown-key", _set("event_type", {"title": "Demo"}), "event_type.title"),
    # invitee
    ("invitee-missing", _drop("invitee"), "invitee"),
    ("invitee-without-name", _drop("invitee.name"), "invitee.name"),
    ("invitee-email-no-at", _set("invitee.email", "ada.example.com"), "invitee.email"),
    ("invitee-email-typo", _set("invitee.email", "ada@gmial.com"), "invitee.email"),
    ("invitee-timezone-missing", _drop("invitee.timezone"), "invitee.timezone"),
    ("invitee-timezone-abbreviation", _set("invitee.timezone", "PST"), "invitee.timezone"),
    ("invitee-timezone-unknown", _set("invitee.timezone", "Mars/Olympus"), "invitee.timezone"),
    (
        "reminder-number-no-country-code",
        _set("invitee.text_reminder_number", "415-555-0100"),
        "invitee.text_reminder_number",
    ),
    (
        "reminder-number-too-short",
        _set("invitee.text_reminder_number", "+1 555"),
        "invitee.text_reminder_number",
    ),
    # window
    ("hours-in-words", _set("window.hours", ["1pm-5pm"]), "window.hours[0]"),
    ("hours-reversed", _set("window.hours", ["09:00-12:00", "17:00-09:00"]), "window.hours[1]"),
    ("hours-past-midnight", _set("window.hours", ["09:00-25:00"]), "window.hours[0]"),
    ("day-unknown", _set("window.days", ["wed", "funday"]), "window.days[1]"),
    ("days-empty", _set("window.days", []), "window.days"),
    ("latest-before-earliest", _set("window.latest", "2026-11-30"), "window.latest"),
    ("earliest-us-date", _set("window.earliest", "12/01/2026"), "window.earliest"),
    ("window-timezone-unknown", _set("window.timezone", "Eastern"), "window.timezone"),
    ("min-notice-negative", _set("window.min_notice_minutes", -5), "window.min_notice_minutes"),
    ("window-unknown-key", _set("window.start", "2026-12-01"), "window.start"),
    # preference and times
    ("prefer-unknown", _set("prefer", "soonest"), "prefer"),
    ("keep-trying-naive", _set("keep_trying_until", "2026-12-10T00:00:00"), "keep_trying_until"),
    ("start-after-in-words", _set("start_after", "tomorrow morning"), "start_after"),
    (
        "keep-trying-before-start",
        _set("keep_trying_until", "2026-11-30T00:00:00Z"),
        "keep_trying_until",
    ),
    # location
    ("location-kind-unknown", _set("location", {"kind": "zoom"}), "location.kind"),
    ("location-physical-no-address", _set("location", {"kind": "physical"}), "location.location"),
    (
        "location-conference-with-text",
        _set("location", {"kind": "zoom_conference", "location": "https://zoom.us/j/1"}),
        "location.location",
    ),
    (
        "location-inbound-with-number",
        _set("location", {"kind": "inbound_call", "location": "+14155550100"}),
        "location.location",
    ),
    (
        "location-outbound-not-a-phone",
        _set("location", {"kind": "outbound_call", "location": "call my cell"}),
        "location.location",
    ),
    # guests
    (
        "eleven-guests",
        _set("event_guests", [f"guest{i}@example.com" for i in range(11)]),
        "event_guests",
    ),
    ("guest-bad-email", _set("event_guests", ["cc@example.com", "bob@"]), "event_guests[1]"),
    (
        "guest-twice",
        _set("event_guests", ["cc@example.com", "CC@example.com"]),
        "event_guests[1]",
    ),
    ("guest-is-invitee", _set("event_guests", ["ada@example.com"]), "event_guests[0]"),
    ("guest-email-typo", _set("event_guests", ["cc@hotmial.com"]), "event_guests[0]"),
    ("guests-not-a-list", _set("event_guests", "cc@example.com"), "event_guests"),
    ("guest-key-misspelled", _set("event_guest", ["cc@example.com"]), "event_guest"),
    # questions, tracking, callback, flags
    (
        "answer-missing",
        _set("questions_and_answers", [{"question": "Company", "position": 0}]),
        "questions_and_answers[0].answer",
    ),
    (
        "question-answered-twice",
        _set(
            "questions_and_answers",
            [
                {"question": "Company", "answer": "Acme", "position": 0},
                {"question": "Company", "answer": "Acme Inc", "position": 1},
            ],
        ),
        "questions_and_answers[1].question",
    ),
    ("tracking-unknown-key", _set("tracking.utm_id", "x"), "tracking.utm_id"),
    ("tracking-number", _set("tracking.salesforce_uuid", 123), "tracking.salesforce_uuid"),
    ("callback-not-a-url", _set("callback_url", "crm hook"), "callback_url"),
    ("allow-unusual-email-text", _set("allow_unusual_email", "yes"), "allow_unusual_email"),
]

INVALID_REQUESTS: list[tuple[str, dict[str, Any] | object, str]] = [
    (label, _variant(label, change), field) for label, change, field in _CASES
]
# Not objects at all, as they might arrive straight on the queue.
INVALID_REQUESTS += [
    ("array-not-object", [valid_base_request("invalid-array-not-object")], "request"),
    ("string-not-object", "book ada@example.com on wednesday", "request"),
    ("null-not-object", None, "request"),
    ("number-not-object", 42, "request"),
]
