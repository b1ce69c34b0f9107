"""The booked sweep: what webhooks would have said, learned by asking Calendly.

Webhooks can be missed, and Calendly disables a subscription after 24 hours of failures without
telling anyone. So once per `booked_sweep_seconds` (one process of the deployment: the same
gate as the waiting sweep), the booked requests whose meeting is still ahead are compared with
Calendly's listing of scheduled events, `GET /scheduled_events?organization=…&min_start_time=now`
(100 a page; the caller's own `user` scope when the token may not list the organization), on the
ordinary (low) priority of the rate budget, so bookings go first. The listing says which of our
events changed; only those cost more calls:

- an event of ours that is `canceled`: its invitee of ours is read (`GET .../invitees/{uuid}`),
  since only the invitee says whether it was a reschedule (`rescheduled`, `new_invitee`);
- an `active` event of ours with fewer active invitees than it had (a group event where one
  invitee canceled: the event itself stays active): its canceled invitees are listed once.

So a sweep costs one call per page of upcoming events plus one per change, however many
bookings it compares (`GET /users/me` once per process, for the organization). The listing has
no `status` filter on purpose: the group case needs the active events too.

A canceled invitee cancels the request; one canceled by a reschedule moves the request to the new
invitee's event and time. Both go through the same store transitions as the webhooks
(`store.calendly_events`), so an outcome that a webhook already applied is not applied twice, and
each writes its callback. A Calendly failure ends this sweep early; the next interval tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from autobook import store
from autobook.calendly.client import CalendlyClient
from autobook.calendly.models import Invitee, ScheduledEvent
from autobook.calendly.uris import resource_id
from autobook.errors import CalendlyError, RequestRejected

log = logging.getLogger(__name__)

CANCELED = "canceled"
PAGE_SIZE = 100
FORBIDDEN = 403


class BookedSweep:
    """Compares booked requests with Calendly when `gate()` says it is this process's turn."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        client: CalendlyClient,
        gate: Callable[[], bool],
        clock: Callable[[], datetime],
        *,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._gate = gate
        self._clock = clock
        self._page_size = page_size
        # ("organization" | "user", URI): learned once per process.
        self._scope: tuple[str, str] | None = None

    def maybe_sweep(self) -> list[str]:
        """Sweep if it is this process's turn; the event types where a slot opened."""
        return self.sweep() if self._gate() else []

    def sweep(self) -> list[str]:
        now = self._clock()
        with self._sessions() as session:
            booked = store.calendly_events.booked_events_ahead(session, now=now)
        if not booked:
            return []  # nothing to compare: no call at all
        ours: dict[str, list[str]] = {}
        for _pk, event_uri, invitee_uri in booked:
            ours.setdefault(resource_id(event_uri), []).append(invitee_uri)
        opened: list[str] = []
        try:
            for event in self._events_ahead(now):
                invitees = ours.pop(resource_id(event.uri), None)
                if invitees:
                    opened += self._compare(event, invitees)
                if not ours:
                    break  # every booking compared: the remaining pages can't change any
        except CalendlyError as exc:
            log.warning("booked sweep stopped early (%s); next interval goes on", exc.message)
        log.info("booked sweep: %d compared, %d changed", len(booked), len(opened))
        return opened

    def _events_ahead(self, now: datetime) -> Iterator[ScheduledEvent]:
        kind, uri = self._scope or self._find_scope()
        try:
            yield from self._list(kind, uri, now)
        except RequestRejected as exc:
            if exc.status != FORBIDDEN or kind != "organization":
                raise
            # Listing the organization needs an owner or admin: fall back to the caller's own.
            self._scope = ("user", self._client.get_current_user().uri)
            yield from self._list(*self._scope, now)

    def _list(self, kind: str, uri: str, now: datetime) -> Iterator[ScheduledEvent]:
        return self._client.iter_scheduled_events(
            organization=uri if kind == "organization" else None,
            user=uri if kind == "user" else None,
            min_start_time=now,
            sort="start_time:asc",
            count=self._page_size,
        )

    def _find_scope(self) -> tuple[str, str]:
        me = self._client.get_current_user()
        self._scope = (
            ("organization", me.current_organization)
            if me.current_organization
            else ("user", me.uri)
        )
        return self._scope

    def _compare(self, event: ScheduledEvent, invitee_uris: list[str]) -> list[str]:
        """Apply what changed for our invitees of a listed event; the event types it opened."""
        changed: list[tuple[str, Invitee]] = []
        if event.status == CANCELED:
            changed = [(uri, self._client.get_invitee(uri)) for uri in invitee_uris]
        else:
            counter = event.invitees_counter
            if counter is None or counter.total is None or counter.active is None:
                return []
            if counter.active >= counter.total:
                return []  # nobody canceled at this event
            wanted = {resource_id(uri): uri for uri in invitee_uris}
            for invitee in self._client.iter_event_invitees(event.uri, status=CANCELED):
                mine = wanted.get(resource_id(invitee.uri))
                if mine is not None:
                    changed.append((mine, invitee))
        opened: list[str] = []
        for invitee_uri, invitee in changed:
            if invitee.status != CANCELED:
                continue
            event_type = self._apply(invitee_uri, invitee)
            if event_type is not None:
                opened.append(event_type)
        return opened

    def _apply(self, invitee_uri: str, invitee: Invitee) -> str | None:
        now = self._clock()
        if invitee.rescheduled and invitee.new_invitee:
            new = self._client.get_invitee(invitee.new_invitee)
            event = self._client.get_scheduled_event(new.event)
            fields: dict[str, Any] = {
                "invitee_uri": new.uri,
                "event_uri": event.uri,
                "start_time": event.start_time,
                "end_time": event.end_time,
                "cancel_url": new.cancel_url,
                "reschedule_url": new.reschedule_url,
            }
            if event.location is not None:
                fields["location"] = event.location
            with self._sessions.begin() as session:
                moved = store.calendly_events.apply_rescheduled(
                    session, invitee_uri, new=fields, now=now
                )
            return moved.event_type_uri if moved else None
        cancellation = invitee.cancellation
        with self._sessions.begin() as session:
            applied = store.calendly_events.apply_canceled(
                session,
                invitee_uri,
                who=cancellation.canceled_by if cancellation else None,
                why=cancellation.reason if cancellation else None,
                now=now,
            )
        return applied.event_type_uri if applied else None
