"""Finding a booking of ours at Calendly after a `POST /invitees` whose outcome is unknown.

`POST /invitees` has no idempotency key, so the only way to learn whether an unanswered POST
booked is to look (DESIGN §4): list the organization's scheduled events for the invitee's email
around the slot (`organization=`, never `user=`: the token owner sees only their own events that
way, and a booking with another host would be missed, then made twice), then each event's
invitees, and match the correlation token our body carried in `tracking`. When the request left
no tracking key free there is no token; then a booking of this event type, at this start, for
this email is taken as ours.

Invariants: the lookup only reads (GETs, retried in place by the client), and it uses the
budget's booking reserve, since reconciling a booking goes before polls. It answers "found" or
"not there now"; deciding that a booking is *provably* absent (a second look after a grace
period) is the caller's job.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from autobook.calendly.client import CalendlyClient
from autobook.calendly.models import Invitee

RECONCILE_WINDOW = timedelta(minutes=1)


def find_our_booking(
    client: CalendlyClient,
    *,
    organization: str,
    invitee_email: str,
    event_type_uri: str,
    slot_start: datetime,
    tokens: Collection[str],
) -> Invitee | None:
    """The active invitee that one of our attempts created at `slot_start`, or None.

    `tokens` are the correlation tokens our attempts at this slot sent; empty when no tracking
    key was free, in which case event type, start time and email decide.
    """
    reader = client.prioritized()
    events = reader.iter_scheduled_events(
        organization=organization,
        invitee_email=invitee_email,
        status="active",
        min_start_time=slot_start - RECONCILE_WINDOW,
        max_start_time=slot_start + RECONCILE_WINDOW,
    )
    wanted = set(tokens)
    for event in events:
        if event.event_type != event_type_uri or event.start_time != slot_start:
            continue
        for invitee in reader.iter_event_invitees(event.uri, email=invitee_email, status="active"):
            carried = {str(value) for value in (invitee.tracking or {}).values() if value}
            if not wanted or carried & wanted:
                return invitee
    return None
