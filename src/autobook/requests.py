"""The booking request: its schema (DESIGN §2) and its validation.

`parse_request(raw)` is the only way in: it returns a `BookingRequest` or raises `InvalidRequest`
whose `problems` name each bad field by dotted path (`invitee.email`, `window.hours[1]`,
`event_guests[3]`) and say what to do in plain words. Single values are checked in
`request_checks`, pydantic's errors are reworded in `request_problems`, and text is split into
raw requests by `decode_request_text` (from `request_text`, re-exported here).
Invariants of a parsed request:

- The raw value is JSON, bounded in size, depth and string length, and its text is clean (no
  control characters, no lone surrogates): `request_limits` checks that before the schema.
- Unknown keys are refused at every level, so a typo (`event_guest`) cannot silently drop data.
- Emails are normalized, phone numbers are E.164, timezones are IANA names, instants are aware
  and in UTC, weekdays are `mon`..`sun`, hour ranges are `HH:MM-HH:MM` with start < end.
- Validation is pure and reads no clock: a `latest` in the past is not invalid, it simply finds
  no slot. Checks across fields (guest = invitee, typo'd email domains, `keep_trying_until` after
  `start_after`) run once every field is valid on its own.
- `request.model_dump(mode="json", exclude_none=True)` parses back to an equal request.

Weekdays may be written `wed`, `Wed` or `wednesday`; they are stored as `wed`.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    HttpUrl,
    StrictBool,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from autobook.callbacks.ssrf import check_callback_url
from autobook.errors import FieldProblem, InvalidRequest
from autobook.request_checks import (
    MAX_REQUEST_ID_CHARS,
    HourRange,
    check_email,
    check_event_type_uri,
    check_phone_number,
    check_request_id,
    check_timezone,
    email_typo_suggestion,
    non_blank,
    normalize_hour_range,
    normalize_weekday,
    parse_day,
    parse_hour_range,
    parse_instant,
)
from autobook.request_limits import MAX_PROBLEMS, raw_problems
from autobook.request_problems import problems_from_validation_error, subproblems
from autobook.request_text import decode_request_text

__all__ = [
    "LOCATION_KINDS_REQUIRING_INPUT",
    "MAX_EVENT_GUESTS",
    "MAX_REQUEST_ID_CHARS",
    "TRACKING_KEYS",
    "BookingRequest",
    "EventTypeRef",
    "EventTypeSelector",
    "HourRange",
    "Invitee",
    "LocationChoice",
    "LocationKind",
    "QuestionAnswer",
    "Tracking",
    "Weekday",
    "Window",
    "decode_request_text",
    "parse_hour_range",
    "parse_request",
    "request_id_of",
]

MAX_EVENT_GUESTS = 10  # Calendly: "Emails of invitee guests. Max 10."
MAX_NOTICE_MINUTES = 366 * 24 * 60
TRACKING_KEYS = (
    "utm_campaign",
    "utm_source",
    "utm_medium",
    "utm_content",
    "utm_term",
    "salesforce_uuid",
)


class LocationKind(StrEnum):
    """`location.kind` of POST /invitees (API-NOTES §5)."""

    PHYSICAL = "physical"
    OUTBOUND_CALL = "outbound_call"
    INBOUND_CALL = "inbound_call"
    ASK_INVITEE = "ask_invitee"
    CUSTOM = "custom"
    GOOGLE_CONFERENCE = "google_conference"
    ZOOM_CONFERENCE = "zoom_conference"
    MICROSOFT_TEAMS_CONFERENCE = "microsoft_teams_conference"
    GOTOMEETING_CONFERENCE = "gotomeeting_conference"
    WEBEX_CONFERENCE = "webex_conference"


# Kinds whose booking needs `location.location`; every other kind must not carry one.
LOCATION_KINDS_REQUIRING_INPUT = frozenset(
    {
        LocationKind.PHYSICAL,
        LocationKind.OUTBOUND_CALL,
        LocationKind.ASK_INVITEE,
        LocationKind.CUSTOM,
    }
)


_LOCATION_INPUT = {
    LocationKind.PHYSICAL: "the meeting's address",
    LocationKind.OUTBOUND_CALL: "the phone number the host will call, e.g. +14155550100",
    LocationKind.ASK_INVITEE: "the invitee's answer (where, or how to reach them)",
    LocationKind.CUSTOM: "the location text",
}


class Weekday(StrEnum):
    """A day of the week; `number` matches `date.weekday()` (Monday is 0)."""

    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def number(self) -> int:
        return list(Weekday).index(self)


def _event_type_shape(value: object) -> str | None:
    if isinstance(value, str):
        return "uri"
    if isinstance(value, dict | EventTypeSelector):
        return "selector"
    return None


NonBlank = Annotated[str, AfterValidator(non_blank)]
Email = Annotated[str, AfterValidator(check_email)]
TimezoneName = Annotated[str, AfterValidator(check_timezone)]
PhoneNumber = Annotated[str, AfterValidator(check_phone_number)]
Instant = Annotated[datetime, BeforeValidator(parse_instant)]
Day = Annotated[date, BeforeValidator(parse_day)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventTypeSelector(_Strict):
    """Find the event type by `name` or `slug`, optionally among one owner's types."""

    name: NonBlank | None = None
    slug: NonBlank | None = None
    owner: Email | None = None

    @model_validator(mode="after")
    def _one_key(self) -> Self:
        if (self.name is None) == (self.slug is None):
            which = "both name and slug" if self.name else "neither name nor slug"
            raise subproblems([("", f"has {which}: give exactly one of them")])
        return self


EventTypeRef = Annotated[
    Annotated[str, AfterValidator(check_event_type_uri), Tag("uri")]
    | Annotated[EventTypeSelector, Tag("selector")],
    Discriminator(
        _event_type_shape,
        custom_error_type="event_type_shape",
        custom_error_message=(
            "must be an event type URI string, or a selector object such as "
            '{"name": "30 Minute Demo"}'
        ),
    ),
]


class Invitee(_Strict):
    """Who is booked: a name (or first and last name), an email and an IANA timezone."""

    name: NonBlank | None = None
    first_name: NonBlank | None = None
    last_name: NonBlank | None = None
    email: Email
    timezone: TimezoneName
    text_reminder_number: PhoneNumber | None = None

    @model_validator(mode="after")
    def _has_a_name(self) -> Self:
        if self.name is None and self.first_name is None:
            raise subproblems([("name", "is required: give name, or first_name (and last_name)")])
        return self


class Window(_Strict):
    """When the meeting may be: days in `timezone` (default: the invitee's), weekdays, hours."""

    earliest: Day | None = None
    latest: Day | None = None
    timezone: TimezoneName | None = None
    days: list[Annotated[Weekday, BeforeValidator(normalize_weekday)]] | None = None
    hours: list[Annotated[str, AfterValidator(normalize_hour_range)]] | None = None
    min_notice_minutes: int | None = Field(default=None, strict=True, ge=0, le=MAX_NOTICE_MINUTES)

    @field_validator("days")
    @classmethod
    def _days_not_empty(cls, days: list[Weekday] | None) -> list[Weekday] | None:
        if days is not None and not days:
            raise ValueError("is empty, so no day could match: list days, or leave days out")
        return list(dict.fromkeys(days)) if days else days

    @field_validator("hours")
    @classmethod
    def _hours_not_empty(cls, hours: list[str] | None) -> list[str] | None:
        if hours is not None and not hours:
            raise ValueError("is empty, so no time could match: list ranges, or leave hours out")
        return hours

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.earliest and self.latest and self.earliest > self.latest:
            raise subproblems([("latest", f"is before earliest ({self.earliest.isoformat()})")])
        return self

    @property
    def weekday_numbers(self) -> frozenset[int] | None:
        """Allowed `date.weekday()` numbers, or None for every day."""
        return None if self.days is None else frozenset(day.number for day in self.days)

    @property
    def hour_ranges(self) -> list[HourRange] | None:
        """Allowed parts of the day, or None for any time."""
        return None if self.hours is None else [parse_hour_range(text) for text in self.hours]


class LocationChoice(_Strict):
    """Where the meeting happens; `location` is the address, phone number or text a kind needs."""

    kind: LocationKind
    location: NonBlank | None = None

    @model_validator(mode="after")
    def _location_fits_kind(self) -> Self:
        if self.kind in LOCATION_KINDS_REQUIRING_INPUT and self.location is None:
            what = _LOCATION_INPUT[self.kind]
            raise subproblems([("location", f"is required for kind {self.kind}: give {what}")])
        if self.kind not in LOCATION_KINDS_REQUIRING_INPUT and self.location is not None:
            raise subproblems([("location", f"must be left out for kind {self.kind}")])
        if self.kind == LocationKind.OUTBOUND_CALL and self.location is not None:
            try:
                return self.model_copy(update={"location": check_phone_number(self.location)})
            except ValueError as exc:
                raise subproblems([("location", str(exc))]) from None
        return self


class QuestionAnswer(_Strict):
    """An answer to one of the event type's questions; `question` must match its name exactly."""

    question: NonBlank
    answer: NonBlank
    position: int = Field(strict=True, ge=0)


class Tracking(_Strict):
    """Calendly's six tracking keys; the booking always sends all six (nulls allowed)."""

    utm_campaign: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_content: str | None = None
    utm_term: str | None = None
    salesforce_uuid: str | None = None


class BookingRequest(_Strict):
    """One booking request, exactly the JSON of DESIGN §2."""

    request_id: Annotated[str, AfterValidator(check_request_id)]
    event_type: EventTypeRef
    invitee: Invitee
    window: Window | None = None
    prefer: Literal["earliest", "latest"] = "earliest"
    keep_trying_until: Instant | None = None
    start_after: Instant | None = None
    location: LocationChoice | None = None
    event_guests: Annotated[list[Email], Field(max_length=MAX_EVENT_GUESTS)] = Field(
        default_factory=list
    )
    questions_and_answers: list[QuestionAnswer] = Field(default_factory=list)
    tracking: Tracking | None = None
    # Checked against SSRF here and again at each delivery (autobook.callbacks.ssrf).
    callback_url: Annotated[HttpUrl, AfterValidator(check_callback_url)] | None = None
    allow_unusual_email: StrictBool = False
    # Booking a proposed time (DESIGN §8): intake fills `start_time` (and the event type and
    # window) from the proposal, so the worker books exactly that slot with no search.
    proposal_id: NonBlank | None = None
    choice: int | None = Field(default=None, strict=True, ge=1, le=10)
    start_time: Instant | None = None
    if_taken: Literal["propose", "nearest", "fail"] | None = None

    @field_validator("event_guests", "questions_and_answers", mode="before")
    @classmethod
    def _null_is_empty(cls, value: object) -> object:
        return [] if value is None else value

    @field_validator("event_guests")
    @classmethod
    def _distinct_guests(cls, guests: list[str]) -> list[str]:
        seen: set[str] = set()
        repeated = []
        for index, guest in enumerate(guests):
            if guest.casefold() in seen:
                repeated.append((f"[{index}]", "is listed twice: list each guest once"))
            seen.add(guest.casefold())
        if repeated:
            raise subproblems(repeated)
        return guests

    @field_validator("questions_and_answers")
    @classmethod
    def _distinct_questions(cls, answers: list[QuestionAnswer]) -> list[QuestionAnswer]:
        problems = []
        questions: set[str] = set()
        positions: set[int] = set()
        for index, item in enumerate(answers):
            if item.question in questions:
                problems.append((f"[{index}].question", "is answered twice: answer it once"))
            if item.position in positions:
                problems.append((f"[{index}].position", "is used twice: give each its own"))
            questions.add(item.question)
            positions.add(item.position)
        if problems:
            raise subproblems(problems)
        return answers

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = []
        later, earlier = self.keep_trying_until, self.start_after
        if later is not None and earlier is not None and later <= earlier:
            problems.append(("keep_trying_until", "must be after start_after"))
        invitee_email = self.invitee.email.casefold()
        for index, guest in enumerate(self.event_guests):
            if guest.casefold() == invitee_email:
                problems.append((f"event_guests[{index}]", "is the invitee: remove it"))
        if not self.allow_unusual_email:
            emails = [("invitee.email", self.invitee.email)]
            emails += [(f"event_guests[{i}]", guest) for i, guest in enumerate(self.event_guests)]
            for path, email in emails:
                suggestion = email_typo_suggestion(email)
                if suggestion:
                    problems.append(
                        (
                            path,
                            f"looks mistyped: did you mean {suggestion}? If the address is "
                            'right, send "allow_unusual_email": true',
                        )
                    )
        if problems:
            raise subproblems(problems)
        return self

    @property
    def constraint_timezone(self) -> str:
        """The timezone of `window` dates, days and hours: its own, else the invitee's."""
        if self.window is not None and self.window.timezone is not None:
            return self.window.timezone
        return self.invitee.timezone


def request_id_of(raw: object) -> str | None:
    """The request's id if `raw` carries a usable one (even if the rest is invalid), else None."""
    if not isinstance(raw, dict):
        return None
    value = raw.get("request_id")
    if not isinstance(value, str):
        return None
    try:
        return check_request_id(value)
    except ValueError:
        return None


_MODELS_BY_PATH: dict[str, type[BaseModel]] = {
    "": BookingRequest,
    "event_type": EventTypeSelector,
    "invitee": Invitee,
    "window": Window,
    "location": LocationChoice,
    "questions_and_answers": QuestionAnswer,
    "tracking": Tracking,
}
_TAGGED_UNIONS = {"event_type": ("uri", "selector")}
_MISSING_HINTS = {
    "request_id": "is required: give the source's unique id for this request",
    "event_type": 'is required: give an event type URI or a selector such as {"slug": "demo"}',
    "invitee": "is required: give the invitee's name, email and timezone",
    "invitee.email": "is required: give the invitee's email address",
    "invitee.timezone": "is required: give an IANA timezone such as America/New_York",
    "location.kind": "is required: give one of " + ", ".join(LocationKind),
}


def _fields_at(path: str) -> Collection[str]:
    model = _MODELS_BY_PATH.get(path)
    return model.model_fields.keys() if model else ()


def parse_request(raw: object) -> BookingRequest:
    """Validate one raw request (parsed JSON); raise InvalidRequest naming every bad field."""
    request_id = request_id_of(raw)
    hygiene = raw_problems(raw)
    if hygiene:  # not JSON, too large or unclean text: the schema would choke on it
        raise InvalidRequest(hygiene, request_id=request_id)
    if not isinstance(raw, dict):
        shape = _json_type_name(raw)
        problem = (
            f"is {shape}, not a JSON object: send an object with request_id, event_type, invitee"
        )
        raise InvalidRequest([FieldProblem("request", problem)], request_id=request_id)
    try:
        return BookingRequest.model_validate(raw)
    except ValidationError as exc:
        problems = problems_from_validation_error(
            exc,
            fields_at=_fields_at,
            tagged_unions=_TAGGED_UNIONS,
            missing_hints=_MISSING_HINTS,
        )
        if len(problems) > MAX_PROBLEMS:  # a reason quotes input: keep it bounded
            more = len(problems) - MAX_PROBLEMS
            problems = [*problems[:MAX_PROBLEMS], FieldProblem("request", f"and {more} more")]
        # Not chained: pydantic's text repeats the input (emails, phone numbers) verbatim.
        raise InvalidRequest(problems, request_id=request_id) from None


def _json_type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"
