"""The booked sweep: what webhooks would have said, learned by asking Calendly.

Webhooks can be missed, and Calendly disables a subscription after 24 hours of failures without
telling anyone. So once per `booked_sweep_seconds` (one process of the deployment: the same
gate as the waiting sweep), every booked request whose meeting is still ahead is compared with
Calendly: `GET /scheduled_events/{uuid}/invitees/{uuid}`, on the ordinary (low) priority of the
rate budget, so bookings go first. A canceled invitee cancels the request; one canceled by a
reschedule (`rescheduled`, `new_invitee`) moves the request to the new invitee's event and
time. Both go through the same store transitions as the webhooks (`store.calendly_events`), so
an outcome that a webhook already applied is not applied twice, and each writes its callback.
A Calendly failure ends this sweep early; the next interval tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from autobook import store
from autobook.calendly.client import CalendlyClient
from autobook.calendly.models import Invitee
from autobook.errors import CalendlyError

log = logging.getLogger(__name__)

CANCELED = "canceled"
SWEEP_BATCH = 500


class BookedSweep:
    """Compares booked requests with Calendly when `gate()` says it is this process's turn."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        client: CalendlyClient,
        gate: Callable[[], bool],
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._gate = gate
        self._clock = clock

    def maybe_sweep(self) -> list[str]:
        """Sweep if it is this process's turn; the event types where a slot opened."""
        return self.sweep() if self._gate() else []

    def sweep(self) -> list[str]:
        now = self._clock()
        with self._sessions() as session:
            booked = store.calendly_events.booked_ahead(session, now=now, limit=SWEEP_BATCH)
        opened: list[str] = []
        for _pk, invitee_uri in booked:
            try:
                invitee = self._client.get_invitee(invitee_uri)
                if invitee.status != CANCELED:
                    continue
                changed = self._apply(invitee_uri, invitee)
            except CalendlyError as exc:
                log.warning("booked sweep stopped early (%s); next interval goes on", exc.message)
                break
            if changed is not None:
                opened.append(changed)
        log.info("booked sweep: %d compared, %d changed", len(booked), len(opened))
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
