"""Which start times an event type offers: working hours, minus bookings, in the future.

A host works weekly hours in their own timezone. Hours are turned into UTC intervals
one local date at a time, so ``09:00`` stays ``09:00`` local across a DST change. Each
working interval carries a grid of candidate starts: its start, then every
``start_time_increment`` minutes, as long as the whole meeting fits before the
interval ends. A start is offered when it is on such a grid, lies strictly after
``now + min_notice``, and:

- solo: the host is inside working hours and has no active event of any type that
  overlaps the meeting;
- round robin: at least one host is (the booking takes one of them, in turn);
- collective: every host is;
- group: the host is free apart from this type's own event at that start, and
  ``invitees_remaining = capacity - active invitees`` is above zero.

Pure functions of a :class:`Store` and the clock. Working intervals are cached per
(host, local date), since working hours never change while the server runs; offers
are cached per (event type, UTC date) under the versions of the hosts' calendars,
and the clock (``now``, minimum notice) is applied after the cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from .store import EventType, ScheduledEvent, Store, User

Interval = tuple[datetime, datetime]

# Cached (event type, UTC date) offer lists; the cache is simply emptied when full.
MAX_CACHED_DAYS = 20_000


@dataclass(frozen=True)
class Offer:
    """One offered start time and who would take it."""

    start: datetime
    invitees_remaining: int
    hosts: tuple[str, ...]
    join_event: ScheduledEvent | None = None


class WorkingHours:
    """UTC working intervals per (host, local date), computed once and cached."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, date], tuple[Interval, ...]] = {}

    def on_local_date(self, user: User, local_date: date) -> tuple[Interval, ...]:
        key = (user.uuid, local_date)
        cached = self._cache.get(key)
        if cached is None:
            cached = tuple(_intervals_for(user, local_date))
            self._cache[key] = cached
        return cached

    def interval_containing(self, user: User, start: datetime, end: datetime) -> Interval | None:
        """The working interval that holds all of [start, end), if any.

        Intervals never cross local midnight, so only the local date of ``start`` can hold it.
        """
        for interval in self.on_local_date(user, start.astimezone(user.zone).date()):
            if interval[0] <= start and end <= interval[1]:
                return interval
        return None

    def between(self, user: User, start: datetime, end: datetime) -> list[Interval]:
        """Working intervals on every local date that [start, end) touches."""
        first = start.astimezone(user.zone).date() - timedelta(days=1)
        last = end.astimezone(user.zone).date()
        found: list[Interval] = []
        day = first
        while day <= last:
            found.extend(
                interval
                for interval in self.on_local_date(user, day)
                if interval[1] > start and interval[0] < end
            )
            day += timedelta(days=1)
        return found


def _intervals_for(user: User, local_date: date) -> list[Interval]:
    intervals: list[Interval] = []
    for start_time, end_time in user.weekly_hours.get(local_date.weekday(), ()):
        local_start = datetime.combine(local_date, start_time, tzinfo=user.zone)
        if end_time is None:
            local_end = datetime.combine(
                local_date + timedelta(days=1), datetime.min.time(), tzinfo=user.zone
            )
        else:
            local_end = datetime.combine(local_date, end_time, tzinfo=user.zone)
        utc_start = local_start.astimezone(UTC)
        utc_end = local_end.astimezone(UTC)
        if utc_end > utc_start:
            intervals.append((utc_start, utc_end))
    return intervals


def _far_enough_ahead(event_type: EventType, start: datetime, now: datetime) -> bool:
    """Strictly in the future, and at least the type's minimum notice ahead."""
    return start > now and start >= now + timedelta(minutes=event_type.min_notice_minutes)


def _grid(interval: Interval, event_type: EventType) -> list[datetime]:
    starts: list[datetime] = []
    cursor, limit = interval[0], interval[1] - event_type.duration
    while cursor <= limit:
        starts.append(cursor)
        cursor += event_type.increment
    return starts


def _on_grid(interval: Interval, start: datetime, event_type: EventType) -> bool:
    offset = start - interval[0]
    return (
        offset % event_type.increment == timedelta(0) and start + event_type.duration <= interval[1]
    )


class Availability:
    """Answers "which starts are offered" and "is this start offered" for one store."""

    def __init__(self, store: Store, hours: WorkingHours | None = None) -> None:
        self.store = store
        self.hours = hours or WorkingHours()
        self._day_cache: dict[tuple[str, date], tuple[tuple[int, ...], list[Offer]]] = {}

    def offers_between(
        self, event_type: EventType, start: datetime, end: datetime, now: datetime
    ) -> list[Offer]:
        """Offered starts in [start, end), earliest first."""
        if not event_type.active:
            return []
        # _far_enough_ahead, inlined: this loop runs for every slot of every poll.
        lowest = max(start, now + timedelta(minutes=event_type.min_notice_minutes))
        offers: list[Offer] = []
        day, last_day = start.date(), (end - timedelta(microseconds=1)).date()
        while day <= last_day:
            offers.extend(
                offer
                for offer in self._offers_on(event_type, day)
                if lowest <= offer.start < end and offer.start > now
            )
            day += timedelta(days=1)
        return offers

    def _offers_on(self, event_type: EventType, day: date) -> list[Offer]:
        """Every offer starting on one UTC date, before the clock is applied; cached.

        The cache key holds the versions of the type's hosts' calendars, so any booking
        or cancellation for one of them recomputes the day, and nothing else does.
        """
        versions = tuple(self.store.host_versions[host] for host in event_type.host_uuids)
        key = (event_type.uuid, day)
        cached = self._day_cache.get(key)
        if cached is not None and cached[0] == versions:
            return cached[1]
        day_start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
        day_end = day_start + timedelta(days=1)
        candidates: set[datetime] = set()
        for host_uuid in event_type.host_uuids:
            user = self.store.users[host_uuid]
            for interval in self.hours.between(user, day_start, day_end):
                candidates.update(
                    candidate
                    for candidate in _grid(interval, event_type)
                    if day_start <= candidate < day_end
                )
        offers = []
        for candidate in sorted(candidates):
            offer = self._evaluate(event_type, candidate)
            if offer is not None:
                offers.append(offer)
        if len(self._day_cache) >= MAX_CACHED_DAYS:
            self._day_cache.clear()
        self._day_cache[key] = (versions, offers)
        return offers

    def offer_at(self, event_type: EventType, start: datetime, now: datetime) -> Offer | None:
        """The offer at exactly ``start``, or None if that start isn't open right now."""
        if not event_type.active:
            return None
        if not _far_enough_ahead(event_type, start, now):
            return None
        end = start + event_type.duration
        on_grid = False
        for host_uuid in event_type.host_uuids:
            interval = self.hours.interval_containing(self.store.users[host_uuid], start, end)
            if interval is not None and _on_grid(interval, start, event_type):
                on_grid = True
                break
        return self._evaluate(event_type, start) if on_grid else None

    def _host_free(
        self, host_uuid: str, start: datetime, end: datetime, ignore: str | None = None
    ) -> bool:
        user = self.store.users[host_uuid]
        if self.hours.interval_containing(user, start, end) is None:
            return False
        return not self.store.host_is_busy(host_uuid, start, end, ignore)

    def _evaluate(self, event_type: EventType, start: datetime) -> Offer | None:
        end = start + event_type.duration
        hosts = event_type.host_uuids
        if event_type.kind == "group":
            existing = self.store.group_event_at(event_type, start)
            if existing is None:
                return (
                    Offer(start, event_type.capacity, hosts)
                    if self._host_free(hosts[0], start, end)
                    else None
                )
            remaining = event_type.capacity - self.store.active_invitee_count(existing)
            if remaining <= 0 or not self._host_free(hosts[0], start, end, ignore=existing.uuid):
                return None
            return Offer(start, remaining, existing.host_uuids, join_event=existing)
        if event_type.pooling_type == "round_robin":
            free = tuple(host for host in hosts if self._host_free(host, start, end))
            return Offer(start, 1, free) if free else None
        if all(self._host_free(host, start, end) for host in hosts):
            return Offer(start, 1, hosts)
        return None
