"""Find a few matching times to offer a person, and keep them under a `proposal_id`.

It works as a search does (`booking/search.py`, `booking/hold.py`), on the same shared pieces:
the windows of the shared grid (`booking/polling.py`), the shared availability snapshots
(`AvailabilitySnapshots`), the pure matcher (`booking/slots.matching_slots`) and the seats our
own attempts hold (`booking/blocking.py` over `store.held_slots`). Calls go through the client,
so through the rate budget.

Invariant: one proposal costs at most one `GET /event_type_available_times`. Windows are walked
in the request's order; a window a fresh snapshot covers costs nothing; the walk stops after
the first window that needed a poll, or once the matches span `count` days. When nothing
matched in what was looked at, the answer has no slots and says up to when it looked
(`searched_until`): ask again with a later `window.earliest`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from autobook import store
from autobook.booking.availability import AvailabilitySnapshots
from autobook.booking.blocking import free_seats, slot_owner, with_learned_hosts
from autobook.booking.constraints import constraints_for
from autobook.booking.context import AlternativesProposer, BookingContext
from autobook.booking.polling import poll_window, polling_floor, request_windows
from autobook.booking.resolve import EventTypeResolver, event_type_of
from autobook.booking.slots import Slot, matching_slots
from autobook.calendly.client import CalendlyClient
from autobook.calendly.models import EventType
from autobook.config import Settings
from autobook.models import ProposalRow
from autobook.proposals import records
from autobook.proposals.shape import ProposalRequest, parse_proposal_request
from autobook.proposals.spread import Offer, offers, spread
from autobook.times import utc_now, utc_z


@dataclass(frozen=True)
class Proposal:
    """Offered times, as `POST /v1/proposals` answers them."""

    proposal_id: str
    expires_at: datetime
    event_type: EventType
    timezone: str
    offers: list[Offer]
    searched_until: datetime | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "proposal_id": self.proposal_id,
            "expires_at": utc_z(self.expires_at),
            "event_type": {
                "uri": self.event_type.uri,
                "name": self.event_type.name,
                "duration": self.event_type.duration,
            },
            "timezone": self.timezone,
            "slots": [offer.as_json() for offer in self.offers],
            "searched_until": utc_z(self.searched_until),
        }


@dataclass
class Found:
    starts: list[datetime] = field(default_factory=list)
    polled_at: datetime | None = None
    searched_until: datetime | None = None


@dataclass
class Proposer:
    """Makes proposals; one per process (it shares the snapshots and the event type cache)."""

    settings: Settings
    sessions: sessionmaker[Session]
    client: CalendlyClient
    resolver: EventTypeResolver
    snapshots: AvailabilitySnapshots
    clock: Callable[[], datetime] = utc_now
    _purged_at: datetime | None = field(default=None, init=False)
    _purge_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def propose(
        self,
        raw: object,
        *,
        source_id: int | None = None,
        exclude: frozenset[datetime] = frozenset(),
    ) -> Proposal:
        """Offer up to `count` times; raises InvalidRequest or a CalendlyError."""
        wanted = parse_proposal_request(raw)
        event_type = event_type_of(self.resolver, wanted.request)
        return self.propose_for(wanted, event_type, source_id=source_id, exclude=exclude)

    def propose_for(
        self,
        wanted: ProposalRequest,
        event_type: EventType,
        *,
        source_id: int | None,
        exclude: frozenset[datetime] = frozenset(),
    ) -> Proposal:
        now = self.clock()
        found = self._matching(wanted, event_type, now, exclude)
        zone = ZoneInfo(wanted.timezone)
        chosen = spread(found.starts, wanted.count, zone)
        expires_at = now + timedelta(seconds=self.settings.proposal_lifetime_seconds)
        row = ProposalRow(
            proposal_id=records.new_proposal_id(),
            source_id=source_id,
            event_type_uri=event_type.uri,
            request=_kept_request(wanted, event_type),
            slots=[utc_z(start) for start in chosen],
            polled_at=found.polled_at or now,
            created_at=now,
            expires_at=expires_at,
        )
        with self.sessions.begin() as session:
            records.save(session, row, purge_before=now if self._purge_due(now) else None)
        return Proposal(
            row.proposal_id,
            expires_at,
            event_type,
            wanted.timezone,
            offers(chosen, zone),
            found.searched_until,
        )

    def _purge_due(self, now: datetime) -> bool:
        """True at most once every `records.PURGE_INTERVAL` in this process."""
        with self._purge_lock:
            if self._purged_at is not None and now - self._purged_at < records.PURGE_INTERVAL:
                return False
            self._purged_at = now
            return True

    def _matching(
        self,
        wanted: ProposalRequest,
        event_type: EventType,
        now: datetime,
        exclude: frozenset[datetime],
    ) -> Found:
        request = wanted.request
        constraints = constraints_for(request)
        duration = timedelta(minutes=event_type.duration or 0)
        windows = request_windows(request, self.settings, now)
        if request.prefer == "latest":
            windows.reverse()
        floor = polling_floor(self.settings, now)
        owner = slot_owner(event_type)
        found = Found()
        days: set[object] = set()
        zone = ZoneInfo(wanted.timezone)
        for window in windows:
            snapshot = self.snapshots.get(event_type.uri, poll_window(window, floor, self.settings))
            offered = [t for t in snapshot.slots if window.start <= t.start_time < window.end]
            ranked = matching_slots(
                [Slot(t.start_time, t.invitees_remaining or 1) for t in offered],
                duration,
                constraints,
                now,
                exclude=exclude,
            )
            if ranked:
                with self.sessions() as session:
                    held = store.held_slots(
                        session,
                        start=min(r.start for r in ranked),
                        end=max(r.start for r in ranked) + owner.duration,
                        since=snapshot.polled_at,
                    )
                seen_by = with_learned_hosts(owner, held)
                free = [
                    r.start
                    for r in ranked
                    if free_seats(r.start, r.invitees_remaining, seen_by, held).free > 0
                ]
                found.starts.extend(free)
                days.update(start.astimezone(zone).date() for start in free)
            found.polled_at = min(found.polled_at or snapshot.polled_at, snapshot.polled_at)
            found.searched_until = window.end if request.prefer == "earliest" else window.start
            if snapshot.fresh or len(days) >= wanted.count:
                break  # the one availability call was made, or there is enough to spread
        return found


def _kept_request(wanted: ProposalRequest, event_type: EventType) -> dict[str, object]:
    """What a booking of a choice inherits: the window (for `nearest` and alternatives)."""
    request = wanted.request
    kept: dict[str, object] = {
        "event_type": event_type.uri,
        "timezone": wanted.timezone,
        "prefer": request.prefer,
        "count": wanted.count,
    }
    if request.window is not None:
        window = request.window.model_dump(mode="json", exclude_none=True)
        window.setdefault("timezone", request.invitee.timezone)
        kept["window"] = window
    return kept


def proposer_for(settings: Settings, sessions: sessionmaker[Session]) -> Proposer:
    """A proposer on its own Calendly client, built as a worker builds its runtime."""
    from autobook.runtime import MissingToken, build_calendly_client, build_shared_snapshots

    if settings.calendly_token is None:
        raise MissingToken
    client = build_calendly_client(settings)
    return Proposer(
        settings,
        sessions,
        client,
        EventTypeResolver(client, ttl_seconds=settings.event_type_cache_seconds),
        AvailabilitySnapshots(
            client,
            ttl_seconds=settings.availability_cache_seconds,
            keep_seconds=settings.waiting_repoll_seconds,
            shared=build_shared_snapshots(settings),
        ),
    )


def alternatives_for(ctx: BookingContext) -> AlternativesProposer:
    """What a worker's booking calls for other times when a chosen one was taken: a proposer
    on the worker's own client, resolver and snapshots (`runtime` wires it into `ctx`)."""
    proposer = Proposer(
        ctx.settings, ctx.sessions, ctx.client, ctx.resolver, ctx.snapshots, ctx.clock
    )

    def propose(
        request: dict[str, Any], *, source_id: int | None, exclude: frozenset[datetime]
    ) -> dict[str, object]:
        return proposer.propose(request, source_id=source_id, exclude=exclude).as_json()

    return propose
