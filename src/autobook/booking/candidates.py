"""What a search hands to the hold, and what the hold gives back.

A module of its own so that the search (`booking/search.py`) and the booking of a chosen time
(`booking/chosen.py`) both use them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from autobook.booking.body import InviteeBody
from autobook.calendly.models import AvailableTime, EventType


@dataclass
class Chosen:
    """A slot held for this request: its intent is committed, the POST may go."""

    event_type: EventType
    slot: AvailableTime
    attempt_id: int
    built: InviteeBody


@dataclass
class Candidates:
    """Matching slots of one snapshot, best first, and when that snapshot was polled."""

    polled_at: datetime
    event_type: EventType
    slots: list[AvailableTime]
    # Filled by `SlotHolder.hold_first_free`: the starts our bookings since the poll certainly hold.
    taken: set[datetime] = field(default_factory=set)
