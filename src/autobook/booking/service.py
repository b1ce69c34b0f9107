"""The booking service: one claimed request, moved one step at a time, every step recorded.

A task hands the service a request's primary key. The service claims the request in the database
(a lease and a fencing number), then runs its next action until the request is released:

    search ──> book ──> booked
      │  ▲       ├── already_filled ──> search without that slot (bounded)
      │  │       ├── outcome unknown ──> reconcile ──> adopt (booked) | re-search after two looks
      │  └───────┴── not sent / 429 ──> search again later
      └── nothing matches ──> waiting (re-poll later) | no_slot

This module reads one request from claim to release (`run`, `_run_claimed`). Each step is done
by a collaborator that owns one concern, built here for the claim and handed what it needs:

- `RequestRecord` (`record.py`): the claim, its lease, every fenced write, the buffered history;
- `FailureHandler` (`failures.py`): what a Calendly failure makes of the request (pause, hold,
  retry with backoff, give up);
- `SlotSearch` (`search.py`) with `SlotHolder` (`hold.py`): the search, and the hold of a slot
  with its intent, under the slot-choice lock; a chosen time through `chosen.py`;
- `Outcomes` (`outcomes.py`): the POST, the recording of what came of it, and reconcile;
- `cancel_meeting` (`cancel.py`): the cancel action of a booked request.

Invariants:
- Every write after the claim is fenced: a worker that lost its lease can change nothing.
- The lease is renewed while the request runs, and before a `POST /invitees` it is stretched to
  `post_lease` (the longest the call can take, plus the reconcile grace): nobody reconciles, let
  alone re-sends, while our POST may still land.
- An intent row is committed before each `POST /invitees`; an ambiguous failure is reconciled
  against Calendly before anything is sent again.
- A booking's outcome and the request's release are one transaction, its history with them.
- Every non-terminal release sets a next action and a time for it, so nothing sits forever.
- The service knows nothing of Celery; exceptions never escape `run` (a bad request is recorded,
  an unexpected error is recorded and retried later, then `failed`, except while a booking of
  ours may exist: then it keeps reconciling, with a capped backoff, since `failed` would lie).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from autobook import store
from autobook.booking.cancel import cancel_meeting
from autobook.booking.candidates import Chosen
from autobook.booking.context import BookingContext, Job, LeaseLost
from autobook.booking.failures import FailureHandler
from autobook.booking.hold import SlotHolder
from autobook.booking.outcomes import Outcomes
from autobook.booking.record import RequestRecord
from autobook.booking.search import SlotSearch
from autobook.errors import InvalidRequest
from autobook.models import NextAction, RequestStatus
from autobook.requests import parse_request

log = logging.getLogger(__name__)

MAX_UNEXPECTED_ERRORS = 5
UNEXPECTED_ERROR_BACKOFF = timedelta(seconds=30)
MAX_UNEXPECTED_ERROR_BACKOFF = timedelta(minutes=10)


class BookingService:
    def __init__(self, context: BookingContext) -> None:
        self.ctx = context

    def run(self, request_pk: int) -> None:
        """Claim the request and run its next actions; never raises for a request's sake."""
        with self.ctx.sessions.begin() as session:
            job = self._claim(session, request_pk=request_pk)
        if job is not None:
            self._run(job)

    def run_by_request_id(self, request_id: str) -> bool:
        """`run` for the request with this `request_id`; False if no request has it.

        The claim finds the request by its id itself: no read before it. Only a claim that
        fails (not due, leased, or unknown) looks for the request.
        """
        with self.ctx.sessions.begin() as session:
            job = self._claim(session, request_id=request_id)
            known = job is not None or store.get_by_request_id(session, request_id) is not None
        if job is not None:
            self._run(job)
        return known

    def _claim(
        self, session: Session, *, request_pk: int | None = None, request_id: str | None = None
    ) -> Job | None:
        """Claim the request (a search marks it `searching` too), in one statement on
        PostgreSQL; None if it is not claimable now."""
        claimed = store.claim_row(
            session,
            request_pk=request_pk,
            request_id=request_id,
            worker=self.ctx.worker_id,
            lease=timedelta(seconds=self.ctx.settings.lease_seconds),
            now=self.ctx.clock(),
        )
        if claimed is None:
            return None
        row = claimed.row
        return Job(
            claim=claimed.claim,
            request_pk=row.id,
            request_id=row.request_id,
            row=row,
            excluded={datetime.fromisoformat(text) for text in (row.excluded_slots or [])},
        )

    def _run(self, job: Job) -> None:
        try:
            self._run_claimed(job)
        except LeaseLost:
            log.warning("request %s: lease lost, another worker continues", job.request_id)
        except Exception as exc:
            log.exception("request %s: unexpected error", job.request_id)
            self._unexpected(job, exc)

    def _run_claimed(self, job: Job) -> None:
        """Run the claimed request's next actions until one of them releases it."""
        record = RequestRecord(self.ctx, job)
        row = job.row
        try:
            request = parse_request(row.payload)
        except InvalidRequest as exc:
            record.release(RequestStatus.INVALID, reason=exc.message, log_kind="invalid")
            return
        failures = FailureHandler(record)
        holder = SlotHolder(self.ctx, record, failures, request)
        search = SlotSearch(self.ctx, record, failures, holder, request)
        outcomes = Outcomes(self.ctx, record, failures, request)
        action: NextAction | None = row.next_action
        chosen: Chosen | None = None  # the slot `search` held, for `book`
        while action is not None and action != NextAction.NONE:
            record.keep_lease()
            if action == NextAction.CANCEL:
                cancel_meeting(record, failures)
                action = None
            elif action == NextAction.SEARCH:
                # A request withdrawn while its POST was under way ends here, never re-sent.
                # (The row as claimed says so; a withdrawal after the claim makes the intent
                # refuse, in the hold.)
                withdrawn = row.cancel_requested_at is not None and record.release_if_withdrawn()
                action, chosen = (None, None) if withdrawn else search.search()
            elif action == NextAction.BOOK:
                assert chosen is not None
                action = outcomes.book(chosen)
            elif action == NextAction.RECONCILE:
                action = outcomes.reconcile()
            else:  # pragma: no cover - the enum is closed
                raise ValueError(f"unknown next action {action}")
        record.flush_logs()

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
