"""``POST /invitees`` request validation: every rule of API-NOTES §2.5, §3 and §5.

:func:`parse_booking` turns a decoded JSON body into a :class:`BookingRequest` or
raises :class:`ApiError` with Calendly's body. It runs in two passes, like Calendly's
validators: first the shape of the body (required fields, types, tracking's six keys,
at most 10 guests), reported all at once; then the rules that need the event type
(404 for an unknown type, location rules, exact and required question names). Whether
the start time is open is not decided here: that needs the lock (see ``api_write``).
Invariant: a returned request is complete; the caller never re-checks its fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from .errors import Detail, detail, invalid, invalid_location_choice, not_found
from .locations import ALL_KINDS, KINDS_NEEDING_TEXT, LocationChoice
from .params import uuid_from_uri
from .store import TRACKING_KEYS, EventType, NewInvitee, Question, Store
from .timefmt import parse_timestamp

MAX_EVENT_GUESTS = 10
MAX_TEXT_LENGTH = 10_000
REQUIRED_ANSWERS_MESSAGE = "Required Questions and Answers cannot be blank."
NAME_REQUIRED_MESSAGE = "invitee either name or first_name must be filled"
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[A-Za-z]{2,}$")


@dataclass(frozen=True)
class BookingRequest:
    event_type: EventType
    start: datetime
    invitee: NewInvitee
    location: LocationChoice | None


def is_valid_phone(text: str) -> bool:
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(number))


def is_valid_email(text: str) -> bool:
    return len(text) <= 254 and bool(_EMAIL.match(text))


class _Shape:
    """First pass: field presence and types, collecting every problem."""

    def __init__(self) -> None:
        self.problems: list[Detail] = []

    def string(self, container: dict[str, Any], key: str, path: str, required: bool) -> str | None:
        if key not in container or container[key] is None:
            if required:
                self.problems.append(detail(path, "is missing"))
            return None
        value = container[key]
        if not isinstance(value, str):
            self.problems.append(detail(path, "must be a string"))
            return None
        if len(value) > MAX_TEXT_LENGTH:
            self.problems.append(detail(path, f"size cannot be greater than {MAX_TEXT_LENGTH}"))
            return None
        return value

    def mapping(self, container: dict[str, Any], key: str, required: bool) -> dict[str, Any] | None:
        if key not in container or container[key] is None:
            if required:
                self.problems.append(detail(key, "is missing"))
            return None
        value = container[key]
        if not isinstance(value, dict):
            self.problems.append(detail(key, "must be a hash"))
            return None
        return value

    def array(self, container: dict[str, Any], key: str) -> list[Any]:
        value = container.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problems.append(detail(key, "must be an array"))
            return []
        return value


def parse_booking(body: object, store: Store) -> BookingRequest:
    if not isinstance(body, dict):
        raise invalid()
    shape = _Shape()
    event_type_text = shape.string(body, "event_type", "event_type", required=True)
    event_type_uuid = None
    if event_type_text is not None:
        event_type_uuid = uuid_from_uri(event_type_text, "event_types")
        if event_type_uuid is None:
            shape.problems.append(detail("event_type", "must be a valid URI"))
    start_text = shape.string(body, "start_time", "start_time", required=True)
    start = parse_timestamp(start_text) if start_text is not None else None
    if start_text is not None and start is None:
        shape.problems.append(detail("start_time", "must be a date time"))
    invitee = _invitee(shape, shape.mapping(body, "invitee", required=True))
    location = shape.mapping(body, "location", required=False)
    location_kind = location_text = None
    if location is not None:
        location_kind = shape.string(location, "kind", "location.kind", required=True)
        location_text = shape.string(location, "location", "location.location", required=False)
    answers = _answers(shape, shape.array(body, "questions_and_answers"))
    tracking = _tracking(shape, shape.mapping(body, "tracking", required=False))
    guests = _guests(shape, shape.array(body, "event_guests"))
    if shape.problems:
        raise invalid(shape.problems)
    assert event_type_uuid is not None
    assert start is not None
    assert invitee is not None

    event_type = store.event_types.get(event_type_uuid)
    if event_type is None or not event_type.active:
        raise not_found()
    choice = _location_choice(event_type, location is not None, location_kind, location_text)
    _check_answers(event_type, answers)
    return BookingRequest(
        event_type=event_type,
        start=start,
        invitee=NewInvitee(
            email=invitee["email"],
            name=invitee["name"],
            first_name=invitee["first_name"],
            last_name=invitee["last_name"],
            timezone=invitee["timezone"],
            text_reminder_number=invitee["text_reminder_number"],
            questions_and_answers=sorted(answers, key=lambda qa: qa["position"]),
            tracking=tracking,
            event_guests=guests,
        ),
        location=choice,
    )


def _invitee(shape: _Shape, given: dict[str, Any] | None) -> dict[str, Any] | None:
    if given is None:
        return None
    email = shape.string(given, "email", "invitee.email", required=True)
    if email is not None and not is_valid_email(email):
        shape.problems.append(detail("invitee.email", "is in invalid format"))
    timezone = shape.string(given, "timezone", "invitee.timezone", required=True)
    if timezone is not None and not _is_timezone(timezone):
        shape.problems.append(detail("invitee.timezone", "is not a valid timezone"))
    name = shape.string(given, "name", "invitee.name", required=False)
    first = shape.string(given, "first_name", "invitee.first_name", required=False)
    last = shape.string(given, "last_name", "invitee.last_name", required=False)
    if not (name or "").strip() and not (first or "").strip():
        shape.problems.append(detail("invitee", NAME_REQUIRED_MESSAGE))
    phone_path = "invitee.text_reminder_number"
    phone = shape.string(given, "text_reminder_number", phone_path, required=False)
    if phone is not None and phone != "" and not is_valid_phone(phone):
        shape.problems.append(detail(phone_path, "is not a valid phone number"))
    full_name = name.strip() if name and name.strip() else " ".join(p for p in (first, last) if p)
    return {
        "email": email,
        "timezone": timezone,
        "name": full_name,
        "first_name": first if first else None,
        "last_name": (last or None) if first else None,
        "text_reminder_number": phone or None,
    }


def _answers(shape: _Shape, items: list[Any]) -> list[dict[str, Any]]:
    answers = []
    for index, item in enumerate(items):
        path = f"questions_and_answers[{index}]"
        if not isinstance(item, dict):
            shape.problems.append(detail(path, "must be a hash"))
            continue
        question = shape.string(item, "question", f"{path}.question", required=True)
        answer = shape.string(item, "answer", f"{path}.answer", required=True)
        position = item.get("position")
        if position is None:
            shape.problems.append(detail(f"{path}.position", "is missing"))
        elif not isinstance(position, int) or isinstance(position, bool):
            shape.problems.append(detail(f"{path}.position", "must be an integer"))
        if question is not None and answer is not None and isinstance(position, int):
            answers.append({"question": question, "answer": answer, "position": position})
    return answers


def _tracking(shape: _Shape, given: dict[str, Any] | None) -> dict[str, str | None]:
    tracking: dict[str, str | None] = dict.fromkeys(TRACKING_KEYS)
    if given is None:
        return tracking
    for key in TRACKING_KEYS:
        if key not in given:
            shape.problems.append(detail(f"tracking.{key}", "is missing"))
            continue
        value = given[key]
        if value is not None and not isinstance(value, str):
            shape.problems.append(detail(f"tracking.{key}", "must be a string"))
            continue
        tracking[key] = value
    return tracking


def _guests(shape: _Shape, items: list[Any]) -> list[str]:
    if len(items) > MAX_EVENT_GUESTS:
        shape.problems.append(
            detail("event_guests", f"size cannot be greater than {MAX_EVENT_GUESTS}")
        )
        return []
    guests = []
    for index, item in enumerate(items):
        if not isinstance(item, str):
            shape.problems.append(detail(f"event_guests[{index}]", "must be a string"))
        elif not is_valid_email(item):
            shape.problems.append(detail(f"event_guests[{index}]", "is in invalid format"))
        else:
            guests.append(item)
    return guests


def _is_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _location_choice(
    event_type: EventType, given: bool, kind: str | None, text: str | None
) -> LocationChoice | None:
    configured = event_type.locations or ()
    if event_type.pooling_type == "round_robin":
        # "Do not pass the location object for an EventType with a round_robin pooling_type."
        if given:
            raise invalid_location_choice()
        return LocationChoice(configured[0]) if configured else None
    if not given:
        if not configured:
            return None
        for default in configured:
            if default.kind not in KINDS_NEEDING_TEXT:
                return LocationChoice(default)
        raise invalid([detail("location", "is missing")])
    config = next((loc for loc in configured if loc.kind == kind), None)
    if kind not in ALL_KINDS or config is None:
        raise invalid_location_choice()
    if config.kind in KINDS_NEEDING_TEXT and not (text or "").strip():
        raise invalid([detail("location.location", "is missing")])
    return LocationChoice(config, text if config.kind in KINDS_NEEDING_TEXT else None)


def _check_answers(event_type: EventType, answers: list[dict[str, Any]]) -> None:
    questions = {question.name: question for question in event_type.questions if question.enabled}
    problems: list[Detail] = []
    answered: dict[str, str] = {}
    for index, answer in enumerate(answers):
        question = questions.get(answer["question"])
        if question is None:
            path = f"questions_and_answers[{index}].question"
            problems.append(detail(path, "does not match any question of this event type"))
            continue
        answered[question.name] = answer["answer"]
        problem = _answer_problem(question, answer["answer"])
        if problem is not None:
            problems.append(detail("questions_and_answers", problem))
    if any(q.required and not answered.get(q.name, "").strip() for q in questions.values()):
        problems.append(detail("questions_and_answers", REQUIRED_ANSWERS_MESSAGE))
    if problems:
        raise invalid(problems)


def _answer_problem(question: Question, answer: str) -> str | None:
    if not answer.strip():
        return None
    if question.type == "phone_number" and not is_valid_phone(answer):
        return f"{question.name} is not a valid phone number"
    if question.type in ("single_select", "multi_select") and not question.include_other:
        picked = answer.split("\n") if question.type == "multi_select" else [answer]
        if any(choice not in question.answer_choices for choice in picked):
            return f"{question.name} is not a valid answer choice"
    return None
