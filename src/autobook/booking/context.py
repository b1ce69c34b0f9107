"""What every part of the booking service shares: the process's context, the job, `LeaseLost`.

A module of its own so that the service and its collaborators import it, and not each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from autobook import store
from autobook.booking.availability import AvailabilitySnapshots
from autobook.booking.resolve import EventTypeResolver
from autobook.calendly.client import CalendlyClient
from autobook.config import Settings


class LeaseLost(Exception):
    """A fenced write did not apply: another worker owns this request now."""


@dataclass
class Job:
    """What one claim knows while it runs; persisted state lives in the row."""

    claim: store.Claim
    request_pk: int
    request_id: str
    # The row as it was when claimed (detached): read once, not again by each step. Changes this
    # claim makes that a later step reads (`extra`) are kept on it too.
    row: store.BookingRequestRow
    # Starts this request must not book (persisted as `excluded_slots`; a refused slot is added).
    excluded: set[datetime] = field(default_factory=set)


class AlternativesProposer(Protocol):
    """Proposes other times for a request whose chosen time was taken (`if_taken: propose`).

    Given a proposal request (`POST /v1/proposals`'s shape), the source it is made for and the
    starts to leave out; answers the proposal's JSON, or raises a CalendlyError. The proposals
    package builds it (`proposals.engine.alternatives_for`): booking does not depend on it.
    """

    def __call__(
        self, request: dict[str, Any], *, source_id: int | None, exclude: frozenset[datetime]
    ) -> dict[str, object]: ...


@dataclass
class BookingContext:
    """The long-lived parts a worker process builds once (see `autobook.runtime`)."""

    settings: Settings
    sessions: sessionmaker[Session]
    client: CalendlyClient
    resolver: EventTypeResolver
    snapshots: AvailabilitySnapshots
    clock: Callable[[], datetime]
    worker_id: str
    # The longest one `POST /invitees` call can take, retries and budget waits included.
    post_call: timedelta = timedelta(seconds=120)
    # Rings the doorbell for a request at a time (a delayed broker message); None: the
    # dispatcher's next tick after that time does it.
    wake: Callable[[str, datetime], None] | None = None
    # Other times to offer when a chosen time was taken; None: the request ends `no_slot`
    # without alternatives (a context built without the proposals package).
    propose_alternatives: AlternativesProposer | None = None

    @property
    def post_lease(self) -> timedelta:
        """The lease held across a POST: the call, then the grace a late commit gets."""
        return self.post_call + timedelta(seconds=self.settings.reconcile_grace_seconds)
