"""A booking, known from what we sent: the event read after `POST /invitees`, avoided.

The `POST /invitees` answer is the invitee: its URI, its event's URI, the cancel and reschedule
links, but no start time, location or hosts (API-NOTES §2.5). Reading the event back costs one
Calendly call per booking, half of what a booking costs. For a one-host event type everything is
known without it:

- the start is the slot we booked (Calendly books exactly the start it was sent);
- the host is the event type's owner;
- the location is the one we sent, as Calendly reports it (`type`, `location`); an `inbound_call`
  reports the host's number from the event type's configuration. A conferencing location
  (Zoom, Google Meet, ...) gets its `join_url` from the provider after the booking: it is
  recorded as `None` here, and Calendly's own invitation carries the link.

A team event type's hosts are known to Calendly only (which host a round robin assigned, a
collective's hosts): they are left empty here. Its attempt already blocks every host of the
organization, from the intent on, until a newer poll (`booking/blocking.py`): a guess that may
cost a slot for a few seconds, never a call. A round robin is sent no location, and its event
takes the event type's first one. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from autobook.calendly.models import EventType

# Request `kind` -> response `type`, where they differ in real data (API-NOTES §5).
CONFERENCE_TYPES = {
    "zoom_conference": "zoom",
    "google_conference": "google_conference",
    "microsoft_teams_conference": "microsoft_teams_conference",
    "gotomeeting_conference": "gotomeeting",
    "webex_conference": "webex_conference",
}


@dataclass(frozen=True)
class KnownEvent:
    """What is recorded of a booked event that was not read back."""

    start_time: datetime
    location: dict[str, Any] | None
    hosts: tuple[str, ...]


def known_event(event_type: EventType, body: Mapping[str, Any], start_time: datetime) -> KnownEvent:
    """The booked event as we know it from the event type and the body we sent."""
    profile = event_type.profile
    solo = not event_type.pooling_type and profile is not None and profile.type == "User"
    hosts = (profile.owner,) if solo and profile is not None and profile.owner else ()
    sent = body.get("location")
    if sent is None and event_type.locations:
        first = event_type.locations[0]
        sent = {"kind": first.kind, "location": first.location}
    return KnownEvent(start_time, reported_location(event_type, sent), hosts)


def reported_location(event_type: EventType, sent: Any) -> dict[str, Any] | None:
    """The location we sent, in the form Calendly reports it on the event."""
    if not isinstance(sent, Mapping) or not isinstance(sent.get("kind"), str):
        return None
    kind: str = sent["kind"]
    if kind in CONFERENCE_TYPES:
        return {"type": CONFERENCE_TYPES[kind], "join_url": None}
    value = sent.get("location")
    if value is None:  # inbound_call: the invitee calls the number the event type gives
        for config in event_type.locations or ():
            if config.kind == kind:
                value = config.phone_number or config.location
                break
    return {"type": kind, "location": value}
