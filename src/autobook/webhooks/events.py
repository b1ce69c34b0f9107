"""Calendly's webhook envelope, read leniently: only what keeps our outcomes true.

`{"event": "invitee.created"|"invitee.canceled", "created_at", "created_by", "payload": Invitee
+ "scheduled_event"}` (API-NOTES §2.9). A reschedule is an `invitee.canceled` with
`rescheduled: true` and `new_invitee`, and an `invitee.created` whose `old_invitee` is the
invitee we booked. Unknown fields are ignored; a body that is not this shape is refused.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

CREATED = "invitee.created"
CANCELED = "invitee.canceled"


class BadEnvelope(ValueError):
    """The body is not a Calendly webhook envelope."""


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Cancellation(_Lenient):
    canceled_by: str | None = None
    reason: str | None = None
    canceler_type: str | None = None


class ScheduledEvent(_Lenient):
    uri: str
    start_time: datetime
    end_time: datetime | None = None
    event_type: str | None = None
    location: dict[str, Any] | None = None


class InviteePayload(_Lenient):
    uri: str
    status: str | None = None
    cancel_url: str | None = None
    reschedule_url: str | None = None
    rescheduled: bool = False
    old_invitee: str | None = None
    new_invitee: str | None = None
    cancellation: Cancellation | None = None
    scheduled_event: ScheduledEvent | None = None


class Envelope(_Lenient):
    event: str
    created_at: str
    payload: InviteePayload

    @property
    def dedupe_key(self) -> str:
        """Calendly sends no delivery id: the payload URI, the event and `created_at` name one."""
        text = f"{self.payload.uri}\n{self.event}\n{self.created_at}"
        return hashlib.sha256(text.encode()).hexdigest()


def parse(raw: Any) -> Envelope:
    try:
        return Envelope.model_validate(raw)
    except ValidationError as exc:
        raise BadEnvelope(
            f"not a Calendly webhook envelope ({exc.error_count()} problems)"
        ) from None
