"""The sample requests of `autobook demo`: one per feature, against the sandbox's default seed.

Dates are computed from `now`, so the demo works on any day: windows start tomorrow, and the
daylight-saving example targets the next change of America/New_York, whenever that is.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
FOLLOW_UP_DELAY = timedelta(seconds=8)


def next_offset_change(zone: ZoneInfo, after: datetime) -> date:
    """The local date of the zone's next UTC-offset change after `after` (within 400 days)."""
    moment = after.astimezone(UTC)
    offset = moment.astimezone(zone).utcoffset()
    for _ in range(400 * 4):
        moment += timedelta(hours=6)
        if moment.astimezone(zone).utcoffset() != offset:
            return moment.astimezone(zone).date()
    return (after + timedelta(days=400)).date()


def sample_requests(now: datetime, run: str) -> list[dict[str, Any]]:
    """About a dozen requests that show what autobook does; `run` makes the ids unique."""
    tomorrow = (now.astimezone(NEW_YORK) + timedelta(days=1)).date()
    dst = next_offset_change(NEW_YORK, now)

    def rid(name: str) -> str:
        return f"demo-{run}-{name}"

    def person(name: str, email: str, timezone: str, **extra: str) -> dict[str, Any]:
        return {"name": name, "email": email, "timezone": timezone, **extra}

    return [
        {
            "request_id": rid("minimal"),
            "event_type": {"slug": "intro"},
            "invitee": person("Grace Hopper", "grace@example.com", "America/New_York"),
        },
        {
            "request_id": rid("crm-lead"),
            "event_type": {"name": "30 Minute Demo", "owner": "taylor@acme.com"},
            "invitee": person(
                "Ada Lovelace",
                "ada@example.com",
                "Europe/London",
                text_reminder_number="+442079460000",
            ),
            "window": {
                "earliest": tomorrow.isoformat(),
                "timezone": "America/New_York",
                "days": ["wed", "thu"],
                "hours": ["13:00-17:00"],
                "min_notice_minutes": 120,
            },
            "event_guests": ["cc@example.com"],
            "questions_and_answers": [
                {"question": "Company", "answer": "Analytical Engines", "position": 0}
            ],
            "tracking": {
                "utm_source": "salesforce",
                "utm_campaign": "q4-demo",
                "salesforce_uuid": "00Q5e00000AbCdE",
            },
        },
        {
            "request_id": rid("physical"),
            "event_type": {"slug": "onsite-visit"},
            "invitee": person("Alan Turing", "alan@example.com", "Europe/London"),
        },
        {
            "request_id": rid("outbound-call"),
            "event_type": {"slug": "phone-call"},
            "invitee": person("Katherine Johnson", "katherine@example.com", "Australia/Sydney"),
            "location": {"kind": "outbound_call", "location": "+61293744000"},
            "prefer": "latest",
            "window": {
                "earliest": tomorrow.isoformat(),
                "latest": (tomorrow + timedelta(days=2)).isoformat(),
            },
        },
        {
            "request_id": rid("ask-invitee"),
            "event_type": {"slug": "consultation"},
            "invitee": person("Hedy Lamarr", "hedy@example.com", "Africa/Casablanca"),
            "location": {"kind": "ask_invitee", "location": "Café Clock, Derb Magana, Marrakesh"},
        },
        {
            "request_id": rid("several-locations"),
            "event_type": {"slug": "flexible-meeting"},
            "invitee": person("Margaret Hamilton", "margaret@example.com", "America/Chicago"),
            "location": {"kind": "zoom_conference"},
        },
        {
            "request_id": rid("round-robin"),
            "event_type": {"slug": "sales-round-robin"},
            "invitee": person("Linus Pauling", "linus@example.com", "America/Los_Angeles"),
        },
        {
            "request_id": rid("group-1"),
            "event_type": {"slug": "webinar"},
            "invitee": person("Marie Curie", "marie@example.com", "Europe/Paris"),
        },
        {
            "request_id": rid("group-2"),
            "event_type": {"slug": "webinar"},
            "invitee": person("Pierre Curie", "pierre@example.com", "Europe/Paris"),
        },
        {
            "request_id": rid("required-questions"),
            "event_type": {"slug": "qualification-call"},
            "invitee": person("Barbara Liskov", "barbara@example.com", "America/New_York"),
            "questions_and_answers": [
                {"question": "company name", "answer": "CLU Labs", "position": 0},
                {"question": "Team size", "answer": "11-50", "position": 1},
            ],
        },
        {
            "request_id": rid("across-dst"),
            "event_type": {"slug": "demo"},
            "invitee": person("Edsger Dijkstra", "edsger@example.com", "Europe/Amsterdam"),
            "window": {
                "earliest": (dst + timedelta(days=1)).isoformat(),
                "latest": (dst + timedelta(days=7)).isoformat(),
                "timezone": "America/New_York",
                "hours": ["09:00-10:00"],
            },
        },
        {
            "request_id": rid("follow-up"),
            "event_type": {"slug": "partner-call"},
            "invitee": person("Tim Berners-Lee", "tim@example.com", "Europe/London"),
            "start_after": (now + FOLLOW_UP_DELAY)
            .astimezone(UTC)
            .isoformat()
            .replace("+00:00", "Z"),
        },
        {
            "request_id": rid("no-slot"),
            "event_type": {"slug": "demo"},
            "invitee": person("Claude Shannon", "claude@example.com", "America/New_York"),
            "window": {
                "earliest": tomorrow.isoformat(),
                "latest": (tomorrow + timedelta(days=13)).isoformat(),
                "days": ["sat", "sun"],
            },
        },
        {
            "request_id": rid("rule-refused"),
            "event_type": {"slug": "phone-call"},
            "invitee": person("Frances Allen", "frances@example.com", "America/New_York"),
            "location": {"kind": "zoom_conference"},
        },
        {
            "request_id": rid("typo"),
            "event_type": {"slug": "demo"},
            "invitee": person("John Backus", "john@gmial.com", "America/New_York"),
        },
    ]
