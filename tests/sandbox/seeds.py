"""Seeds for the sandbox tests: one organization that exercises every rule, and generators.

The tests run on a fake clock set to :data:`NOW` (Monday 2026-11-23, 07:00 in New York),
so every expected slot below is a fixed instant.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from autobook.sandbox.seed import stable_uuid

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
OWNER_EMAIL = "nina@test.example"
LONDON_EMAIL = "leo@test.example"
SYDNEY_EMAIL = "sam@test.example"
PAST_EVENT_UUID = "0b7c3f4e-5d6a-4b8c-9d0e-1f2a3b4c5d6e"
FUTURE_GROUP_EVENT_UUID = "1c8d4e5f-6a7b-4c9d-8e0f-2a3b4c5d6e7f"
WEEKDAYS_9_TO_5 = {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


def _type(slug: str, hosts: list[str], **fields: Any) -> dict[str, Any]:
    return {
        "name": slug.replace("-", " ").title(),
        "slug": slug,
        "hosts": hosts,
        "duration": 30,
    } | fields


def base_seed() -> dict[str, Any]:
    nina, leo, sam = OWNER_EMAIL, LONDON_EMAIL, SYDNEY_EMAIL
    return {
        "organization": {"name": "Test Org"},
        "users": [
            {
                "name": "Nina Owner",
                "email": nina,
                "timezone": "America/New_York",
                "plan": "enterprise",
                "working_hours": WEEKDAYS_9_TO_5,
            },
            {
                "name": "Leo London",
                "email": leo,
                "timezone": "Europe/London",
                "working_hours": WEEKDAYS_9_TO_5,
            },
            {
                "name": "Sam Sydney",
                "email": sam,
                "timezone": "Australia/Sydney",
                "working_hours": WEEKDAYS_9_TO_5,
            },
        ],
        "event_types": [
            _type("solo", [nina], locations=[{"kind": "zoom_conference"}]),
            _type("no-location", [nina], locations=None),
            _type(
                "physical",
                [leo],
                duration=60,
                locations=[{"kind": "physical", "location": "10 Downing St"}],
            ),
            _type("outbound", [sam], locations=[{"kind": "outbound_call"}]),
            _type("ask", [nina], locations=[{"kind": "ask_invitee"}]),
            _type(
                "inbound",
                [leo],
                locations=[{"kind": "inbound_call", "phone_number": "+442079460958"}],
            ),
            _type("custom", [nina], locations=[{"kind": "custom", "location": "The lobby"}]),
            _type(
                "multi",
                [nina],
                locations=[
                    {"kind": "google_conference"},
                    {"kind": "zoom_conference"},
                    {"kind": "physical", "location": "Main office"},
                    {"kind": "outbound_call"},
                    {"kind": "custom", "location": "Cafe"},
                    {"kind": "microsoft_teams_conference"},
                    {"kind": "webex_conference"},
                    {"kind": "gotomeeting_conference"},
                ],
            ),
            _type(
                "only-input", [nina], locations=[{"kind": "outbound_call"}, {"kind": "ask_invitee"}]
            ),
            _type(
                "round-robin",
                [nina, leo],
                pooling_type="round_robin",
                team="Sales",
                locations=[{"kind": "zoom_conference"}],
            ),
            _type(
                "collective",
                [nina, leo],
                pooling_type="collective",
                locations=[{"kind": "google_conference"}],
            ),
            _type(
                "group",
                [nina],
                kind="group",
                capacity=3,
                duration=60,
                locations=[{"kind": "zoom_conference"}],
            ),
            _type(
                "questions",
                [nina],
                locations=None,
                custom_questions=[
                    {"name": "Company Name", "type": "string", "required": True},
                    {
                        "name": "Team size",
                        "type": "single_select",
                        "required": True,
                        "answer_choices": ["1-10", "11-50", "51+"],
                    },
                    {"name": "Phone Number", "type": "phone_number"},
                    {"name": "Notes", "type": "text"},
                    {
                        "name": "Retired question",
                        "type": "string",
                        "required": True,
                        "enabled": False,
                    },
                ],
            ),
            _type("notice", [nina], min_notice_minutes=24 * 60, locations=None),
            _type("fifteen", [nina], duration=15, start_time_increment=15, locations=None),
            _type("inactive", [nina], active=False, locations=None),
        ],
        "bookings": [
            {
                "uuid": PAST_EVENT_UUID,
                "event_type": "solo",
                "start_time": "2026-11-20T15:00:00Z",
                "invitee": {"name": "Past Person", "email": "past@example.com", "timezone": "UTC"},
            },
            {
                "uuid": FUTURE_GROUP_EVENT_UUID,
                "event_type": "group",
                "start_time": "2026-12-02T15:00:00Z",
                "invitee": {"name": "Early Bird", "email": "early@example.com", "timezone": "UTC"},
                "event_guests": ["guest@example.com"],
            },
        ],
    }


def many_event_types_seed(count: int) -> dict[str, Any]:
    """One host with ``count`` event types, for pagination."""
    return {
        "organization": {"name": "Big Org"},
        "users": [
            {"name": "Owner", "email": "owner@big.example", "timezone": "UTC", "plan": "enterprise"}
        ],
        "event_types": [
            {
                "name": f"Type {index:03d}",
                "slug": f"type-{index:03d}",
                "hosts": ["owner@big.example"],
                "duration": 30,
                "active": index % 4 != 0,
            }
            for index in range(count)
        ],
    }


def event_type_uri(base: str, slug: str) -> str:
    return f"{base}/event_types/{stable_uuid('event_type', slug)}"


def user_uri(base: str, email: str) -> str:
    return f"{base}/users/{stable_uuid('user', email)}"


def organization_uri(base: str, name: str = "Test Org") -> str:
    return f"{base}/organizations/{stable_uuid('organization', name)}"
