"""What our own attempts block: the seats of a snapshot's slots that are still free for us.

A snapshot of availability is shared by every request of an event type for a few seconds, and
goes stale as soon as one of them books from it. Calendly would refuse the stale slots with
`already_filled`, at the cost of a `POST /invitees` (which counts against the booking limit). So
each slot of a snapshot is checked against the slots our attempts hold (`store.held_slots`):

- The same event type at the same start takes one seat (a group event has several).
- An attempt that overlaps the slot in time blocks it when it blocks one of the slot's calendars:
  the event type itself (a host is never in two of its sessions at once) or its host. An attempt
  blocks its event type, its owner when the owner is a user, and, when its event was read back
  (a booking adopted by reconcile), the hosts Calendly assigned (`event_memberships`); a
  collective type learns its hosts from such bookings of it (`with_learned_hosts`).
- A team event type's hosts are not in its listing, nor in the `POST /invitees` answer (which
  host a round robin took is Calendly's choice). So an attempt of a team type also blocks every
  host of the organization (`team_hosts`: the owners of its one-host types), and a team type's
  slot is blocked by our attempts on any of them. That is conservative: a slot may look taken
  while free, never the reverse, and it lasts only until a newer poll (a booking recorded before
  a poll is in it); when it leaves nothing free, the search polls again (`Seats.recheck`).
- A round-robin slot is open while any host of its pool is free, and the listing does not say
  how many are: an attempt of the same event type blocks it, until a poll made after that
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
USER_URI_PART = "/users/"  # a user's URI: `https://api.calendly.com/users/{uuid}`


@dataclass(frozen=True)
class SlotOwner:
    """What a slot of one event type occupies: how long, and on which calendars."""

    event_type_uri: str
    duration: timedelta
    calendars: frozenset[str]
    pooled: bool  # round robin: any free host of the pool can take it
    # A team type's possible hosts: every host of the organization (which ones it has is
    # Calendly's to know). Empty for a one-host type, or when the organization is unknown.
    team_hosts: frozenset[str] = frozenset()

    @property
    def blocks(self) -> frozenset[str]:
        """The calendars an attempt of this event type holds."""
        return self.calendars | self.team_hosts

    def span(self, start: datetime) -> tuple[datetime, datetime]:
        return start, start + self.duration


def slot_owner(event_type: EventType, organization_hosts: Iterable[str] = ()) -> SlotOwner:
    """What a slot of `event_type` occupies; `organization_hosts` stand for a team's hosts."""
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
        team_hosts=frozenset(organization_hosts) if event_type.pooling_type else frozenset(),
    )


def organization_hosts(event_types: Iterable[EventType]) -> frozenset[str]:
    """The hosts of the organization's one-host event types: every calendar a team may take."""
    return frozenset(
        et.profile.owner
        for et in event_types
        if et.profile is not None and et.profile.type == "User" and et.profile.owner
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
    # Blocked by a booking of ours made after the snapshot was polled, through our guess of a
    # team's hosts or a round robin's pool: a newer poll may list it free.
    recheck: bool = False


def free_seats(start: datetime, offered: int, owner: SlotOwner, held: Iterable[HeldSlot]) -> Seats:
    """The seats of the slot at `start` (`offered` by the snapshot) left after `held`."""
    slot_start, slot_end = owner.span(start)
    free = max(offered, 1)
    in_flight = False
    for hold in held:
        if not (hold.start < slot_end and slot_start < hold.end):
            continue
        same_type = hold.event_type_uri == owner.event_type_uri
        if not same_type and not hold.blocks & _blocked_by(owner):
            continue
        in_flight = in_flight or hold.unresolved
        if same_type and hold.start == slot_start and not hold.taken_by_others:
            free -= 1  # one seat of this very slot
            continue
        # A booking of ours made since the poll that blocks this slot only by our guess of a
        # team's hosts (or a round robin's pool): a newer poll tells whether it really does.
        booked = not hold.unresolved and not hold.taken_by_others
        guessed = owner.pooled or bool(owner.team_hosts) or _names_several_users(hold)
        return Seats(0, in_flight, recheck=booked and guessed)
    if free <= 0 and owner.pooled:
        # Our own bookings of the pool: another of its hosts may still be free.
        return Seats(0, in_flight, not in_flight)
    return Seats(max(free, 0), in_flight)


def _names_several_users(hold: HeldSlot) -> bool:
    """Whether `hold` blocks several users' calendars: a team's attempt (its possible hosts)."""
    return sum(USER_URI_PART in calendar for calendar in hold.blocks) > 1


def _blocked_by(owner: SlotOwner) -> frozenset[str]:
    """The calendars whose attempts block a slot of `owner`'s event type, when another type's.

    A one-host or collective slot needs all of its calendars; a round-robin slot needs one host
    of its pool, but which hosts are in the pool is not known: any of ours blocks it.
    """
    return owner.team_hosts if owner.pooled else owner.blocks
