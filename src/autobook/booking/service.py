"""The booking service: one claimed request, moved one step at a time, every step recorded.

A task hands the service a request's primary key. The service claims the request in the database
(a lease and a fencing number), then runs its next action until the request is released:

    search ──> book ──> booked
      │  ▲       ├── already_filled ──> search without that slot (bounded)
      │  │       ├── outcome unknown ──> reconcile ──> adopt (booked) | re-search after two looks
      │  └───────┴── not sent / 429 ──> search again later
      └── nothing matches ──> waiting (re-poll later) | no_slot

Invariants:
- Every write after the claim is fenced: a worker that lost its lease can change nothing.
- The lease is renewed while the request runs, and before a `POST /invitees` it is stretched to
  `post_lease` (the longest the call can take, plus the reconcile grace): nobody reconciles, let
  alone re-sends, while our POST may still land.
- An intent row is committed before each `POST /invitees`; an ambiguous failure is reconciled
  against Calendly before anything is sent again.
- Every non-terminal release sets a next action and a time for it, so nothing sits forever.
- The service knows nothing of Celery; exceptions never escape `run` (a bad request is recorded,
  an unexpected error is recorded and retried later, then `failed`, except while a booking of
  ours may exist: then it keeps reconciling, with a capped backoff, since `failed` would lie).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from autobook import store
from autobook.booking.context import BookingContext, Job, LeaseLost
from autobook.booking.steps import Steps
from autobook.models import NextAction, RequestStatus

log = logging.getLogger(__name__)

MAX_UNEXPECTED_ERRORS = 5
UNEXPECTED_ERROR_BACKOFF = timedelta(seconds=30)
MAX_UNEXPECTED_ERROR_BACKOFF = timedelta(minutes=10)


class BookingService:
    def __init__(self, context: BookingContext) -> None:
        self.ctx = context

    # -- claim lifecycle -------------------------------------------------------------------

    def run(self, request_pk: int) -> None:
        """Claim the request and run its next actions; never raises for a request's sake."""
        now = self.ctx.clock()
        with self.ctx.sessions.begin() as session:
            claim = store.claim(
                session,
                request_pk,
                worker=self.ctx.worker_id,
                lease=timedelta(seconds=self.ctx.settings.lease_seconds),
                now=now,
            )
            if claim is None:
                return
            row = store.get(session, request_pk)
            session.expunge(row)
            if row.next_action is NextAction.SEARCH and not store.update_claimed(
                session, claim, status=RequestStatus.SEARCHING, now=now
            ):
                return  # pragma: no cover - the claim was taken in this very transaction
            job = Job(claim=claim, request_pk=request_pk, request_id=row.request_id, row=row)
        try:
            Steps(self.ctx, job).run()
        except LeaseLost:
            log.warning("request %s: lease lost, another worker continues", job.request_id)
        except Exception as exc:
            log.exception("request %s: unexpected error", job.request_id)
            self._unexpected(job, exc)

    def _unexpected(self, job: Job, exc: Exception) -> None:
        try:
            self._record_unexpected(job, exc)
        except LeaseLost:
            pass
        except Exception:
            # The database itself may be the problem; the lease expires and the dispatcher
            # sends the request again.
            log.exception("request %s: could not record the error", job.request_id)

    def _record_unexpected(self, job: Job, exc: Exception) -> None:
        now = self.ctx.clock()
        reason = f"internal error: {type(exc).__name__}: {str(exc)[:300]}"
        with self.ctx.sessions.begin() as session:
            row = store.get(session, job.request_pk)
            errors = int((row.extra or {}).get("unexpected_errors", 0)) + 1
            extra = {**(row.extra or {}), "unexpected_errors": errors}
            store.log(session, job.request_pk, "error", reason)
            # After an intent the next action is reconcile: a booking may exist, so never give
            # up into `failed` (the database would then contradict Calendly).
            unclear = row.next_action is NextAction.RECONCILE
            if errors >= MAX_UNEXPECTED_ERRORS and not unclear:
                applied = store.release(
                    session,
                    job.claim,
                    status=RequestStatus.FAILED,
                    next_action=NextAction.NONE,
                    next_action_at=None,
                    reason=f"gave up after {errors} internal errors; last: {reason}",
                    extra=extra,
                )
            else:
                backoff = min(UNEXPECTED_ERROR_BACKOFF * errors, MAX_UNEXPECTED_ERROR_BACKOFF)
                applied = store.release(
                    session,
                    job.claim,
                    status=row.status,
                    next_action=row.next_action,
                    next_action_at=now + backoff,
                    reason=reason,
                    extra=extra,
                )
            if not applied:
                raise LeaseLost
