"""What our own attempts block: the seats of a snapshot's slots that are still free for us.

A snapshot of availability is shared by every request of an event type for a few seconds, and
goes stale as soon as one of them books from it. Calendly would refuse the stale slots with
`already_filled`, at the cost of a `POST /invitees` (which counts against the booking limit). So
each slot of a snapshot is checked against the slots our attempts hold (`store.held_slots`):

- The same event type at the same start takes one seat (a group event has several).
- An attempt that overlaps the slot in time blocks it when it blocks one of the slot's calendars:
  the event type itself (a host is never in two of its sessions at once) or its host. An attempt
  blocks its event type, its owner when the owner is a user, and, once booked, the hosts
  Calendly assigned (`event_memberships`), so a round-robin or collective booking blocks the
  solo event types of the hosts it took, and a collective type learns its hosts from our
  bookings of it (`with_learned_hosts`).
- A round-robin slot is open while any host of its pool is free, and the listing does not say
  how many are: only an attempt of the same event type blocks it, until a poll made after that
  attempt lists the slot again (then another host is free).
- A slot Calendly refused as `already_filled` is someone else's: blocked for every request of
  that event type, until a newer poll.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from autobook.calendly.models import EventType
from autobook.store.holds import HeldSlot

ROUND_ROBIN = "round_robin"


@dataclass(frozen=True)
class SlotOwner:
    """What a slot of one event type occupies: how long, and on which calendars."""

    event_type_uri: str
    duration: timedelta
    calendars: frozenset[str]
    pooled: bool  # round robin: any free host of the pool can take it

    def span(self, start: datetime) -> tuple[datetime, datetime]:
        return start, start + self.duration


def slot_owner(event_type: EventType) -> SlotOwner:
    calendars = {event_type.uri}
    profile = event_type.profile
    if profile is not None and profile.type == "User" and profile.owner:
        calendars.add(profile.owner)
    return SlotOwner(
        event_type_uri=event_type.uri,
        # A slot holds at least a minute, so that a zero-length type still takes its seat.
        duration=max(timedelta(minutes=event_type.duration or 0), timedelta(minutes=1)),
        calendars=frozenset(calendars),
        pooled=event_type.pooling_type == ROUND_ROBIN,
    )


def with_learned_hosts(owner: SlotOwner, held: Iterable[HeldSlot]) -> SlotOwner:
    """`owner` plus the hosts our bookings of its event type were given.

    A collective type's hosts are not in its listing; each of our bookings of it names them
    (`event_memberships`), and all of them are busy for every such slot. A round-robin booking
    names one host of the pool only, so a pooled owner learns nothing.
    """
    if owner.pooled:
        return owner
    learned = {
        calendar
        for hold in held
        if hold.event_type_uri == owner.event_type_uri and not hold.unresolved
        for calendar in hold.blocks
    }
    return replace(owner, calendars=owner.calendars | learned)


@dataclass(frozen=True)
class Seats:
    """How many seats of a slot are free for us, and whether one of ours may soon free one."""

    free: int
    held_in_flight: bool  # an attempt of ours, outcome not known yet, holds part of the slot


def free_seats(start: datetime, offered: int, owner: SlotOwner, held: Iterable[HeldSlot]) -> Seats:
    """The seats of the slot at `start` (`offered` by the snapshot) left after `held`."""
    slot_start, slot_end = owner.span(start)
    free = max(offered, 1)
    in_flight = False
    for hold in held:
        if not (hold.start < slot_end and slot_start < hold.end):
            continue
        same_type = hold.event_type_uri == owner.event_type_uri
        if not same_type and (owner.pooled or not hold.blocks & owner.calendars):
            continue
        in_flight = in_flight or hold.unresolved
        if same_type and hold.start == slot_start and not hold.taken_by_others:
            free -= 1  # one seat of this very slot
        else:
            return Seats(0, in_flight)
    return Seats(max(free, 0), in_flight)
