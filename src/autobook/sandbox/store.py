"""The sandbox's in-memory state: users, event types, scheduled events and invitees.

A :class:`Store` is built from a validated seed (by ``seeding.build_store``) and
changes only through :meth:`Store.book` and :meth:`Store.cancel`, which keep the
indexes in step with the records: every active event is in its hosts' busy index (by
UTC date) and, for group types, in the index of group events by (event type, start).
Records are never deleted: a canceled event keeps its invitees, so the ledger shows
every booking ever made. Callers serialize mutations (the app holds one asyncio lock
around check-and-book); the store itself does no locking and no I/O.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .locations import LocationChoice, LocationConfig, response_location

ACTIVE = "active"
CANCELED = "canceled"
TRACKING_KEYS = (
    "utm_campaign",
    "utm_source",
    "utm_medium",
    "utm_content",
    "utm_term",
    "salesforce_uuid",
)

WeeklyHours = dict[int, tuple[tuple[time, time | None], ...]]


@dataclass(frozen=True)
class User:
    uuid: str
    name: str
    slug: str
    email: str
    timezone: str
    zone: ZoneInfo
    plan: str
    weekly_hours: WeeklyHours = field(hash=False, compare=False)
    created_at: datetime
    role: str = "user"  # in the organization: owner, admin or user


@dataclass(frozen=True)
class Question:
    name: str
    type: str
    position: int
    enabled: bool
    required: bool
    answer_choices: tuple[str, ...]
    include_other: bool


@dataclass(frozen=True)
class EventType:
    uuid: str
    name: str
    slug: str
    duration_minutes: int
    kind: str
    capacity: int
    pooling_type: str | None
    host_uuids: tuple[str, ...]
    locations: tuple[LocationConfig, ...] | None
    questions: tuple[Question, ...]
    active: bool
    increment_minutes: int
    min_notice_minutes: int
    description: str | None
    internal_note: str | None
    color: str
    secret: bool
    position: int
    team: str | None
    profile_slug: str
    created_at: datetime

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)

    @property
    def increment(self) -> timedelta:
        return timedelta(minutes=self.increment_minutes)


@dataclass
class Invitee:
    uuid: str
    event_uuid: str
    email: str
    name: str
    first_name: str | None
    last_name: str | None
    timezone: str
    text_reminder_number: str | None
    questions_and_answers: list[dict[str, Any]]
    tracking: dict[str, str | None]
    event_guests: list[str]
    scheduled_by: str | None
    created_at: datetime
    updated_at: datetime
    status: str = ACTIVE
    cancellation: dict[str, Any] | None = None
    dropped: bool = False
    from_seed: bool = False
    # A reschedule cancels this invitee and books a new one: each names the other.
    # (event uuid, invitee uuid) of the other side of a reschedule.
    rescheduled: bool = False
    old_invitee: tuple[str, str] | None = None
    new_invitee: tuple[str, str] | None = None


@dataclass
class ScheduledEvent:
    uuid: str
    event_type_uuid: str
    start: datetime
    end: datetime
    host_uuids: tuple[str, ...]
    location: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    status: str = ACTIVE
    invitee_uuids: list[str] = field(default_factory=list)
    cancellation: dict[str, Any] | None = None


@dataclass(frozen=True)
class NewInvitee:
    """What a booking request says about its invitee, already validated."""

    email: str
    name: str
    first_name: str | None
    last_name: str | None
    timezone: str
    text_reminder_number: str | None = None
    questions_and_answers: list[dict[str, Any]] = field(default_factory=list)
    tracking: dict[str, str | None] = field(default_factory=lambda: dict.fromkeys(TRACKING_KEYS))
    event_guests: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Organization:
    uuid: str
    name: str
    created_at: datetime


class Store:
    """Records and indexes of one sandbox organization (see the module docstring)."""

    def __init__(
        self,
        organization: Organization,
        users: list[User],
        event_types: list[EventType],
        owner_email: str,
    ) -> None:
        self.organization = organization
        self.users = {user.uuid: user for user in users}
        self.users_by_email = {user.email: user for user in users}
        self.owner = self.users_by_email[owner_email]
        self.event_types = {event_type.uuid: event_type for event_type in event_types}
        self.events: dict[str, ScheduledEvent] = {}
        self.invitees: dict[str, Invitee] = {}
        self.ledger: list[str] = []
        self._busy: dict[str, dict[date, list[tuple[datetime, datetime, str]]]] = {}
        self._group_events: dict[tuple[str, datetime], str] = {}
        self._round_robin_turn: dict[str, int] = {}
        # Bumped whenever a host's calendar changes; availability caches key on it.
        self.host_versions: dict[str, int] = dict.fromkeys(self.users, 0)

    # -- queries -------------------------------------------------------------------

    def event_invitees(self, event: ScheduledEvent) -> list[Invitee]:
        return [self.invitees[invitee_uuid] for invitee_uuid in event.invitee_uuids]

    def active_invitee_count(self, event: ScheduledEvent) -> int:
        return sum(1 for invitee in self.event_invitees(event) if invitee.status == ACTIVE)

    def group_event_at(self, event_type: EventType, start: datetime) -> ScheduledEvent | None:
        event_uuid = self._group_events.get((event_type.uuid, start))
        return None if event_uuid is None else self.events[event_uuid]

    def host_is_busy(
        self, host_uuid: str, start: datetime, end: datetime, ignore: str | None = None
    ) -> bool:
        """Whether an active event of any type overlaps [start, end) for this host."""
        by_date = self._busy.get(host_uuid)
        if not by_date:
            return False
        for day in _utc_dates(start, end):
            for busy_start, busy_end, event_uuid in by_date.get(day, ()):
                if busy_start < end and start < busy_end and event_uuid != ignore:
                    return True
        return False

    def next_round_robin_hosts(
        self, event_type: EventType, free_hosts: tuple[str, ...]
    ) -> tuple[str, ...]:
        """The free host whose turn it is, rotating through the type's host list."""
        turn = self._round_robin_turn.get(event_type.uuid, 0)
        hosts = event_type.host_uuids
        for offset in range(len(hosts)):
            candidate = hosts[(turn + offset) % len(hosts)]
            if candidate in free_hosts:
                self._round_robin_turn[event_type.uuid] = (turn + offset + 1) % len(hosts)
                return (candidate,)
        raise ValueError("no free host to assign")

    # -- mutations -----------------------------------------------------------------

    def book(
        self,
        event_type: EventType,
        start: datetime,
        hosts: tuple[str, ...],
        new: NewInvitee,
        location: LocationChoice | None,
        now: datetime,
        scheduled_by: str | None,
        join_event: ScheduledEvent | None = None,
        from_seed: bool = False,
        event_uuid: str | None = None,
        invitee_uuid: str | None = None,
    ) -> tuple[ScheduledEvent, Invitee]:
        """Record one invitee on a new event, or on ``join_event`` (a group event)."""
        if join_event is None:
            new_uuid = event_uuid or str(uuid.uuid4())
            event = ScheduledEvent(
                uuid=new_uuid,
                event_type_uuid=event_type.uuid,
                start=start,
                end=start + event_type.duration,
                host_uuids=hosts,
                location=response_location(location, new_uuid),
                created_at=now,
                updated_at=now,
            )
            self._add_event(event, event_type)
        else:
            event = join_event
            event.updated_at = now
        invitee = Invitee(
            uuid=invitee_uuid or str(uuid.uuid4()),
            event_uuid=event.uuid,
            email=new.email,
            name=new.name,
            first_name=new.first_name,
            last_name=new.last_name,
            timezone=new.timezone,
            text_reminder_number=new.text_reminder_number,
            questions_and_answers=new.questions_and_answers,
            tracking=new.tracking,
            event_guests=new.event_guests,
            scheduled_by=scheduled_by,
            created_at=now,
            updated_at=now,
            from_seed=from_seed,
        )
        self.invitees[invitee.uuid] = invitee
        event.invitee_uuids.append(invitee.uuid)
        self._touch(event)
        if not from_seed:
            self.ledger.append(invitee.uuid)
        return event, invitee

    def cancel(self, event: ScheduledEvent, cancellation: dict[str, Any], now: datetime) -> None:
        """Cancel the whole event and all its active invitees; the slot opens again."""
        event.status = CANCELED
        event.cancellation = cancellation
        event.updated_at = now
        for invitee in self.event_invitees(event):
            if invitee.status == ACTIVE:
                invitee.status = CANCELED
                invitee.cancellation = cancellation
                invitee.updated_at = now
        self._remove_from_indexes(event)
        self._touch(event)

    def cancel_invitee(
        self, event: ScheduledEvent, invitee: Invitee, cancellation: dict[str, Any], now: datetime
    ) -> None:
        """One invitee cancels (their link): as Calendly does, a group event with other active
        invitees stays active, one seat freer; the last invitee's cancel cancels the event."""
        others = [
            i for i in self.event_invitees(event) if i.status == ACTIVE and i.uuid != invitee.uuid
        ]
        if not others:
            self.cancel(event, cancellation, now)
            return
        invitee.status = CANCELED
        invitee.cancellation = cancellation
        invitee.updated_at = now
        event.updated_at = now
        self._touch(event)

    # -- internals -----------------------------------------------------------------

    def _touch(self, event: ScheduledEvent) -> None:
        for host in event.host_uuids:
            self.host_versions[host] += 1

    def _add_event(self, event: ScheduledEvent, event_type: EventType) -> None:
        self.events[event.uuid] = event
        if event.status != ACTIVE:
            return
        for host in event.host_uuids:
            by_date = self._busy.setdefault(host, {})
            for day in _utc_dates(event.start, event.end):
                by_date.setdefault(day, []).append((event.start, event.end, event.uuid))
        if event_type.kind == "group":
            self._group_events[(event_type.uuid, event.start)] = event.uuid

    def _remove_from_indexes(self, event: ScheduledEvent) -> None:
        for host in event.host_uuids:
            by_date = self._busy.get(host, {})
            for day in _utc_dates(event.start, event.end):
                entries = by_date.get(day, [])
                entries[:] = [entry for entry in entries if entry[2] != event.uuid]
        key = (event.event_type_uuid, event.start)
        if self._group_events.get(key) == event.uuid:
            del self._group_events[key]


def _utc_dates(start: datetime, end: datetime) -> Iterator[date]:
    """Every UTC date that [start, end) touches."""
    day = start.date()
    last = (end - timedelta(microseconds=1)).date()
    while day <= last:
        yield day
        day += timedelta(days=1)
