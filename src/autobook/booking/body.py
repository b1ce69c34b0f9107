"""Build the `POST /invitees` body for one request, by the event type's rules.

Calendly silently ignores what it does not understand and refuses what breaks a rule, so the
body is derived from the event type as Calendly reports it at booking time, never from memory:

- Location: omitted for round-robin types and for types with no location. A location named by
  the request must be one of the type's configured kinds. Otherwise the first configured kind
  that needs no input from the invitee is taken (a kind whose configuration already carries the
  value, such as an office address, counts as needing no input); if every kind needs input the
  request is refused with the kinds it may choose.
- `questions_and_answers` echo the type's exact, case-sensitive question names and positions;
  every required, enabled question must have an answer.
- `tracking` always carries all six keys (null allowed: a subset is refused by Calendly), and a
  correlation token in a key the request left empty (`utm_content` first), never over a value
  the request gave. With no key free there is no token, and reconciliation matches on event
  type, start time and invitee email instead.

Rule refusals raise `BookingRuleViolation`, whose message names the field and the choices.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from autobook.calendly.models import AvailableTime, EventType
from autobook.errors import AutobookError
from autobook.requests import TRACKING_KEYS, BookingRequest

# Where the correlation token may go, in order of preference. salesforce_uuid is never used: a
# CRM reads it back as a record id.
CORRELATION_KEYS = ("utm_content", "utm_term", "utm_campaign", "utm_medium", "utm_source")
CORRELATION_PREFIX = "ab-"
KINDS_NEEDING_INPUT = frozenset({"physical", "outbound_call", "ask_invitee", "custom"})
KINDS_WITHOUT_VALUE = frozenset(
    {
        "inbound_call",
        "google_conference",
        "zoom_conference",
        "microsoft_teams_conference",
        "gotomeeting_conference",
        "webex_conference",
    }
)


class BookingRuleViolation(AutobookError):
    """The request cannot be booked on this event type."""

    def __init__(self, field_name: str, problem: str) -> None:
        self.field = field_name
        super().__init__(f"{field_name}: {problem}")


@dataclass(frozen=True)
class InviteeBody:
    """A ready body, the correlation token it carries, and why its choices were made."""

    body: dict[str, Any]
    correlation_token: str | None
    notes: list[str] = field(default_factory=list)


def new_correlation_token() -> str:
    return CORRELATION_PREFIX + secrets.token_hex(8)


def build_invitee_body(
    request: BookingRequest,
    event_type: EventType,
    slot: AvailableTime,
    *,
    correlation_token: str | None = None,
) -> InviteeBody:
    """The body for `POST /invitees`; raises BookingRuleViolation when a rule refuses it."""
    notes: list[str] = []
    token = correlation_token if correlation_token is not None else new_correlation_token()
    tracking, token_key = _tracking(request, token)
    if token_key is None:
        notes.append("every tracking key is taken: no correlation token sent")
    body: dict[str, Any] = {
        "event_type": event_type.uri,
        # Byte for byte what availability returned: Calendly compares it to the open slot.
        "start_time": slot.start_time_raw,
        "invitee": _invitee(request),
        "tracking": tracking,
    }
    location = _location(request, event_type, notes)
    if location is not None:
        body["location"] = location
    answers = _questions_and_answers(request, event_type)
    if answers:
        body["questions_and_answers"] = answers
    if request.event_guests:
        body["event_guests"] = list(request.event_guests)
    return InviteeBody(body, token if token_key else None, notes)


def _invitee(request: BookingRequest) -> dict[str, Any]:
    invitee = request.invitee
    result: dict[str, Any] = {"email": invitee.email, "timezone": invitee.timezone}
    if invitee.name:
        result["name"] = invitee.name
    if invitee.first_name:
        result["first_name"] = invitee.first_name
    if invitee.last_name:
        result["last_name"] = invitee.last_name
    if invitee.text_reminder_number:
        result["text_reminder_number"] = invitee.text_reminder_number
    return result


def _tracking(request: BookingRequest, token: str) -> tuple[dict[str, str | None], str | None]:
    given = dict(request.tracking or {})
    tracking: dict[str, str | None] = {key: given.get(key) for key in TRACKING_KEYS}
    for key in CORRELATION_KEYS:
        if not tracking[key]:
            tracking[key] = token
            return tracking, key
    return tracking, None


def _location(
    request: BookingRequest, event_type: EventType, notes: list[str]
) -> dict[str, Any] | None:
    configured = list(event_type.locations or [])
    if event_type.pooling_type == "round_robin":
        if request.location is not None:
            notes.append("location omitted: Calendly refuses one for round-robin event types")
        return None
    if not configured:
        if request.location is not None:
            raise BookingRuleViolation(
                "location.kind",
                f"event type {event_type.name!r} has no location configured; remove `location`",
            )
        return None
    kinds = [config.kind for config in configured]
    if request.location is not None:
        wanted = str(request.location.kind)
        if wanted not in kinds:
            raise BookingRuleViolation(
                "location.kind",
                f"'{wanted}' is not configured for event type {event_type.name!r}; "
                f"choose one of: {', '.join(kinds)}",
            )
        config = configured[kinds.index(wanted)]
        value = request.location.location or config.location
        if wanted in KINDS_NEEDING_INPUT and not value:
            raise BookingRuleViolation(
                "location.location", f"location kind '{wanted}' needs `location.location`"
            )
        return _location_body(wanted, value)
    for config in configured:
        if config.kind in KINDS_WITHOUT_VALUE or (
            config.kind in KINDS_NEEDING_INPUT and config.location
        ):
            notes.append(f"location kind {config.kind!r} chosen: the first that needs no input")
            return _location_body(config.kind, config.location)
    raise BookingRuleViolation(
        "location",
        f"every location of event type {event_type.name!r} needs input from the invitee; "
        f"add `location` with one of: {', '.join(kinds)} and its `location` value",
    )


def _location_body(kind: str, value: str | None) -> dict[str, Any]:
    if kind in KINDS_WITHOUT_VALUE or not value:
        return {"kind": kind}
    return {"kind": kind, "location": value}


def _normalized(text: str) -> str:
    return " ".join(text.split()).casefold()


def _questions_and_answers(request: BookingRequest, event_type: EventType) -> list[dict[str, Any]]:
    questions = [q for q in event_type.custom_questions if q.enabled]
    by_name = {_normalized(q.name): q for q in questions}
    answers: list[dict[str, Any]] = []
    answered: dict[str, int] = {}  # the type's question name -> index of its answer
    for index, given in enumerate(request.questions_and_answers or []):
        question = by_name.get(_normalized(given.question))
        if question is None:
            names = ", ".join(repr(q.name) for q in questions) or "none"
            raise BookingRuleViolation(
                f"questions_and_answers[{index}].question",
                f"event type {event_type.name!r} has no question {given.question!r}; "
                f"its questions are: {names}",
            )
        if question.name in answered:
            # Names differing only in case or spacing would send one question twice.
            raise BookingRuleViolation(
                f"questions_and_answers[{index}].question",
                f"answers {question.name!r} again (already answered at "
                f"questions_and_answers[{answered[question.name]}]): answer it once",
            )
        # Calendly matches names case-sensitively: send the type's own spelling and position.
        answers.append(
            {"question": question.name, "answer": given.answer, "position": question.position}
        )
        answered[question.name] = index
    for question in questions:
        if question.required and question.name not in answered:
            raise BookingRuleViolation(
                "questions_and_answers",
                f"event type {event_type.name!r} requires an answer to {question.name!r}",
            )
    return answers
