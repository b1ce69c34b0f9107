"""Read endpoints: users, event types, available times, scheduled events and invitees.

Each handler checks its query parameters first (all problems in one 400), then scope
and permissions (403 with Calendly's messages), then looks the resource up (404).
The token belongs to the organization's owner, who sees every event type and event
of the organization; ``GET /scheduled_events?user=X`` for another member without
``organization`` is refused the way Calendly refuses it.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from starlette.responses import Response

from . import render
from .errors import (
    NOT_IN_ORGANIZATION_MESSAGE,
    SPECIFY_ORGANIZATION_MESSAGE,
    detail,
    invalid,
    not_found,
    permission_denied,
)
from .params import Query, paginate
from .state import Call, json_response
from .store import EventType, Invitee, ScheduledEvent

LEGACY_WINDOW_DAYS = 7
EVENT_TYPES_SCOPE_MESSAGE = "Either `organization` or `user` are required query params"
EVENTS_SCOPE_MESSAGE = "One of `organization`, `user` or `group` is required"


def _path_uuid(call: Call, name: str = "uuid") -> str:
    return str(call.request.path_params[name])


async def get_user(call: Call) -> Response:
    uuid = str(call.request.path_params.get("uuid", "me"))
    record = call.store.users[call.caller.user_uuid] if uuid == "me" else call.store.users.get(uuid)
    if record is None:
        raise not_found()
    return json_response({"resource": render.user(call.base, call.store, record)})


def _scope(
    call: Call, query: Query, scope_message: str, extra_scopes: tuple[str, ...] = ()
) -> str | None:
    """The user UUID a list is limited to (None: the whole organization), after the checks."""
    user_uuid = query.uri("user", "users")
    organization_uuid = query.uri("organization", "organizations")
    given = [name for name in ("organization", "user", *extra_scopes) if query.text(name)]
    if not given:
        query.problems.extend(
            detail(name, scope_message) for name in ("organization", "user", *extra_scopes)
        )
    query.raise_problems()
    if organization_uuid is not None and organization_uuid != call.store.organization.uuid:
        raise permission_denied()
    if organization_uuid is not None and not call.caller.is_admin:
        raise permission_denied()  # organization-wide lists are for owners and admins
    if user_uuid is not None and user_uuid not in call.store.users:
        raise permission_denied(NOT_IN_ORGANIZATION_MESSAGE)
    return user_uuid


async def list_event_types(call: Call) -> Response:
    params = call.params
    query = Query(params)
    active = query.boolean("active")
    admin_managed = query.boolean("admin_managed")
    query.text("user_availability_schedule")
    count = query.count()
    sort = query.sort(("name", "position", "created_at", "updated_at"), "name:asc")
    user_uuid = _scope(call, query, EVENT_TYPES_SCOPE_MESSAGE)

    def wanted(event_type: EventType) -> bool:
        if user_uuid is not None and user_uuid not in event_type.host_uuids:
            return False
        if active is not None and event_type.active != active:
            return False
        return admin_managed is not True

    found = sorted(
        (et for et in call.store.event_types.values() if wanted(et)), key=lambda et: et.uuid
    )
    for field, descending in reversed(sort):
        found.sort(key=partial(_event_type_sort_key, field=field), reverse=descending)
    page, pagination = paginate(found, call.base, "/event_types", params, count)
    collection = [render.event_type(call.base, call.store, et) for et in page]
    return json_response({"collection": collection, "pagination": pagination})


def _event_type_sort_key(event_type: EventType, *, field: str) -> tuple[str, int]:
    if field == "name":
        return (event_type.name.casefold(), 0)
    if field == "position":
        return ("", event_type.position)
    return (event_type.created_at.isoformat(), 0)


async def get_event_type(call: Call) -> Response:
    record = call.store.event_types.get(_path_uuid(call))
    if record is None:
        raise not_found()
    return json_response({"resource": render.event_type(call.base, call.store, record)})


def _window_message(days: int) -> str:
    if days == LEGACY_WINDOW_DAYS:
        return "Date range can be no greater than 1 week (7 days)"
    return f"Date must be in the future and no greater than {days} days from start_time."


async def list_available_times(call: Call) -> Response:
    query = Query(call.params)
    event_type_uuid = query.uri("event_type", "event_types", required=True)
    start = query.timestamp("start_time", required=True)
    end = query.timestamp("end_time", required=True)
    query.raise_problems()
    assert event_type_uuid is not None
    assert start is not None
    assert end is not None
    record = call.store.event_types.get(event_type_uuid)
    if record is None:
        raise not_found()
    if start <= call.now:
        # Observed live: a past start gets the bare body, naming no parameter.
        raise invalid()
    if end <= start:
        raise invalid([detail("end_time", "must be greater than start_time")])
    max_days = call.state.max_window_days
    if end - start > timedelta(days=max_days):
        raise invalid([detail("end_time", _window_message(max_days))])
    offers = call.state.availability.offers_between(record, start, end, call.now)
    return Response(render.available_times_json(record, offers), media_type="application/json")


async def list_events(call: Call) -> Response:
    params = call.params
    query = Query(params)
    email = query.text("invitee_email")
    status = query.choice("status", ("active", "canceled"))
    min_start = query.timestamp("min_start_time")
    max_start = query.timestamp("max_start_time")
    count = query.count()
    sort = query.sort(("start_time",), "start_time:asc")
    group = query.text("group")
    user_uuid = _scope(call, query, EVENTS_SCOPE_MESSAGE, extra_scopes=("group",))
    if group is not None:
        raise not_found()
    if (
        user_uuid is not None
        and user_uuid != call.caller.user_uuid
        and not query.text("organization")
    ):
        raise permission_denied(SPECIFY_ORGANIZATION_MESSAGE)
    wanted_email = email.casefold() if email else None

    def wanted(event: ScheduledEvent) -> bool:
        if user_uuid is not None and user_uuid not in event.host_uuids:
            return False
        if status is not None and event.status != status:
            return False
        if min_start is not None and event.start < min_start:
            return False
        if max_start is not None and event.start >= max_start:
            return False
        if wanted_email is not None:
            return any(i.email.casefold() == wanted_email for i in call.store.event_invitees(event))
        return True

    found = [event for event in call.store.events.values() if wanted(event)]
    found.sort(key=lambda event: (event.start, event.created_at, event.uuid), reverse=sort[0][1])
    page, pagination = paginate(found, call.base, "/scheduled_events", params, count)
    collection = [render.event(call.base, call.store, event) for event in page]
    return json_response({"collection": collection, "pagination": pagination})


def _event(call: Call) -> ScheduledEvent:
    record = call.store.events.get(_path_uuid(call))
    if record is None:
        raise not_found()
    return record


async def get_event(call: Call) -> Response:
    return json_response({"resource": render.event(call.base, call.store, _event(call))})


async def list_invitees(call: Call) -> Response:
    params = call.params
    query = Query(params)
    status = query.choice("status", ("active", "canceled"))
    email = query.text("email")
    count = query.count()
    sort = query.sort(("created_at",), "created_at:asc")
    query.raise_problems()
    event = _event(call)
    wanted_email = email.casefold() if email else None

    def wanted(invitee: Invitee) -> bool:
        if status is not None and invitee.status != status:
            return False
        return wanted_email is None or invitee.email.casefold() == wanted_email

    found = [invitee for invitee in call.store.event_invitees(event) if wanted(invitee)]
    found.sort(key=lambda invitee: (invitee.created_at, invitee.uuid), reverse=sort[0][1])
    path = f"/scheduled_events/{event.uuid}/invitees"
    page, pagination = paginate(found, call.base, path, params, count)
    collection = [render.invitee(call.base, invitee) for invitee in page]
    return json_response({"collection": collection, "pagination": pagination})


async def get_invitee(call: Call) -> Response:
    record = call.store.invitees.get(_path_uuid(call, "invitee_uuid"))
    if record is None or record.event_uuid != _path_uuid(call, "event_uuid"):
        raise not_found()
    return json_response({"resource": render.invitee(call.base, record)})
