"""What the sandbox tells webhook subscribers when an invitee is created or canceled.

Calendly's payload is the invitee with its `scheduled_event` embedded (API-NOTES §2.9). Called
by every change of bookings: the API's `POST /invitees` and cancellation, and the cancel and
reschedule pages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import render
from .state import SandboxState
from .store import Invitee


def payload(state: SandboxState, base: str, invitee: Invitee) -> dict[str, Any]:
    event = state.store.events[invitee.event_uuid]
    return {
        **render.invitee(base, invitee),
        "scheduled_event": render.event(base, state.store, event),
    }


def invitee_event(
    state: SandboxState, base: str, kind: str, invitee: Invitee, now: datetime
) -> None:
    state.webhooks.emit(
        kind,
        payload(state, base, invitee),
        created_by=render.user_uri(base, state.store.owner.uuid),
        now=now,
        faults=state.faults,
    )
