"""Write endpoints: ``POST /invitees`` and ``POST /scheduled_events/{uuid}/cancellation``.

Invariant: deciding that a start is open and recording the booking happen under one
asyncio lock with no ``await`` in between, so concurrent requests for one slot give
exactly one booking (or exactly ``capacity`` for a group slot) and every other
request gets ``already_filled``. The clock is read inside the lock, after any injected
latency, so "in the future" means at commit time.
"""

from __future__ import annotations

from starlette.responses import Response

from . import notify, render
from .booking import BookingRequest, parse_booking
from .errors import (
    ALREADY_CANCELED_MESSAGE,
    EVENT_IN_PAST_MESSAGE,
    FREE_PLAN_MESSAGE,
    already_filled,
    detail,
    invalid,
    not_found,
    permission_denied,
)
from .state import Call, json_response
from .store import CANCELED, NewInvitee

THIEF_EMAIL = "slot-thief@sandbox.invalid"
THIEF_NAME = "Slot Thief"
MAX_REASON_LENGTH = 10_000


async def create_invitee(call: Call) -> Response:
    owner = call.store.owner
    plan = call.state.limiter.plans.get(owner.uuid)
    if plan is not None and not plan.allows_scheduling_api:
        raise permission_denied(FREE_PLAN_MESSAGE)
    request = parse_booking(await call.json_body(), call.store)
    async with call.state.lock:
        now = call.state.now()
        if call.rolls.steal_slot:
            _steal(call, request)
        offer = call.state.availability.offer_at(request.event_type, request.start, now)
        if offer is None:
            raise already_filled()
        hosts = offer.hosts
        if request.event_type.pooling_type == "round_robin":
            hosts = call.store.next_round_robin_hosts(request.event_type, offer.hosts)
        _, invitee = call.store.book(
            request.event_type,
            request.start,
            hosts,
            request.invitee,
            request.location,
            now,
            owner.uuid,
            join_event=offer.join_event,
        )
        call.created_invitees.append(invitee.uuid)
        notify.invitee_event(call.state, call.base, "invitee.created", invitee, now)
    return json_response({"resource": render.invitee(call.base, invitee)}, status=201)


def _steal(call: Call, request: BookingRequest) -> None:
    """Another invitee books the requested start until it is no longer offered."""
    event_type = request.event_type
    now = call.state.now()
    # Bounded: each round takes a seat or a host, and there are finitely many of both.
    for seat in range(event_type.capacity + len(event_type.host_uuids)):
        offer = call.state.availability.offer_at(event_type, request.start, now)
        if offer is None:
            return
        hosts = offer.hosts
        if event_type.pooling_type == "round_robin":
            hosts = call.store.next_round_robin_hosts(event_type, offer.hosts)
        thief = NewInvitee(
            email=THIEF_EMAIL if seat == 0 else THIEF_EMAIL.replace("@", f"+{seat}@"),
            name=THIEF_NAME,
            first_name=None,
            last_name=None,
            timezone="UTC",
        )
        call.store.book(
            event_type,
            request.start,
            hosts,
            thief,
            request.location,
            now,
            None,
            join_event=offer.join_event,
        )


async def cancel_event(call: Call) -> Response:
    body = await call.json_body(empty={})
    if not isinstance(body, dict):
        raise invalid()
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise invalid([detail("reason", "must be a string")])
    if reason is not None and len(reason) > MAX_REASON_LENGTH:
        raise invalid([detail("reason", f"size cannot be greater than {MAX_REASON_LENGTH}")])
    async with call.state.lock:
        now = call.state.now()
        event = call.store.events.get(str(call.request.path_params["uuid"]))
        if event is None:
            raise not_found()
        if event.status == CANCELED:
            raise permission_denied(ALREADY_CANCELED_MESSAGE)
        if event.start <= now:
            raise permission_denied(EVENT_IN_PAST_MESSAGE)
        cancellation = {
            "canceled_by": call.store.owner.name,
            "reason": reason,
            "canceler_type": "host",
            "created_at": now,
        }
        active = [i for i in call.store.event_invitees(event) if i.status != CANCELED]
        call.store.cancel(event, cancellation, now)
        for invitee in active:
            notify.invitee_event(call.state, call.base, "invitee.canceled", invitee, now)
    return json_response({"resource": render.cancellation(cancellation)}, status=201)
