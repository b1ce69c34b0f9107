"""Typed, read-only views of the Calendly resources the worker reads.

Each model mirrors a schema of Calendly's OpenAPI documents (`docs/calendly/openapi.yaml`, 2023,
and the 2026 excerpt), restricted to the fields autobook uses. Invariants:

- Unknown keys are ignored: Calendly adds fields without notice, and a new field must never break a
  booking.
- Fields the specs mark nullable (or that real responses omit) are optional here. Required are
  only `uri` (without it a resource cannot be referred to again) and the few non-null fields a
  booking cannot be recorded without: an invitee's `event`, a scheduled event's start and end.
  A response lacking one of those is unreadable, and the client classifies it so.
- Models are frozen; sequences are tuples.
- Timestamps are aware datetimes in UTC. `AvailableTime.start_time_raw` keeps Calendly's exact
  string, because `POST /invitees` must receive the start time byte-for-byte as it was offered.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


def _as_utc(value: datetime | None) -> datetime | None:
    """Calendly times are UTC; a naive value (never seen, but cheap to survive) is taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class CalendlyModel(BaseModel):
    """Base of every Calendly model: frozen, unknown keys ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class User(CalendlyModel):
    """`GET /users/{uuid}` and `/users/me`."""

    uri: str
    name: str | None = None
    email: str | None = None
    timezone: str | None = None
    current_organization: str | None = None
    slug: str | None = None
    scheduling_url: str | None = None


class Profile(CalendlyModel):
    """Who an event type belongs to: a `User` or a `Team` (nullable in the 2023 spec)."""

    type: str | None = None
    name: str | None = None
    owner: str | None = None


class EventTypeCustomQuestion(CalendlyModel):
    """A booking-form question; `name` is the exact text to echo in `questions_and_answers`."""

    name: str
    type: str | None = None
    position: int = 0
    enabled: bool = True
    required: bool = False
    answer_choices: tuple[str, ...] = ()
    include_other: bool = False

    @field_validator("answer_choices", mode="before")
    @classmethod
    def _null_choices_are_empty(cls, value: object) -> object:
        return () if value is None else value


class LocationConfiguration(CalendlyModel):
    """One location an event type offers (request side uses `kind`)."""

    kind: str
    location: str | None = None
    additional_info: str | None = None
    phone_number: str | None = None


class EventType(CalendlyModel):
    """`GET /event_types` items and `GET /event_types/{uuid}`."""

    uri: str
    name: str | None = None
    slug: str | None = None
    active: bool = True
    duration: int | None = None
    kind: str | None = None
    pooling_type: str | None = None
    type: str | None = None
    scheduling_url: str | None = None
    profile: Profile | None = None
    custom_questions: tuple[EventTypeCustomQuestion, ...] = ()
    locations: tuple[LocationConfiguration, ...] | None = None
    deleted_at: datetime | None = None
    secret: bool = False

    @field_validator("custom_questions", mode="before")
    @classmethod
    def _null_questions_are_empty(cls, value: object) -> object:
        return () if value is None else value

    @field_validator("deleted_at")
    @classmethod
    def _deleted_at_utc(cls, value: datetime | None) -> datetime | None:
        return _as_utc(value)


class AvailableTime(CalendlyModel):
    """One bookable start from `GET /event_type_available_times`."""

    start_time: datetime
    start_time_raw: str = Field(
        description="Calendly's start_time string, unchanged: send this back in POST /invitees."
    )
    status: str | None = None
    invitees_remaining: int | None = None
    scheduling_url: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _keep_raw_start_time(cls, data: Any) -> Any:
        if isinstance(data, dict) and "start_time_raw" not in data:
            raw = data.get("start_time")
            if isinstance(raw, str):
                return {**data, "start_time_raw": raw}
        return data

    @field_validator("start_time")
    @classmethod
    def _start_time_utc(cls, value: datetime) -> datetime:
        utc = _as_utc(value)
        assert utc is not None
        return utc


class QuestionAndAnswer(CalendlyModel):
    """An answer recorded on an invitee."""

    question: str
    answer: str | None = None
    position: int | None = None


class Invitee(CalendlyModel):
    """`POST /invitees` (201), `GET /scheduled_events/{uuid}/invitees[/{uuid}]`."""

    uri: str
    email: str | None = None
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    status: str | None = None
    event: str
    timezone: str | None = None
    tracking: dict[str, str | None] | None = None
    cancel_url: str | None = None
    reschedule_url: str | None = None
    questions_and_answers: tuple[QuestionAndAnswer, ...] = ()
    text_reminder_number: str | None = None
    scheduling_method: str | None = None
    created_at: datetime | None = None
    # A canceled invitee: why, and, for a reschedule, the invitee that replaced it.
    cancellation: Cancellation | None = None
    rescheduled: bool | None = None
    old_invitee: str | None = None
    new_invitee: str | None = None

    @field_validator("questions_and_answers", mode="before")
    @classmethod
    def _null_answers_are_empty(cls, value: object) -> object:
        return () if value is None else value

    @field_validator("created_at")
    @classmethod
    def _created_at_utc(cls, value: datetime | None) -> datetime | None:
        return _as_utc(value)


class InviteesCounter(CalendlyModel):
    """How many invitees a scheduled event has, and may have."""

    total: int | None = None
    active: int | None = None
    limit: int | None = None


class EventGuest(CalendlyModel):
    """A guest added by the invitee (`event_guests` on the scheduled event)."""

    email: str
    created_at: datetime | None = None
    updated_at: datetime | None = None


class EventMembership(CalendlyModel):
    """A host of the scheduled event."""

    user: str | None = None
    user_email: str | None = None
    user_name: str | None = None


class ScheduledEvent(CalendlyModel):
    """`GET /scheduled_events` items and `GET /scheduled_events/{uuid}`.

    `location` is the response form (`type`, maybe `location`, `join_url`, `status`, `data`), kept
    as Calendly sent it: its shape varies by kind and it is recorded, not interpreted.
    """

    uri: str
    name: str | None = None
    status: str | None = None
    start_time: datetime
    end_time: datetime
    event_type: str | None = None
    location: dict[str, Any] | None = None
    invitees_counter: InviteesCounter | None = None
    event_guests: tuple[EventGuest, ...] = ()
    event_memberships: tuple[EventMembership, ...] = ()

    @field_validator("event_guests", "event_memberships", mode="before")
    @classmethod
    def _null_lists_are_empty(cls, value: object) -> object:
        return () if value is None else value

    @field_validator("start_time", "end_time")
    @classmethod
    def _times_utc(cls, value: datetime) -> datetime:
        utc = _as_utc(value)
        assert utc is not None
        return utc


class Cancellation(CalendlyModel):
    """`POST /scheduled_events/{uuid}/cancellation` (201)."""

    canceled_by: str | None = None
    reason: str | None = None
    canceler_type: str | None = None
    created_at: datetime | None = None


class WebhookSubscription(CalendlyModel):
    """`/webhook_subscriptions` items: `state` is `active` or `disabled` (no re-enable)."""

    uri: str
    callback_url: str
    state: str | None = None
    events: tuple[str, ...] = ()
    scope: str | None = None
    organization: str | None = None
    retry_started_at: datetime | None = None
    created_at: datetime | None = None


class Pagination(CalendlyModel):
    """The `pagination` object of a collection; tokens are opaque."""

    count: int | None = None
    next_page: str | None = None
    previous_page: str | None = None
    next_page_token: str | None = None
    previous_page_token: str | None = None


ItemT = TypeVar("ItemT", bound=CalendlyModel)


class Page(CalendlyModel, Generic[ItemT]):
    """One page of a collection: `{"collection": [...], "pagination": {...}}`."""

    collection: tuple[ItemT, ...]
    pagination: Pagination = Pagination()
