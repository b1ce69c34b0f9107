"""Location kinds: what an event type configures, what a booking sends, what an event shows.

Requests and event types say ``kind``; events answer with ``type``, and Calendly reports
Zoom as ``zoom`` and GoToMeeting as ``gotomeeting`` (API-NOTES §5). Conference kinds
get a ``pushed`` status and a join URL derived from the event UUID, so the same event
always shows the same link. Kinds in :data:`KINDS_NEEDING_TEXT` need
``location.location`` in ``POST /invitees``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

from autobook.sandbox.seed import LocationKind

KINDS_NEEDING_TEXT = frozenset({"physical", "outbound_call", "ask_invitee", "custom"})
ALL_KINDS = frozenset(get_args(LocationKind))
_RESPONSE_TYPES = {"zoom_conference": "zoom", "gotomeeting_conference": "gotomeeting"}
_JOIN_URLS = {
    "zoom_conference": "https://us06web.zoom.us/j/{digits}",
    "google_conference": "https://meet.google.com/{letters}",
    "microsoft_teams_conference": "https://teams.microsoft.com/l/meetup-join/{digits}",
    "gotomeeting_conference": "https://meet.goto.com/{digits}",
    "webex_conference": "https://acme.webex.com/meet/{digits}",
}


@dataclass(frozen=True)
class LocationConfig:
    """One entry of an event type's ``locations``."""

    kind: str
    location: str | None = None
    additional_info: str | None = None
    phone_number: str | None = None


@dataclass(frozen=True)
class LocationChoice:
    """The configured location a booking uses, and the text the invitee gave for it."""

    config: LocationConfig
    text: str | None = None


def response_location(choice: LocationChoice | None, event_uuid: str) -> dict[str, Any]:
    """The event's ``location`` as Calendly shows it (no location: custom with null)."""
    if choice is None:
        return {"type": "custom", "location": None}
    kind = choice.config.kind
    if kind in _JOIN_URLS:
        hex_digits = event_uuid.replace("-", "")
        digits = str(int(hex_digits[:12], 16))[:11]
        letters = "-".join(hex_digits[i : i + 4] for i in (0, 4, 8))
        rendered: dict[str, Any] = {
            "type": _RESPONSE_TYPES.get(kind, kind),
            "status": "pushed",
            "join_url": _JOIN_URLS[kind].format(digits=digits, letters=letters),
        }
        if kind == "zoom_conference":
            rendered["data"] = {"id": int(digits), "password": hex_digits[-6:]}
        elif kind != "google_conference":
            rendered["data"] = None
        return rendered
    if kind == "inbound_call":
        return {
            "type": kind,
            "location": choice.config.phone_number or choice.config.location or "",
        }
    text = choice.text if choice.text is not None else choice.config.location
    return {"type": kind, "location": text}
