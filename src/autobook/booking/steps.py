"""The actions of one claimed request: search, book, reconcile.

Each action reads what it needs, talks to Calendly, and records its outcome with fenced writes.
It returns the next action to run under the same claim, or None once the request is released.
Failures are classified by what to do next (see `autobook.errors`), never by message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from autobook import store
from autobook.booking.availability import Snapshot, align_now
from autobook.booking.body import BookingRuleViolation, build_invitee_body
from autobook.booking.constraints import constraints_for
from autobook.booking.service import BookingContext, Job, LeaseLost
from autobook.booking.slots import SearchWindow, Slot, choose_slot, search_windows
from autobook.calendly.models import AvailableTime, EventType, Invitee
from autobook.errors import (
    CalendlyError,
    InvalidRequest,
    OutcomeUnknown,
    RateLimited,
    RequestRejected,
    SlotTaken,
    Unauthorized,
)
from autobook.models import NextAction, RequestStatus
from autobook.requests import BookingRequest, EventTypeSelector, parse_request
from autobook.times import utc_z

log = logging.getLogger(__name__)

RECONCILE_LOOKS = 2
RECONCILE_WINDOW = timedelta(minutes=1)
MAX_NOT_SENT_RETRIES = 8
NOT_SENT_BACKOFF = timedelta(seconds=5)
MAX_BACKOFF = timedelta(minutes=10)
TOKEN_CHECK_INTERVAL = timedelta(seconds=30)
# Our attempts made slightly before a poll may not show in it yet (clocks, transit).
SNAPSHOT_CLOCK_MARGIN = timedelta(seconds=2)


@dataclass
class Chosen:
    event_type: EventType
    slot: AvailableTime


class Steps:
    """Runs the next actions of one claimed request."""

    def __init__(self, context: BookingContext, job: Job) -> None:
        self.ctx = context
        self.job = job
        self.request: BookingRequest | None = None

    # -- plumbing --------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.ctx.clock()

    def _update(self, **fields: Any) -> None:
        with self.ctx.sessions.begin() as session:
            if not store.update_claimed(session, self.job.claim, **fields):
                raise LeaseLost

    def _log(self, kind: str, message: str, data: dict[str, Any] | None = None) -> None:
        with self.ctx.sessions.begin() as session:
            store.log(session, self.job.request_pk, kind, message, data)

    def _release(
        self,
        status: RequestStatus,
        *,
        next_action: NextAction = NextAction.NONE,
        at: datetime | None = None,
        reason: str | None = None,
        log_kind: str | None = None,
        **fields: Any,
    ) -> None:
        with self.ctx.sessions.begin() as session:
            applied = store.release(
                session,
                self.job.claim,
                status=status,
                next_action=next_action,
                next_action_at=at,
                reason=reason,
                **fields,
            )
            if not applied:
                raise LeaseLost
            if log_kind is not None:
                store.log(session, self.job.request_pk, log_kind, reason or str(status))

    def _row(self) -> store.BookingRequestRow:
        with self.ctx.sessions.begin() as session:
            row = store.get(session, self.job.request_pk)
            session.expunge(row)
            return row

    # -- entry -----------------------------------------------------------------------------

    def run(self) -> None:
        row = self._row()
        try:
            self.request = parse_request(row.payload)
        except InvalidRequest as exc:
            self._release(RequestStatus.INVALID, reason=exc.message, log_kind="invalid")
            return
        action: NextAction | None = row.next_action
        chosen: Chosen | None = None
        while action is not None and action != NextAction.NONE:
            if action == NextAction.SEARCH:
                action, chosen = self.search()
            elif action == NextAction.BOOK:
                assert chosen is not None
                action = self.book(chosen)
            elif action == NextAction.RECONCILE:
                action = self.reconcile()
            else:  # pragma: no cover - the enum is closed
                raise ValueError(f"unknown next action {action}")

    # -- search ----------------------------------------------------------------------------

    def _resolve(self) -> EventType:
        assert self.request is not None
        ref = self.request.event_type
        if isinstance(ref, EventTypeSelector):
            event_type = self.ctx.resolver.by_selector(ref)
        else:
            event_type = self.ctx.resolver.by_uri(ref)
            if not event_type.active:
                raise RequestRejected(f"event_type: event type {event_type.name!r} is inactive")
        return event_type

    def search(self) -> tuple[NextAction | None, Chosen | None]:
        assert self.request is not None
        request = self.request
        self._update(status=RequestStatus.SEARCHING)
        try:
            event_type = self._resolve()
        except CalendlyError as exc:
            self._calendly_failure(exc, during="resolving the event type")
            return None, None
        self._update(event_type_uri=event_type.uri)
        self._log("resolved", f"event type {event_type.name!r}", {"uri": event_type.uri})
        now = self._now()
        constraints = constraints_for(request)
        windows = search_windows(
            constraints,
            align_now(now),
            max_window_days=self.ctx.settings.max_window_days,
            horizon=timedelta(days=self.ctx.settings.search_horizon_days),
        )
        row = self._row()
        excluded = {datetime.fromisoformat(text) for text in (row.excluded_slots or [])}
        duration = timedelta(minutes=event_type.duration or 0)
        best: tuple[Slot, AvailableTime] | None = None
        for window in windows:
            try:
                snapshot = self.ctx.snapshots.get(event_type.uri, window)
            except CalendlyError as exc:
                self._calendly_failure(exc, during="polling availability")
                return None, None
            times = self._still_open(event_type.uri, snapshot)
            self._log(
                "window_polled",
                f"{utc_z(window.start)} to {utc_z(window.end)}: {len(times)} open slots"
                + ("" if snapshot.fresh else " (shared snapshot)"),
            )
            by_start = {t.start_time: t for t in times}
            slot = choose_slot(
                [Slot(t.start_time, t.invitees_remaining or 1) for t in times],
                duration,
                constraints,
                self._now(),
                exclude=excluded,
            )
            if slot is None:
                continue
            candidate = (slot, by_start[slot.start])
            if request.prefer == "earliest":
                best = candidate
                break
            if best is None or slot.start > best[0].start:
                best = candidate
        if best is None:
            self._no_match(windows)
            return None, None
        self._log("slot_chosen", f"slot {best[1].start_time_raw}")
        return NextAction.BOOK, Chosen(event_type, best[1])

    def _still_open(self, event_type_uri: str, snapshot: Snapshot) -> list[AvailableTime]:
        """The snapshot's slots minus the seats our workers took since it was polled."""
        with self.ctx.sessions.begin() as session:
            claims = store.slot_claims_since(
                session, event_type_uri, since=snapshot.polled_at - SNAPSHOT_CLOCK_MARGIN
            )
        still_open: list[AvailableTime] = []
        for slot in snapshot.slots:
            remaining = (slot.invitees_remaining or 1) - claims.get(slot.start_time, 0)
            if remaining > 0:
                still_open.append(slot.model_copy(update={"invitees_remaining": remaining}))
        return still_open

    def _no_match(self, windows: list[SearchWindow]) -> None:
        assert self.request is not None
        now = self._now()
        until = self.request.keep_trying_until
        span = (
            f"between {utc_z(windows[0].start)} and {utc_z(windows[-1].end)}"
            if windows
            else "in the requested window (it is already over)"
        )
        if until is not None and until > now:
            at = min(now + timedelta(seconds=self.ctx.settings.waiting_repoll_seconds), until)
            self._release(
                RequestStatus.WAITING,
                next_action=NextAction.SEARCH,
                at=at,
                reason=f"no matching slot {span}; searching again until {utc_z(until)}",
                log_kind="waiting",
            )
        else:
            self._release(
                RequestStatus.NO_SLOT,
                reason=f"no slot meets the request's constraints {span}",
                log_kind="no_slot",
            )

    # -- book ------------------------------------------------------------------------------

    def book(self, chosen: Chosen) -> NextAction | None:
        assert self.request is not None
        try:
            built = build_invitee_body(self.request, chosen.event_type, chosen.slot)
        except BookingRuleViolation as exc:
            self._release(RequestStatus.REJECTED, reason=exc.message, log_kind="rejected")
            return None
        for note in built.notes:
            self._log("body", note)
        self._update(status=RequestStatus.BOOKING, correlation_token=built.correlation_token)
        with self.ctx.sessions.begin() as session:
            attempt_id = store.record_intent(
                session,
                self.job.claim,
                slot_start=chosen.slot.start_time,
                correlation_token=built.correlation_token or "",
            )
            if attempt_id is None:
                raise LeaseLost
            store.log(
                session,
                self.job.request_pk,
                "intent",
                f"booking {chosen.slot.start_time_raw}",
                {"event_type": chosen.event_type.uri, "attempt": attempt_id},
            )
        try:
            invitee = self.ctx.client.create_invitee(built.body)
        except SlotTaken as exc:
            self._finish_attempt(attempt_id, "rejected", exc)
            return self._slot_taken(chosen)
        except OutcomeUnknown as exc:
            self._finish_attempt(attempt_id, "unknown", exc)
            grace = timedelta(seconds=self.ctx.settings.reconcile_grace_seconds)
            self._release(
                RequestStatus.UNKNOWN,
                next_action=NextAction.RECONCILE,
                at=self._now() + grace,
                reason=f"outcome unknown ({exc.message}); reconciling before any re-send",
                log_kind="api_outcome",
            )
            return None
        except CalendlyError as exc:
            state = "rejected" if isinstance(exc, RequestRejected) else "not_sent"
            self._finish_attempt(attempt_id, state, exc)
            self._calendly_failure(exc, during="booking")
            return None
        with self.ctx.sessions.begin() as session:
            store.finish_attempt(
                session, self.job.claim, attempt_id, state="booked", http_status=201
            )
        self._booked(invitee, chosen.event_type, how="booked")
        return None

    def _finish_attempt(self, attempt_id: int, state: str, exc: CalendlyError) -> None:
        with self.ctx.sessions.begin() as session:
            store.finish_attempt(
                session,
                self.job.claim,
                attempt_id,
                state=state,
                http_status=exc.status,
                reason=exc.message,
            )
            store.log(session, self.job.request_pk, "api_outcome", f"{state}: {exc.message}")

    def _slot_taken(self, chosen: Chosen) -> NextAction | None:
        row = self._row()
        with self.ctx.sessions.begin() as session:
            earlier_unknown = store.has_unknown_attempt(session, self.job.request_pk)
        if earlier_unknown:
            # The slot may be filled by our own earlier, unanswered POST.
            return NextAction.RECONCILE
        excluded = [*(row.excluded_slots or []), chosen.slot.start_time.isoformat()]
        self.ctx.snapshots.forget(chosen.event_type.uri)
        if len(excluded) > self.ctx.settings.max_slot_retries:
            self._release(
                RequestStatus.NO_SLOT,
                reason=f"{len(excluded)} matching slots were taken while booking; gave up",
                log_kind="no_slot",
                excluded_slots=excluded,
            )
            return None
        self._update(excluded_slots=excluded)
        return NextAction.SEARCH

    def _booked(self, invitee: Invitee, event_type: EventType, *, how: str) -> None:
        location: dict[str, Any] | None = None
        start_time: datetime | None = None
        try:
            event = self.ctx.client.get_scheduled_event(invitee.event)
            location = event.location
            start_time = event.start_time
        except CalendlyError as exc:
            self._log("event_read", f"booked, but reading the event failed: {exc.message}")
        self._release(
            RequestStatus.BOOKED,
            reason=None,
            log_kind=None,
            event_uri=invitee.event,
            invitee_uri=invitee.uri,
            cancel_url=invitee.cancel_url,
            reschedule_url=invitee.reschedule_url,
            start_time=start_time,
            location=location,
            event_type_uri=event_type.uri,
        )
        self._log(how, f"{how}: {invitee.event}", {"invitee": invitee.uri})

    # -- reconcile -------------------------------------------------------------------------

    def reconcile(self) -> NextAction | None:
        assert self.request is not None
        with self.ctx.sessions.begin() as session:
            attempt = store.latest_unresolved_attempt(session, self.job.request_pk)
            if attempt is not None:
                session.expunge(attempt)
        if attempt is None:
            return NextAction.SEARCH
        try:
            event_type = self._resolve()
            found = self._find_booking(
                attempt.slot_start, attempt.correlation_token or None, event_type
            )
        except CalendlyError as exc:
            self._calendly_failure(exc, during="reconciling", next_action=NextAction.RECONCILE)
            return None
        if found is not None:
            with self.ctx.sessions.begin() as session:
                store.finish_attempt(session, self.job.claim, attempt.id, state="adopted")
            self._log("reconciled", "found our booking at Calendly: adopted it")
            self._booked(found, event_type, how="adopted")
            return None
        looks = attempt.reconcile_looks + 1
        with self.ctx.sessions.begin() as session:
            store.note_reconcile_look(session, self.job.claim, attempt.id, looks=looks)
        if looks < RECONCILE_LOOKS:
            grace = timedelta(seconds=self.ctx.settings.reconcile_grace_seconds)
            self._release(
                RequestStatus.UNKNOWN,
                next_action=NextAction.RECONCILE,
                at=self._now() + grace,
                reason=f"booking not found at Calendly (look {looks}); looking again",
                log_kind="reconciled",
            )
            return None
        with self.ctx.sessions.begin() as session:
            store.finish_attempt(session, self.job.claim, attempt.id, state="not_found")
            store.log(
                session,
                self.job.request_pk,
                "reconciled",
                f"booking provably absent after {looks} looks: searching again",
            )
        return NextAction.SEARCH

    def _find_booking(
        self, slot_start: datetime, token: str | None, event_type: EventType
    ) -> Invitee | None:
        assert self.request is not None
        email = self.request.invitee.email
        # Reconciling a booking goes before polls: it may use the budget's booking reserve.
        client = self.ctx.client.prioritized()
        events = client.iter_scheduled_events(
            organization=self.ctx.resolver.organization(),
            invitee_email=email,
            status="active",
            min_start_time=slot_start - RECONCILE_WINDOW,
            max_start_time=slot_start + RECONCILE_WINDOW,
        )
        for event in events:
            if event.event_type != event_type.uri or event.start_time != slot_start:
                continue
            for invitee in client.iter_event_invitees(event.uri, email=email, status="active"):
                values = set((invitee.tracking or {}).values())
                if token is None or token in values:
                    return invitee
        return None

    # -- failures --------------------------------------------------------------------------

    def _calendly_failure(
        self,
        exc: CalendlyError,
        *,
        during: str,
        next_action: NextAction = NextAction.SEARCH,
    ) -> None:
        now = self._now()
        row = self._row()
        if isinstance(exc, Unauthorized):
            with self.ctx.sessions.begin() as session:
                store.pause_sending(session, reason=exc.message, now=now)
            self._release(
                row.status,
                next_action=next_action,
                at=now + TOKEN_CHECK_INTERVAL,
                reason=f"held: Calendly refused the token while {during} (401); "
                "sending is paused until the token works",
                log_kind="held",
            )
        elif isinstance(exc, RateLimited):
            self._release(
                row.status,
                next_action=next_action,
                at=now + timedelta(seconds=max(exc.retry_after, 1.0)),
                reason=f"rate limited while {during}; waiting {exc.retry_after:.0f}s",
                log_kind="rate_limited",
            )
        elif isinstance(exc, RequestRejected):
            who = "Calendly refused" if exc.status is not None else "refused"
            self._release(
                RequestStatus.REJECTED,
                reason=f"{who} while {during}: {describe_refusal(exc)}",
                log_kind="rejected",
            )
        else:
            retries = row.transient_failures + 1
            if retries > MAX_NOT_SENT_RETRIES:
                self._release(
                    RequestStatus.FAILED,
                    reason=f"gave up after {retries} failures while {during}: {exc.message}",
                    log_kind="failed",
                    transient_failures=retries,
                )
            else:
                backoff = min(NOT_SENT_BACKOFF * 2 ** (retries - 1), MAX_BACKOFF)
                if self.ctx.settings.testing:
                    backoff = timedelta(seconds=1)
                self._release(
                    row.status,
                    next_action=next_action,
                    at=now + backoff,
                    reason=f"{type(exc).__name__} while {during}: {exc.message}; retrying",
                    log_kind="retry",
                    transient_failures=retries,
                )


def describe_refusal(exc: CalendlyError) -> str:
    """Calendly's message with each detail's parameter, e.g. `tracking.utm_content: is missing`."""
    parts = [exc.info.message or exc.message]
    for detail in exc.details:
        prefix = f"{detail.parameter}: " if detail.parameter else ""
        parts.append(f"{prefix}{detail.message}")
    if exc.status is not None:
        parts.insert(0, f"HTTP {exc.status}")
    return "; ".join(p for p in parts if p)
