"""Fenced writes of one claimed request, its lease, and what each Calendly failure makes of it.

`Failures` is the base of `Steps`: it holds the claim, renews its lease, and does every write
through the store's fenced transitions (a False from the store means another worker owns the
request now, and `LeaseLost` stops this one at once). It also turns a classified Calendly
failure into the request's next state, by what to do next (DESIGN §4), never by message:

| failure                  | while searching or booking           | while reconciling             |
|--------------------------|--------------------------------------|-------------------------------|
| Unauthorized (401)       | pause all sending; hold the request  | same (keeps reconcile next)   |
| RateLimited (429)        | same status, next try at the reset   | same                          |
| RequestRejected 400-404  | `rejected`, with Calendly's reason   | retried: a booking may exist  |
| not sent, other errors   | backoff, then `failed` after retries | backoff, more patiently       |

A held request keeps its status and is due at once: the pause keeps every claim out, and when
the token works again (or `autobook resume`) it continues at the next dispatch.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from autobook import store
from autobook.booking.context import BookingContext, Job, LeaseLost
from autobook.errors import CalendlyError, RateLimited, RequestRejected, Unauthorized
from autobook.models import AttemptState, NextAction, RequestStatus

log = logging.getLogger(__name__)

MAX_NOT_SENT_RETRIES = 8
# Reconciling decides whether a booking exists: give it far longer before asking a person.
MAX_RECONCILE_FAILURES = 20
NOT_SENT_BACKOFF = timedelta(seconds=5)
TESTING_NOT_SENT_BACKOFF = timedelta(seconds=0.5)
MAX_BACKOFF = timedelta(minutes=10)
TESTING_MAX_BACKOFF = timedelta(seconds=4)
MIN_RATE_LIMIT_WAIT_SECONDS = 1.0
# A request due sooner than this after its release is woken directly (`Failures._wake`); a
# later one is left to the dispatcher (a broker may hold a delayed message only so long).
MAX_WAKE_DELAY = timedelta(minutes=5)


class Failures:
    """The claim, its fenced writes, and the classification of Calendly failures."""

    def __init__(self, context: BookingContext, job: Job) -> None:
        self.ctx = context
        self.job = job
        # History written with the next fenced transaction, not one transaction per line.
        self._pending_logs: list[store.LogEntry] = []

    # -- plumbing --------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.ctx.clock()

    @property
    def grace(self) -> timedelta:
        """How long a late commit of an unanswered POST gets before we look for it."""
        return timedelta(seconds=self.ctx.settings.reconcile_grace_seconds)

    def _update(self, **fields: Any) -> None:
        with self.ctx.sessions.begin() as session:
            if not store.update_claimed(session, self.job.claim, **fields):
                raise LeaseLost
            self._write_logs(session)

    def _log(self, kind: str, message: str, data: dict[str, Any] | None = None) -> None:
        """Add to the request's history, with the next fenced write (see `_write_logs`)."""
        self._pending_logs.append(store.LogEntry(kind, message, data, self._now()))

    def _write_logs(self, session: Session) -> None:
        """Write the pending history; call only after a fenced write applied in `session`.

        Fenced so: a worker that lost the request adds nothing, not even to its history. A
        crash loses the lines not written yet, never a state: the state is in the row.
        """
        store.log_many(session, self.job.request_pk, self._pending_logs)
        self._pending_logs.clear()

    def _flush_logs(self) -> None:
        """Write whatever history is still pending, in a transaction of its own."""
        if not self._pending_logs:
            return
        with self.ctx.sessions.begin() as session:
            if not store.update_claimed(session, self.job.claim):
                raise LeaseLost
            self._write_logs(session)

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
                self._log(log_kind, reason or str(status))
            self._write_logs(session)

    def _row(self) -> store.BookingRequestRow:
        with self.ctx.sessions.begin() as session:
            row = store.get(session, self.job.request_pk)
            session.expunge(row)
            return row

    def _finish_attempt(
        self,
        attempt_id: int,
        state: AttemptState,
        exc: CalendlyError,
        *,
        slot_taken: bool = False,
    ) -> None:
        with self.ctx.sessions.begin() as session:
            if not store.finish_attempt(
                session,
                self.job.claim,
                attempt_id,
                state=state,
                http_status=exc.status,
                reason=exc.message,
                slot_taken=slot_taken,
            ):
                raise LeaseLost
            self._log("api_outcome", f"{state}: {exc.message}")
            self._write_logs(session)

    def _renew(self, at_least: timedelta | None = None) -> None:
        """Extend the lease to `now + max(lease, at_least)`; LeaseLost if it is gone."""
        lease = timedelta(seconds=self.ctx.settings.lease_seconds)
        if at_least is not None:
            lease = max(lease, at_least)
        with self.ctx.sessions.begin() as session:
            renewed = store.renew_lease(session, self.job.claim, lease=lease, now=self._now())
            if renewed is not None:
                self._write_logs(session)
        if renewed is None:
            raise LeaseLost
        self.job.claim = renewed

    def _wake(self, at: datetime) -> None:
        """Ring the doorbell for this request at `at`, when that is soon (after a release).

        Without it the request waits for the dispatcher's next tick after `at`. The request is
        marked dispatched at `at`, so the dispatcher doesn't ring it too; if the message is
        lost, the dispatcher sends it again after its redispatch delay.
        """
        if self.ctx.wake is None or at - self._now() > MAX_WAKE_DELAY:
            return
        try:
            self.ctx.wake(self.job.request_id, at)
        except Exception:  # the broker is only a doorbell: the dispatcher still finds it
            log.warning("request %s: could not schedule its next run", self.job.request_id)
            return
        with self.ctx.sessions.begin() as session:
            store.mark_dispatched(session, [self.job.request_pk], now=at)

    def _keep_lease(self) -> None:
        """Renew when less than half of the lease is left (cheap to call often)."""
        half = timedelta(seconds=self.ctx.settings.lease_seconds / 2)
        if self.job.claim.lease_expires_at - self._now() < half:
            self._renew()

    def _resting_status(self, next_action: NextAction) -> RequestStatus:
        """The status a released request shows while it waits for `next_action`."""
        status = self._row().status
        if status is RequestStatus.BOOKING and next_action is NextAction.SEARCH:
            return RequestStatus.SEARCHING  # the POST provably booked nothing
        return status

    def _backoff(self, failures: int) -> timedelta:
        testing = self.ctx.settings.testing
        first = TESTING_NOT_SENT_BACKOFF if testing else NOT_SENT_BACKOFF
        cap = TESTING_MAX_BACKOFF if testing else MAX_BACKOFF
        backoff: timedelta = first * 2 ** min(failures - 1, 20)
        return min(backoff, cap)

    # -- holding ---------------------------------------------------------------------------

    def _hold(self, next_action: NextAction, why: str, *, during: str) -> None:
        """Keep the request as it is until sending resumes; due at once, the pause gates it."""
        self._release(
            self._resting_status(next_action),
            next_action=next_action,
            at=self._now(),
            reason=f"held: {why} while {during}; sending is paused until the token works",
            log_kind="held",
        )

    # -- failures --------------------------------------------------------------------------

    def _pause(self, exc: Unauthorized) -> None:
        """The 401 rule: stop every worker's sending at once (record_intent refuses from now)."""
        with self.ctx.sessions.begin() as session:
            store.pause_sending(session, reason=exc.message, now=self._now())

    def _calendly_failure(
        self,
        exc: CalendlyError,
        *,
        during: str,
        next_action: NextAction = NextAction.SEARCH,
    ) -> None:
        now = self._now()
        if isinstance(exc, Unauthorized):
            self._pause(exc)
            self._hold(next_action, "Calendly refused the token (401)", during=during)
        elif isinstance(exc, RateLimited):
            at = now + timedelta(seconds=max(exc.retry_after, MIN_RATE_LIMIT_WAIT_SECONDS))
            self._release(
                self._resting_status(next_action),
                next_action=next_action,
                at=at,
                reason=f"rate limited while {during}; waiting {exc.retry_after:.0f}s",
                log_kind="rate_limited",
            )
            # Due the moment the budget allows, not at the dispatcher's next tick after it.
            self._wake(at)
        elif isinstance(exc, RequestRejected):
            who = "Calendly refused" if exc.status is not None else "refused"
            self._release(
                RequestStatus.REJECTED,
                reason=f"{who} while {during}: {describe_refusal(exc)}",
                log_kind="rejected",
            )
        else:
            self._transient(exc, during=during, next_action=next_action, limit=MAX_NOT_SENT_RETRIES)

    def _reconcile_failure(self, exc: CalendlyError) -> None:
        """A failed lookup proves nothing: the request stays `unknown` and looks again."""
        if isinstance(exc, Unauthorized | RateLimited):
            self._calendly_failure(exc, during="reconciling", next_action=NextAction.RECONCILE)
            return
        self._transient(
            exc,
            during="reconciling",
            next_action=NextAction.RECONCILE,
            limit=MAX_RECONCILE_FAILURES,
        )

    def _transient(
        self, exc: CalendlyError, *, during: str, next_action: NextAction, limit: int
    ) -> None:
        retries = self._row().transient_failures + 1
        if retries > limit:
            reason = f"gave up after {retries} failures while {during}: {exc.message}"
            if next_action is NextAction.RECONCILE:
                reason += "; a booking may exist at Calendly: check before booking again"
            self._release(
                RequestStatus.FAILED,
                reason=reason,
                log_kind="failed",
                transient_failures=retries,
            )
            return
        self._release(
            self._resting_status(next_action),
            next_action=next_action,
            at=self._now() + self._backoff(retries),
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
