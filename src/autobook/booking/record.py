"""The claim of one request: its lease, its fenced writes, and its buffered history.

Every write after the claim is fenced by its lease: a False from the store means another
worker owns the request now, and `LeaseLost` stops this one at once. The plain writes (release,
update, an attempt's failure) are made here; a collaborator whose writes must share one
transaction (the hold's choice and intent, a booking's outcome and release) fences them with the
same `job.claim` and writes the buffered history in that transaction (`write_logs`). History
lines (`log`) wait for the next fenced transaction, not one transaction per line, so a worker
that lost the request adds nothing, not even to its history, and a crash loses only lines,
never a state.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from autobook import store
from autobook.booking.context import BookingContext, Job, LeaseLost
from autobook.errors import CalendlyError
from autobook.models import AttemptState, NextAction, RequestStatus

log = logging.getLogger(__name__)

# A request due sooner than this after its release is woken directly (`RequestRecord.wake`); a
# later one is left to the dispatcher (a broker may hold a delayed message only so long).
MAX_WAKE_DELAY = timedelta(minutes=5)


class RequestRecord:
    """The claim of one request and every write made under it."""

    def __init__(self, context: BookingContext, job: Job) -> None:
        self.ctx = context
        self.job = job
        # History written with the next fenced transaction, not one transaction per line.
        self._pending_logs: list[store.LogEntry] = []

    def now(self) -> datetime:
        return self.ctx.clock()

    @property
    def grace(self) -> timedelta:
        """How long a late commit of an unanswered POST gets before we look for it."""
        return timedelta(seconds=self.ctx.settings.reconcile_grace_seconds)

    # -- history ---------------------------------------------------------------------------

    def log(self, kind: str, message: str, data: dict[str, Any] | None = None) -> None:
        """Add to the request's history, with the next fenced write (see `write_logs`)."""
        self._pending_logs.append(store.LogEntry(kind, message, data, self.now()))

    def drop_pending_logs(self) -> None:
        """Forget the history not written yet (a search again that changed nothing)."""
        self._pending_logs.clear()

    def write_logs(self, session: Session) -> None:
        """Write the pending history; call only after a fenced write applied in `session`.

        Fenced so: a worker that lost the request adds nothing, not even to its history. A
        crash loses the lines not written yet, never a state: the state is in the row.
        """
        store.log_many(session, self.job.request_pk, self._pending_logs)
        self._pending_logs.clear()

    def flush_logs(self) -> None:
        """Write whatever history is still pending, in a transaction of its own."""
        if not self._pending_logs:
            return
        with self.ctx.sessions.begin() as session:
            if not store.update_claimed(session, self.job.claim):
                raise LeaseLost
            self.write_logs(session)

    # -- fenced writes ---------------------------------------------------------------------

    def read_row(self) -> store.BookingRequestRow:
        with self.ctx.sessions.begin() as session:
            row = store.get(session, self.job.request_pk)
            session.expunge(row)
            return row

    def update(self, **fields: Any) -> None:
        with self.ctx.sessions.begin() as session:
            if not store.update_claimed(session, self.job.claim, **fields):
                raise LeaseLost
            self.write_logs(session)

    def release(
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
                self.log(log_kind, reason or str(status))
            self.write_logs(session)

    def release_if_withdrawn(self) -> bool:
        """Release the request as `canceled` if its source asked to withdraw it."""
        with self.ctx.sessions.begin() as session:
            requested = store.cancel_requested(session, self.job.request_pk)
        if requested:
            self.release(
                RequestStatus.CANCELED,
                reason=f"{store.WITHDRAWN_REASON} (no booking was made)",
                log_kind="canceled",
            )
        return requested

    def finish_attempt(
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
            self.log("api_outcome", f"{state}: {exc.message}")
            self.write_logs(session)

    # -- the lease and the doorbell --------------------------------------------------------

    def renew(self, at_least: timedelta | None = None) -> None:
        """Extend the lease to `now + max(lease, at_least)`; LeaseLost if it is gone."""
        lease = timedelta(seconds=self.ctx.settings.lease_seconds)
        if at_least is not None:
            lease = max(lease, at_least)
        with self.ctx.sessions.begin() as session:
            renewed = store.renew_lease(session, self.job.claim, lease=lease, now=self.now())
            if renewed is not None:
                self.write_logs(session)
        if renewed is None:
            raise LeaseLost
        self.job.claim = renewed

    def keep_lease(self) -> None:
        """Renew when less than half of the lease is left (cheap to call often)."""
        half = timedelta(seconds=self.ctx.settings.lease_seconds / 2)
        if self.job.claim.lease_expires_at - self.now() < half:
            self.renew()

    def wake(self, at: datetime) -> None:
        """Ring the doorbell for this request at `at`, when that is soon (after a release).

        Without it the request waits for the dispatcher's next tick after `at`. The request is
        marked dispatched at `at`, so the dispatcher doesn't ring it too; if the message is
        lost, the dispatcher sends it again after its redispatch delay.
        """
        if self.ctx.wake is None or at - self.now() > MAX_WAKE_DELAY:
            return
        try:
            self.ctx.wake(self.job.request_id, at)
        except Exception:  # the broker is only a doorbell: the dispatcher still finds it
            log.warning("request %s: could not schedule its next run", self.job.request_id)
            return
        with self.ctx.sessions.begin() as session:
            store.mark_dispatched(session, [self.job.request_pk], now=at)
