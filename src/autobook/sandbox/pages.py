"""The pages behind an invitee's `cancel_url` and `reschedule_url`, as a person sees them.

Calendly's links are `https://calendly.com/cancellations/{invitee}` and
`.../reschedulings/{invitee}`; the sandbox's links are the same paths on its own host, and it
serves them, with no token, as Calendly's pages need none: a person can click through from a
booking's links (the demo's, a callback's) to a cancellation or a reschedule in a browser:
- `GET /cancellations/{uuid}`: a page with a form; `POST` (an optional `reason` field) cancels
  the meeting as the invitee would, and sends `invitee.canceled`.
- `GET /reschedulings/{uuid}`: the next open slots, one button each; `POST` (a `start_time`
  field, or none for the first open slot) is Calendly's reschedule: the old invitee is canceled
  with `rescheduled: true` and `new_invitee`, a new invitee is booked at the new time with
  `old_invitee`, and `invitee.canceled` then `invitee.created` are sent.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from urllib.parse import parse_qs

from starlette.responses import HTMLResponse, Response

from . import notify
from .availability import Offer
from .state import Call
from .store import ACTIVE, CANCELED, Invitee, NewInvitee

PAGE = re.compile(r"^/(cancellations|reschedulings)/([0-9a-f-]{36})$")
SHOWN_SLOTS = 8
SEARCH_DAYS = 14


def matches(path: str) -> bool:
    return PAGE.match(path) is not None


def _page(title: str, body: str, status: int = 200) -> Response:
    text = f"<!doctype html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>"
    return HTMLResponse(text + body, status_code=status)


async def _form(call: Call) -> dict[str, str]:
    raw = (await call.request.body()).decode("utf-8", "replace")
    return {key: values[0] for key, values in parse_qs(raw).items() if values}


def _open_slots(call: Call, invitee: Invitee, now: datetime) -> list[Offer]:
    event = call.store.events[invitee.event_uuid]
    event_type = call.store.event_types[event.event_type_uuid]
    offers = call.state.availability.offers_between(
        event_type, now, now + timedelta(days=SEARCH_DAYS), now
    )
    return [offer for offer in offers if offer.start != event.start]


async def handle(call: Call) -> Response:
    found = PAGE.match(call.request.url.path)
    assert found is not None
    kind, invitee_uuid = found.groups()
    invitee = call.store.invitees.get(invitee_uuid)
    if invitee is None:
        return _page("No such booking", "", 404)
    if invitee.status != ACTIVE:
        return _page("This meeting is canceled already", "", 410)
    if call.request.method == "GET":
        return _show(call, kind, invitee)
    if call.request.method != "POST":
        return _page("Method not allowed", "", 405)
    form = await _form(call)
    if kind == "cancellations":
        return await _cancel(call, invitee, form.get("reason"))
    return await _reschedule(call, invitee, form.get("start_time"))


def _show(call: Call, kind: str, invitee: Invitee) -> Response:
    event = call.store.events[invitee.event_uuid]
    when = html.escape(event.start.isoformat())
    if kind == "cancellations":
        form = (
            '<form method="post"><label>Reason <input name="reason"></label>'
            '<button type="submit">Cancel the meeting</button></form>'
        )
        return _page("Cancel your meeting", f"<p>{when}</p>{form}")
    buttons = "".join(
        f'<form method="post"><input type="hidden" name="start_time" '
        f'value="{html.escape(o.start.isoformat())}"><button type="submit">'
        f"{html.escape(o.start.isoformat())}</button></form>"
        for o in _open_slots(call, invitee, call.state.now())[:SHOWN_SLOTS]
    )
    return _page("Reschedule your meeting", f"<p>Now: {when}</p>{buttons}")


async def _cancel(call: Call, invitee: Invitee, reason: str | None) -> Response:
    async with call.state.lock:
        now = call.state.now()
        event = call.store.events[invitee.event_uuid]
        if invitee.status != ACTIVE or event.start <= now:
            return _page("This meeting can't be canceled", "", 409)
        cancellation = {
            "canceled_by": invitee.name,
            "reason": reason,
            "canceler_type": "invitee",
            "created_at": now,
        }
        call.store.cancel_invitee(event, invitee, cancellation, now)
        notify.invitee_event(call.state, call.base, "invitee.canceled", invitee, now)
    return _page("Your meeting is canceled", "")


async def _reschedule(call: Call, invitee: Invitee, start_text: str | None) -> Response:
    async with call.state.lock:
        now = call.state.now()
        old_event = call.store.events[invitee.event_uuid]
        event_type = call.store.event_types[old_event.event_type_uuid]
        offers = _open_slots(call, invitee, now)
        if start_text:
            try:
                wanted = datetime.fromisoformat(start_text)
            except ValueError:
                return _page("That is not a time", "", 400)
            offers = [o for o in offers if o.start == wanted]
        if not offers:
            return _page("That time is no longer open", "", 409)
        offer = offers[0]
        new = NewInvitee(
            email=invitee.email,
            name=invitee.name,
            first_name=invitee.first_name,
            last_name=invitee.last_name,
            timezone=invitee.timezone,
            text_reminder_number=invitee.text_reminder_number,
            questions_and_answers=invitee.questions_and_answers,
            tracking=invitee.tracking,
            event_guests=invitee.event_guests,
        )
        hosts = offer.hosts
        if event_type.pooling_type == "round_robin":
            hosts = call.store.next_round_robin_hosts(event_type, offer.hosts)
        cancellation = {
            "canceled_by": invitee.name,
            "reason": "rescheduled",
            "canceler_type": "invitee",
            "created_at": now,
        }
        call.store.cancel_invitee(old_event, invitee, cancellation, now)
        new_event, new_invitee = call.store.book(
            event_type,
            offer.start,
            hosts,
            new,
            None,
            now,
            invitee.scheduled_by,
            join_event=offer.join_event,
        )
        new_event.location = old_event.location
        invitee.rescheduled = True
        invitee.new_invitee = (new_event.uuid, new_invitee.uuid)
        new_invitee.old_invitee = (old_event.uuid, invitee.uuid)
        assert invitee.status == CANCELED
        notify.invitee_event(call.state, call.base, "invitee.canceled", invitee, now)
        notify.invitee_event(call.state, call.base, "invitee.created", new_invitee, now)
    return _page("Your meeting is rescheduled", f"<p>{html.escape(offer.start.isoformat())}</p>")
