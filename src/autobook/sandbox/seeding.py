"""Turning a validated seed into a :class:`Store`: users, event types, existing bookings.

Invariant: the same seed gives the same records with the same UUIDs (given in the seed or
derived with uuid5), so URIs are stable across restarts and resets. Seed bookings are
placed as they are, without availability checks: they are history, not requests, and
they stay out of the ledger.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .locations import LocationChoice, LocationConfig
from .seed import Seed, SeedBooking, SeedEventType, SeedUser, stable_uuid
from .store import (
    CANCELED,
    TRACKING_KEYS,
    EventType,
    NewInvitee,
    Organization,
    Question,
    Store,
    User,
)


def build_store(seed: Seed) -> Store:
    created = seed.created_at
    organization = Organization(
        str(seed.organization.resolved_uuid()), seed.organization.name, created
    )
    users = [
        _user_from_seed(seed_user, created, seed.role_of(index))
        for index, seed_user in enumerate(seed.users)
    ]
    users_by_email = {user.email: user for user in users}
    event_types = [
        _event_type_from_seed(seed_type, position, created, users_by_email, organization)
        for position, seed_type in enumerate(seed.event_types)
    ]
    store = Store(organization, users, event_types, seed.owner().email)
    for index, booking in enumerate(seed.bookings):
        _place_seed_booking(store, booking, index, created)
    return store


def _event_type_from_seed(
    seed_type: SeedEventType,
    position: int,
    created: datetime,
    users_by_email: dict[str, User],
    organization: Organization,
) -> EventType:
    owner = users_by_email[seed_type.hosts[0]]
    hosts = tuple(users_by_email[email].uuid for email in seed_type.hosts)
    pooled = seed_type.pooling_type is not None
    team = (seed_type.team or f"{organization.name} Team") if pooled else None
    return EventType(
        uuid=str(seed_type.resolved_uuid()),
        name=seed_type.name,
        slug=seed_type.slug,
        duration_minutes=seed_type.duration,
        kind=seed_type.kind,
        capacity=seed_type.capacity or 1,
        pooling_type=seed_type.pooling_type,
        host_uuids=hosts,
        locations=None
        if seed_type.locations is None
        else tuple(LocationConfig(**loc.model_dump()) for loc in seed_type.locations),
        questions=tuple(
            Question(
                name=question.name,
                type=question.type,
                position=index,
                enabled=question.enabled,
                required=question.required,
                answer_choices=tuple(question.answer_choices),
                include_other=question.include_other,
            )
            for index, question in enumerate(seed_type.custom_questions)
        ),
        active=seed_type.active,
        increment_minutes=seed_type.resolved_increment(),
        min_notice_minutes=seed_type.min_notice_minutes,
        description=seed_type.description,
        internal_note=seed_type.internal_note,
        color=seed_type.color,
        secret=seed_type.secret,
        position=position if seed_type.position is None else seed_type.position,
        team=team,
        profile_slug=_slugify(team) if team else owner.slug,
        created_at=created,
    )


def _place_seed_booking(store: Store, booking: SeedBooking, index: int, created: datetime) -> None:
    event_type = next(et for et in store.event_types.values() if et.slug == booking.event_type)
    start = booking.start_time.astimezone(created.tzinfo)
    join = store.group_event_at(event_type, start) if event_type.kind == "group" else None
    if booking.host is not None:
        hosts: tuple[str, ...] = (store.users_by_email[booking.host].uuid,)
    elif event_type.pooling_type == "round_robin":
        hosts = event_type.host_uuids[:1]
    else:
        hosts = event_type.host_uuids
    invitee = booking.invitee
    first = invitee.first_name
    name = invitee.name or " ".join(part for part in (first, invitee.last_name) if part)
    tracking = dict.fromkeys(TRACKING_KEYS) | dict(booking.tracking or {})
    new = NewInvitee(
        email=invitee.email,
        name=name,
        first_name=first,
        last_name=invitee.last_name if first else None,
        timezone=invitee.timezone,
        questions_and_answers=list(booking.questions_and_answers),
        tracking=tracking,
        event_guests=list(booking.event_guests),
    )
    location = _seed_location(event_type, booking.location)
    event, _ = store.book(
        event_type,
        start,
        hosts,
        new,
        location,
        created,
        None,
        join_event=join,
        from_seed=True,
        event_uuid=str(booking.resolved_uuid(index)),
        invitee_uuid=str(stable_uuid("invitee", str(booking.resolved_uuid(index)))),
    )
    if booking.status == CANCELED:
        store.cancel(event, _seed_cancellation(created), created)


def _user_from_seed(seed_user: SeedUser, created: datetime, role: str) -> User:
    return User(
        uuid=str(seed_user.resolved_uuid()),
        name=seed_user.name,
        slug=seed_user.resolved_slug(),
        email=seed_user.email,
        timezone=seed_user.timezone,
        zone=ZoneInfo(seed_user.timezone),
        plan=seed_user.plan,
        weekly_hours=seed_user.weekly_hours(),
        created_at=created,
        role=role,
    )


def _seed_location(event_type: EventType, given: dict[str, str] | None) -> LocationChoice | None:
    configured = event_type.locations or ()
    if given is None:
        return LocationChoice(configured[0]) if configured else None
    kind = given.get("kind", "custom")
    config = next((loc for loc in configured if loc.kind == kind), LocationConfig(kind))
    return LocationChoice(config, given.get("location"))


def _seed_cancellation(created: datetime) -> dict[str, Any]:
    return {"canceled_by": "Seed", "reason": None, "canceler_type": "host", "created_at": created}


def _slugify(text: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else " " for ch in text.lower()).split()) or "team"
