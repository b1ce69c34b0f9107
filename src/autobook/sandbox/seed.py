"""The seed: the JSON document that describes one sandbox organization.

A seed holds an organization, its users (with IANA timezones, weekly working hours
and a plan tier), its event types and the bookings that already exist. It is parsed
into frozen pydantic models, and every problem is reported at once with its JSON path
(``users[1].timezone: unknown IANA timezone 'America/New York'``) through
:class:`SeedError`. Invariants after validation: emails and slugs are unique, every
host and every booking points at something that exists, group types have one host and
a capacity, and every UUID is stable: given in the seed, or derived with uuid5 from
the email, slug or name, so the same seed always yields the same URIs.
"""

from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime, time
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

SEED_NAMESPACE = UUID("6f0c1c1e-4a8b-5d0e-9c71-5a2d1b7e0a11")
DEFAULT_SEED_RESOURCE = "default_seed.json"
DEFAULT_CREATED_AT = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_EVENT_DURATION_MINUTES = 720

PlanTier = Literal["free", "trial", "standard", "enterprise", "unlimited"]
LocationKind = Literal[
    "ask_invitee",
    "custom",
    "google_conference",
    "gotomeeting_conference",
    "inbound_call",
    "microsoft_teams_conference",
    "outbound_call",
    "physical",
    "webex_conference",
    "zoom_conference",
]
QuestionType = Literal["string", "text", "phone_number", "single_select", "multi_select"]
Role = Literal["owner", "admin", "user"]
# The scopes Calendly grants personal access tokens since 2026-03 (API-NOTES §1), plus
# `organizations:read` for the organization and its memberships.
Scope = Literal[
    "users:read",
    "organizations:read",
    "event_types:read",
    "availability:read",
    "scheduled_events:read",
    "scheduled_events:write",
    "webhooks:read",
    "webhooks:write",
]

_HOURS_RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SeedError(ValueError):
    """The seed file is missing, is not JSON, or does not follow the seed schema."""


def stable_uuid(kind: str, key: str) -> UUID:
    """The UUID a seed object gets when the seed doesn't give one."""
    return uuid5(SEED_NAMESPACE, f"{kind}:{key}")


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA timezone {name!r}") from exc
    return name


def _check_email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"not an email address: {value!r}")
    return value.lower()


def _parse_hours_range(text: str) -> tuple[time, time | None]:
    """``"09:00-17:00"`` -> (09:00, 17:00); an end of ``24:00`` is returned as None."""
    match = _HOURS_RANGE.match(text)
    if not match:
        raise ValueError(f"working hours must look like '09:00-17:00', got {text!r}")
    start_h, start_m, end_h, end_m = (int(group) for group in match.groups())
    if start_h > 23 or start_m > 59 or end_m > 59 or end_h > 24 or (end_h == 24 and end_m):
        raise ValueError(f"not a valid time range: {text!r}")
    end = None if end_h == 24 else time(end_h, end_m)
    start = time(start_h, start_m)
    if end is not None and end <= start:
        raise ValueError(f"the range {text!r} ends before it starts")
    return start, end


Timezone = Annotated[str, AfterValidator(_check_timezone)]
Email = Annotated[str, AfterValidator(_check_email)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SeedOrganization(_Model):
    name: str = Field(min_length=1)
    uuid: UUID | None = None

    def resolved_uuid(self) -> UUID:
        return self.uuid or stable_uuid("organization", self.name)


class SeedUser(_Model):
    name: str = Field(min_length=1)
    email: Email
    timezone: Timezone
    plan: PlanTier = "standard"
    role: Role | None = Field(
        default=None, description="the first user is the owner, the others plain users"
    )
    slug: str | None = None
    uuid: UUID | None = None
    working_hours: dict[str, list[str]] = Field(
        default_factory=lambda: {day: ["09:00-17:00"] for day in WEEKDAYS[:5]}
    )

    @field_validator("slug")
    @classmethod
    def _slug_shape(cls, value: str | None) -> str | None:
        if value is not None and not _SLUG.match(value):
            raise ValueError("a slug is lower-case letters, digits and dashes")
        return value

    @field_validator("working_hours")
    @classmethod
    def _hours_shape(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, ranges in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
            parsed = sorted(_parse_hours_range(text) for text in ranges)
            for (_, end), (next_start, _) in itertools.pairwise(parsed):
                if end is None or end > next_start:
                    raise ValueError(f"working hours overlap on {day}")
        return value

    def resolved_uuid(self) -> UUID:
        return self.uuid or stable_uuid("user", self.email)

    def resolved_slug(self) -> str:
        return self.slug or re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-") or "user"

    def weekly_hours(self) -> dict[int, tuple[tuple[time, time | None], ...]]:
        """Weekday number (Monday = 0) -> sorted (start, end) ranges; end None = midnight."""
        return {
            WEEKDAYS.index(day): tuple(sorted(_parse_hours_range(text) for text in ranges))
            for day, ranges in self.working_hours.items()
        }


class SeedLocation(_Model):
    kind: LocationKind
    location: str | None = None
    additional_info: str | None = None
    phone_number: str | None = None


class SeedQuestion(_Model):
    name: str = Field(min_length=1)
    type: QuestionType = "string"
    required: bool = False
    enabled: bool = True
    answer_choices: list[str] = Field(default_factory=list)
    include_other: bool = False

    @model_validator(mode="after")
    def _choices_for_selects(self) -> SeedQuestion:
        is_select = self.type in ("single_select", "multi_select")
        if is_select and not self.answer_choices:
            raise ValueError("a select question needs answer_choices")
        if not is_select and self.answer_choices:
            raise ValueError("answer_choices only apply to single_select and multi_select")
        return self


class SeedEventType(_Model):
    name: str = Field(min_length=1)
    slug: str
    hosts: list[Email] = Field(min_length=1)
    duration: int = Field(ge=1, le=MAX_EVENT_DURATION_MINUTES)
    kind: Literal["solo", "group"] = "solo"
    capacity: int | None = Field(default=None, ge=1, le=1000)
    pooling_type: Literal["round_robin", "collective"] | None = None
    locations: list[SeedLocation] | None = None
    custom_questions: list[SeedQuestion] = Field(default_factory=list)
    active: bool = True
    start_time_increment: int | None = Field(default=None, ge=5, le=720)
    min_notice_minutes: int = Field(default=0, ge=0)
    description: str | None = None
    internal_note: str | None = None
    color: str = Field(default="#0069ff", pattern=r"^#[a-f\d]{6}$")
    secret: bool = False
    position: int | None = None
    team: str | None = None
    uuid: UUID | None = None

    @field_validator("slug")
    @classmethod
    def _slug_shape(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError("a slug is lower-case letters, digits and dashes")
        return value

    @model_validator(mode="after")
    def _kind_rules(self) -> SeedEventType:
        if len(set(self.hosts)) != len(self.hosts):
            raise ValueError("a host is listed twice")
        if self.kind == "group":
            if self.capacity is None:
                raise ValueError("a group event type needs a capacity")
            if len(self.hosts) != 1 or self.pooling_type is not None:
                raise ValueError("a group event type has exactly one host and no pooling_type")
        elif self.capacity is not None:
            raise ValueError("capacity only applies to group event types")
        if self.pooling_type is None and len(self.hosts) != 1:
            raise ValueError("several hosts need pooling_type 'round_robin' or 'collective'")
        return self

    def resolved_uuid(self) -> UUID:
        return self.uuid or stable_uuid("event_type", self.slug)

    def resolved_increment(self) -> int:
        """Minutes between offered starts: the seed's, else the duration capped at 60."""
        return self.start_time_increment or min(self.duration, 60)


class SeedInvitee(_Model):
    email: Email
    timezone: Timezone = "UTC"
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None

    @model_validator(mode="after")
    def _some_name(self) -> SeedInvitee:
        if not (self.name or self.first_name):
            raise ValueError("an invitee needs name or first_name")
        return self


class SeedBooking(_Model):
    event_type: str = Field(description="slug of the event type")
    start_time: AwareDatetime
    invitee: SeedInvitee
    host: Email | None = None
    event_guests: list[Email] = Field(default_factory=list, max_length=10)
    questions_and_answers: list[dict[str, Any]] = Field(default_factory=list)
    tracking: dict[str, str | None] | None = None
    location: dict[str, str] | None = None
    status: Literal["active", "canceled"] = "active"
    uuid: UUID | None = None

    def resolved_uuid(self, index: int) -> UUID:
        key = f"{index}:{self.event_type}:{self.start_time.isoformat()}:{self.invitee.email}"
        return self.uuid or stable_uuid("scheduled_event", key)


class SeedToken(_Model):
    """A further bearer token, as another member or with fewer scopes than the owner's.

    `scopes` None is a token issued before scopes existed: full access. The token given on the
    command line (`--token`) is always the owner's, with every scope, and the only one the
    admin API (`/_sandbox/`) takes.
    """

    token: str = Field(min_length=8, pattern=r"^[\x21-\x7e]+$")
    user: Email
    scopes: list[Scope] | None = None


class Seed(_Model):
    organization: SeedOrganization
    users: list[SeedUser] = Field(min_length=1)
    event_types: list[SeedEventType] = Field(default_factory=list)
    bookings: list[SeedBooking] = Field(default_factory=list)
    tokens: list[SeedToken] = Field(default_factory=list)
    created_at: AwareDatetime = DEFAULT_CREATED_AT

    @model_validator(mode="after")
    def _references(self) -> Seed:
        emails = [user.email for user in self.users]
        _require_unique("users", "email", emails)
        _require_unique("users", "uuid", [str(user.resolved_uuid()) for user in self.users])
        _require_unique("users", "slug", [user.resolved_slug() for user in self.users])
        slugs = [event_type.slug for event_type in self.event_types]
        _require_unique("event_types", "slug", slugs)
        _require_unique(
            "event_types",
            "uuid",
            [str(event_type.resolved_uuid()) for event_type in self.event_types],
        )
        for index, event_type in enumerate(self.event_types):
            for host in event_type.hosts:
                if host not in emails:
                    raise ValueError(f"event_types[{index}].hosts: no user has the email {host!r}")
        _require_unique("tokens", "token", [token.token for token in self.tokens])
        for index, token in enumerate(self.tokens):
            if token.user not in emails:
                raise ValueError(f"tokens[{index}].user: no user has the email {token.user!r}")
        for index, user in enumerate(self.users[1:], start=1):
            if user.role == "owner":
                raise ValueError(f"users[{index}].role: only the first user is the owner")
        if self.users[0].role not in (None, "owner"):
            raise ValueError("users[0].role: the first user is the organization's owner")
        by_slug = {event_type.slug: event_type for event_type in self.event_types}
        for index, booking in enumerate(self.bookings):
            target = by_slug.get(booking.event_type)
            if target is None:
                raise ValueError(
                    f"bookings[{index}].event_type: no event type has the slug {booking.event_type!r}"  # noqa: E501
                )
            if booking.host is not None and booking.host not in target.hosts:
                raise ValueError(
                    f"bookings[{index}].host: {booking.host!r} is not a host of {target.slug!r}"
                )
        return self

    def role_of(self, index: int) -> Role:
        """The role of `users[index]`: given, else owner for the first user, user for others."""
        given = self.users[index].role
        return given or ("owner" if index == 0 else "user")

    def owner(self) -> SeedUser:
        """The organization's owner: the first user. The sandbox token is theirs."""
        return self.users[0]


def _require_unique(collection: str, field: str, values: list[str]) -> None:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            raise ValueError(f"{collection}[{index}].{field}: {value!r} is used twice")
        seen.add(value)


def _describe(error: ValidationError, source: str) -> str:
    lines = [f"invalid sandbox seed {source}:"]
    for problem in error.errors():
        path = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in problem["loc"]
        )
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"  {path.lstrip('.') or '(top level)'}: {message}")
    return "\n".join(lines)


def parse_seed(document: object, source: str = "(inline)") -> Seed:
    """Validate a decoded JSON document as a seed, or raise SeedError listing every problem."""
    try:
        return Seed.model_validate(document)
    except ValidationError as exc:
        raise SeedError(_describe(exc, source)) from None


def load_seed(path: str | Path | None = None) -> Seed:
    """The seed at ``path``, or the default seed shipped with the package."""
    if path is None:
        text = resources.files(__package__).joinpath(DEFAULT_SEED_RESOURCE).read_text("utf-8")
        source = f"(built-in {DEFAULT_SEED_RESOURCE})"
    else:
        source = str(path)
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise SeedError(f"cannot read sandbox seed {source}: {exc.strerror}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SeedError(f"sandbox seed {source} is not JSON: {exc}") from None
    return parse_seed(document, source)
