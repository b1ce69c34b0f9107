"""Records to Calendly JSON resources: User, EventType, Event, Invitee, Cancellation.

Every URI is built on the base URL the request came in on, exactly as Calendly builds
them on ``https://api.calendly.com``; links that Calendly puts on ``calendly.com``
(scheduling pages, cancel and reschedule links) stay there. Field lists follow the
2026 spec excerpt (EventType, Invitee, Event) and the 2023 OpenAPI (User, Location,
EventTypeAvailableTime); keys that only the older spec requires (``kind_description``)
are kept too. Timestamps carry microseconds and a trailing Z.
"""

from __future__ import annotations

import functools
import json
import uuid
from datetime import datetime
from html import escape
from typing import Any

from .availability import Offer
from .locations import LocationConfig
from .store import ACTIVE, EventType, Invitee, Organization, ScheduledEvent, Store, User
from .timefmt import format_timestamp, format_url_timestamp

SCHEDULING_HOST = "https://calendly.com"
MEMBERSHIP_USER_KEYS = (
    "uri",
    "name",
    "slug",
    "email",
    "scheduling_url",
    "timezone",
    "avatar_url",
    "created_at",
    "updated_at",
)

_KIND_DESCRIPTIONS = {"round_robin": "Round Robin", "collective": "Collective"}


def organization_uri(base: str, organization: Organization) -> str:
    return f"{base}/organizations/{organization.uuid}"


def user_uri(base: str, user_uuid: str) -> str:
    return f"{base}/users/{user_uuid}"


def event_type_uri(base: str, event_type: EventType) -> str:
    return f"{base}/event_types/{event_type.uuid}"


def event_uri(base: str, event_uuid: str) -> str:
    return f"{base}/scheduled_events/{event_uuid}"


def invitee_uri(base: str, invitee: Invitee) -> str:
    return f"{base}/scheduled_events/{invitee.event_uuid}/invitees/{invitee.uuid}"


def user(base: str, store: Store, record: User) -> dict[str, Any]:
    return {
        "uri": user_uri(base, record.uuid),
        "name": record.name,
        "slug": record.slug,
        "email": record.email,
        "scheduling_url": f"{SCHEDULING_HOST}/{record.slug}",
        "timezone": record.timezone,
        "time_notation": "12h",
        "avatar_url": None,
        "created_at": format_timestamp(record.created_at),
        "updated_at": format_timestamp(record.created_at),
        "current_organization": organization_uri(base, store.organization),
        "resource_type": "User",
        "locale": "en",
    }


def organization(base: str, record: Organization, owner_plan: str) -> dict[str, Any]:
    return {
        "uri": organization_uri(base, record),
        "name": record.name,
        "plan": owner_plan,
        "stage": "trial" if owner_plan == "trial" else "paid",
        "created_at": format_timestamp(record.created_at),
        "updated_at": format_timestamp(record.created_at),
    }


def membership(base: str, store: Store, record: User) -> dict[str, Any]:
    # Stable per member, like every sandbox URI: derived from the user's UUID.
    membership_uuid = uuid.uuid5(uuid.NAMESPACE_URL, f"organization_membership:{record.uuid}")
    member = user(base, store, record)
    return {
        "uri": f"{base}/organization_memberships/{membership_uuid}",
        "role": record.role,
        "user": {key: member[key] for key in MEMBERSHIP_USER_KEYS},
        "organization": organization_uri(base, store.organization),
        "created_at": format_timestamp(record.created_at),
        "updated_at": format_timestamp(record.created_at),
    }


def _location_config(config: LocationConfig) -> dict[str, Any]:
    rendered: dict[str, Any] = {"kind": config.kind}
    for key in ("location", "additional_info", "phone_number"):
        value = getattr(config, key)
        if value is not None:
            rendered[key] = value
    return rendered


def event_type(base: str, store: Store, record: EventType) -> dict[str, Any]:
    owner = store.users[record.host_uuids[0]]
    if record.team is None:
        profile = {"type": "User", "name": owner.name, "owner": user_uri(base, owner.uuid)}
    else:
        profile = {
            "type": "Team",
            "name": record.team,
            "owner": organization_uri(base, store.organization),
        }
    if record.kind == "group":
        kind_description = "Group"
    else:
        kind_description = _KIND_DESCRIPTIONS.get(record.pooling_type or "", "One-on-One")
    created = format_timestamp(record.created_at)
    return {
        "uri": event_type_uri(base, record),
        "name": record.name,
        "active": record.active,
        "booking_method": "instant",
        "slug": record.slug,
        "scheduling_url": f"{SCHEDULING_HOST}/{record.profile_slug}/{record.slug}",
        "duration": record.duration_minutes,
        "duration_options": None,
        "kind": record.kind,
        "pooling_type": record.pooling_type,
        "type": "StandardEventType",
        "color": record.color,
        "created_at": created,
        "updated_at": created,
        "deleted_at": None,
        "internal_note": record.internal_note,
        "description_plain": record.description,
        "description_html": None
        if record.description is None
        else f"<p>{escape(record.description)}</p>",
        "profile": profile,
        "secret": record.secret,
        "admin_managed": False,
        "custom_questions": [
            {
                "name": question.name,
                "type": question.type,
                "position": question.position,
                "enabled": question.enabled,
                "required": question.required,
                "answer_choices": list(question.answer_choices),
                "include_other": question.include_other,
            }
            for question in record.questions
        ],
        "locations": None
        if record.locations is None
        else [_location_config(loc) for loc in record.locations],
        "locale": "en",
        "position": record.position,
        "is_paid": False,
        "kind_description": kind_description,
        "start_time_increment": record.increment_minutes,
        "before_buffer": 0,
        "after_buffer": 0,
    }


def available_time(record: EventType, offer: Offer) -> dict[str, Any]:
    start_time, scheduling_url = _slot_texts(record.profile_slug, record.slug, offer.start)
    return {
        "status": "available",
        "invitees_remaining": offer.invitees_remaining,
        "start_time": start_time,
        "scheduling_url": scheduling_url,
    }


def available_times_json(record: EventType, offers: list[Offer]) -> bytes:
    """``{"collection": [...]}`` as JSON bytes, from per-slot fragments cached across polls."""
    parts = [
        _slot_json(record.profile_slug, record.slug, offer.start, offer.invitees_remaining)
        for offer in offers
    ]
    return ('{"collection":[' + ",".join(parts) + "]}").encode()


@functools.lru_cache(maxsize=65_536)
def _slot_texts(profile_slug: str, slug: str, start: datetime) -> tuple[str, str]:
    day = start.strftime("%Y-%m-%d")
    return format_timestamp(start), (
        f"{SCHEDULING_HOST}/{profile_slug}/{slug}/{format_url_timestamp(start)}"
        f"?month={day[:7]}&date={day}"
    )


@functools.lru_cache(maxsize=65_536)
def _slot_json(profile_slug: str, slug: str, start: datetime, remaining: int) -> str:
    """Formatting dominates an availability answer, and the same slots are polled again."""
    start_time, scheduling_url = _slot_texts(profile_slug, slug, start)
    item = {
        "status": "available",
        "invitees_remaining": remaining,
        "start_time": start_time,
        "scheduling_url": scheduling_url,
    }
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"))


def cancellation(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "created_at": format_timestamp(record["created_at"])}


def event(base: str, store: Store, record: ScheduledEvent) -> dict[str, Any]:
    event_type_record = store.event_types[record.event_type_uuid]
    invitees = store.event_invitees(record)
    start, end = format_timestamp(record.start), format_timestamp(record.end)
    guests: list[dict[str, Any]] = []
    for invitee in invitees:
        stamp = format_timestamp(invitee.created_at)
        guests.extend(
            {"email": email, "created_at": stamp, "updated_at": stamp}
            for email in invitee.event_guests
        )
    rendered: dict[str, Any] = {
        "uri": event_uri(base, record.uuid),
        "name": event_type_record.name,
        "meeting_notes_plain": None,
        "status": record.status,
        "start_time": start,
        "end_time": end,
        "event_type": event_type_uri(base, event_type_record),
        "location": record.location,
        "invitees_counter": {
            "total": len(invitees),
            "active": sum(1 for invitee in invitees if invitee.status == ACTIVE),
            "limit": event_type_record.capacity,
        },
        "created_at": format_timestamp(record.created_at),
        "updated_at": format_timestamp(record.updated_at),
        "event_memberships": [
            {
                "user": user_uri(base, host),
                "user_email": store.users[host].email,
                "user_name": store.users[host].name,
                "buffered_start_time": start,
                "buffered_end_time": end,
            }
            for host in record.host_uuids
        ],
        "event_guests": guests,
        "calendar_event": None,
    }
    if record.cancellation is not None:
        rendered["cancellation"] = cancellation(record.cancellation)
    return rendered


def invitee(base: str, record: Invitee) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "uri": invitee_uri(base, record),
        "email": record.email,
        "first_name": record.first_name,
        "last_name": record.last_name,
        "name": record.name,
        "status": record.status,
        "questions_and_answers": record.questions_and_answers,
        "timezone": record.timezone,
        "event": event_uri(base, record.event_uuid),
        "created_at": format_timestamp(record.created_at),
        "updated_at": format_timestamp(record.updated_at),
        "tracking": record.tracking,
        "text_reminder_number": record.text_reminder_number,
        "rescheduled": record.rescheduled,
        "old_invitee": _linked_invitee(base, record.old_invitee),
        "new_invitee": _linked_invitee(base, record.new_invitee),
        "cancel_url": f"{base}/cancellations/{record.uuid}",
        "reschedule_url": f"{base}/reschedulings/{record.uuid}",
        "routing_form_submission": None,
        "payment": None,
        "no_show": None,
        "reconfirmation": None,
        "scheduling_method": None if record.from_seed else "api",
        "invitee_scheduled_by": None
        if record.scheduled_by is None
        else user_uri(base, record.scheduled_by),
    }
    if record.cancellation is not None:
        rendered["cancellation"] = cancellation(record.cancellation)
    return rendered


def _linked_invitee(base: str, ref: tuple[str, str] | None) -> str | None:
    return None if ref is None else f"{base}/scheduled_events/{ref[0]}/invitees/{ref[1]}"


def ledger_entry(base: str, store: Store, record: Invitee) -> dict[str, Any]:
    scheduled = store.events[record.event_uuid]
    return {
        "uri": invitee_uri(base, record),
        "event": event_uri(base, scheduled.uuid),
        "event_type": event_type_uri(base, store.event_types[scheduled.event_type_uuid]),
        "start_time": format_timestamp(scheduled.start),
        "end_time": format_timestamp(scheduled.end),
        "status": record.status,
        "email": record.email,
        "name": record.name,
        "timezone": record.timezone,
        "event_guests": list(record.event_guests),
        "tracking": record.tracking,
        "questions_and_answers": record.questions_and_answers,
        "location": scheduled.location,
        "created_at": format_timestamp(record.created_at),
        "dropped": record.dropped,
        "hosts": [user_uri(base, host) for host in scheduled.host_uuids],
    }
