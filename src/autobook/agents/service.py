"""What the MCP tools do, without MCP: find, propose, book a proposed time, read, cancel.

Every call goes through the doors every other caller uses: proposals through `Proposer`,
bookings through `intake.submit_many` (so a choice is completed from its proposal and
validated there), reads and cancellations through `store`. Each call acts as one source: over
stdio the agent is source None, like the command line; over HTTP (`/v1/mcp` on `autobook
serve`) it is the source whose API key called. A source sees, books from and cancels only its
own proposals and requests; another's is "not found", as on `/v1/bookings`.

`book_time` is idempotent on the proposal and the choice: its request_id is derived from them
(`mcp-<proposal_id>-<choice>`), and a request already recorded under it is answered as it
stands (even once the proposal expired), so an agent's retry never books twice.

The methods are blocking (database, Calendly) and each does one step; waiting for an outcome
is left to the caller (`agents.mcp_server`), which sleeps without holding a thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from autobook import intake, store, views
from autobook.booking.resolve import EventTypeResolver
from autobook.calendly.models import EventType
from autobook.errors import AutobookError
from autobook.models import BookingRequestRow, NextAction
from autobook.proposals import choice as choice_of
from autobook.proposals.engine import Proposer
from autobook.requests import parse_request
from autobook.times import utc_now, utc_z


class ToolFailure(AutobookError):
    """The tool could not do what was asked."""


def request_id_for(proposal_id: str, choice: int) -> str:
    return f"mcp-{proposal_id}-{choice}"


@dataclass(frozen=True)
class Snapshot:
    """A request as it stands: its API view, and whether it is settled (nothing more to wait)."""

    shown: dict[str, Any]
    settled: bool


@dataclass
class AgentService:
    proposer: Callable[[], Proposer]  # on first use: `serve` needs no Calendly token until then
    sessions: sessionmaker[Session]
    ring: Callable[[str], None]

    @property
    def resolver(self) -> EventTypeResolver:
        return self.proposer().resolver

    def find_event_types(self, query: str | None, owner: str | None) -> dict[str, Any]:
        found = []
        for event_type in self.resolver.all_event_types():
            if not event_type.active or not _matches(event_type, query):
                continue
            owner_email = self._owner_email(event_type)
            if owner and (owner_email or "").casefold() != owner.strip().casefold():
                continue
            found.append(
                {
                    "uri": event_type.uri,
                    "name": event_type.name,
                    "slug": event_type.slug,
                    "duration": event_type.duration,
                    "owner": owner_email,
                    "pooling_type": event_type.pooling_type,
                }
            )
        return {"event_types": found}

    def _owner_email(self, event_type: EventType) -> str | None:
        profile = event_type.profile
        if profile is None or profile.type != "User" or not profile.owner:
            return None
        try:
            return self.resolver.owner_email(profile.owner)
        except AutobookError:
            return None

    def propose_times(self, document: dict[str, Any], source_id: int | None) -> dict[str, Any]:
        return self.proposer().propose(document, source_id=source_id).as_json()

    def book_time(
        self, proposal_id: str, choice: int, body: dict[str, Any], source_id: int | None
    ) -> str:
        """Record the booking of `choice` (once); its request_id, to wait on with `current`."""
        request_id = request_id_for(proposal_id, choice)
        if self._row(request_id, source_id) is not None:
            return request_id  # a retry: the request stands, even if the proposal expired since
        raw = {"request_id": request_id, "proposal_id": proposal_id, "choice": choice, **body}
        # Checked before it is recorded: a typo the agent then corrects must not hold the
        # (proposal, choice) request_id as `invalid` for ever.
        with self.sessions() as session:
            parse_request(choice_of.expand(session, raw, now=utc_now(), source_id=source_id))
        (result,) = intake.submit_many(
            self.sessions, [raw], now=utc_now, ring=self.ring, source_id=source_id
        )
        if result.status == "invalid":
            problems = "; ".join(str(p) for p in result.problems) or result.reason
            raise ToolFailure(f"not booked: {problems}")
        return request_id

    def booking_status(self, request_id: str, source_id: int | None) -> dict[str, Any]:
        with self.sessions() as session:
            row = self._own(session, request_id, source_id)
            shown = views.as_json(row)
            shown["log"] = [
                {"at": utc_z(e.at), "kind": e.kind, "message": e.message}
                for e in store.logs_for(session, row.id)
            ]
        return shown

    def cancel_booking(
        self, request_id: str, reason: str | None, source_id: int | None
    ) -> store.Withdrawal:
        with self.sessions.begin() as session:
            row = self._own(session, request_id, source_id)
            outcome = store.withdraw(session, row.id, reason=reason, now=utc_now())
        if outcome is store.Withdrawal.FINAL:
            raise ToolFailure(f"nothing to cancel: {request_id} ended before it was booked")
        if outcome is store.Withdrawal.CANCEL_DUE:
            self.ring(request_id)
        return outcome

    def current(self, request_id: str, source_id: int | None) -> Snapshot:
        """The request as it stands (terminal with nothing due is settled)."""
        row = self._row(request_id, source_id)
        if row is None:
            raise ToolFailure(f"no request {request_id!r} was made here")
        settled = row.status.is_terminal and row.next_action is NextAction.NONE
        return Snapshot(views.as_json(row), settled)

    def _own(self, session: Session, request_id: str, source_id: int | None) -> BookingRequestRow:
        row = store.get_by_request_id(session, request_id)
        if row is None or row.source_id != source_id:
            raise ToolFailure(f"no request {request_id!r} was made here")
        return row

    def _row(self, request_id: str, source_id: int | None) -> BookingRequestRow | None:
        with self.sessions() as session:
            row = store.get_by_request_id(session, request_id)
        if row is not None and row.source_id != source_id:
            # Another source's request is not ours to read; as on /v1/bookings, say nothing
            # about it beyond that this id can't be used here.
            raise ToolFailure(f"no request {request_id!r} was made here")
        return row


def _matches(event_type: EventType, query: str | None) -> bool:
    if not query or not query.strip():
        return True
    wanted = query.strip().casefold()
    return any(wanted in (text or "").casefold() for text in (event_type.name, event_type.slug))
