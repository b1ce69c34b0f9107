"""What each Calendly failure makes of a claimed request: classified by what to do next.

`FailureHandler` turns a classified Calendly failure into the request's next state (DESIGN §4),
never by message, and writes it through the request's `RequestRecord` (fenced by the lease):

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

from datetime import timedelta

from autobook import store
from autobook.booking.record import RequestRecord
from autobook.errors import CalendlyError, RateLimited, RequestRejected, Unauthorized
from autobook.models import NextAction, RequestStatus

MAX_NOT_SENT_RETRIES = 8
# Reconciling decides whether a booking exists: give it far longer before asking a person.
MAX_RECONCILE_FAILURES = 20
NOT_SENT_BACKOFF = timedelta(seconds=5)
TESTING_NOT_SENT_BACKOFF = timedelta(seconds=0.5)
MAX_BACKOFF = timedelta(minutes=10)
TESTING_MAX_BACKOFF = timedelta(seconds=4)
MIN_RATE_LIMIT_WAIT_SECONDS = 1.0


class FailureHandler:
    """Pauses, holds, retries with backoff, or gives up one claimed request after a failure."""

    def __init__(self, record: RequestRecord) -> None:
        self.record = record
        self.settings = record.ctx.settings

    def resting_status(self, next_action: NextAction) -> RequestStatus:
        """The status a released request shows while it waits for `next_action`."""
        status = self.record.read_row().status
        if status is RequestStatus.BOOKING and next_action is NextAction.SEARCH:
            return RequestStatus.SEARCHING  # the POST provably booked nothing
        return status

    def backoff(self, failures: int) -> timedelta:
        testing = self.settings.testing
        first = TESTING_NOT_SENT_BACKOFF if testing else NOT_SENT_BACKOFF
        cap = TESTING_MAX_BACKOFF if testing else MAX_BACKOFF
        backoff: timedelta = first * 2 ** min(failures - 1, 20)
        return min(backoff, cap)

    # -- holding ---------------------------------------------------------------------------

    def hold(self, next_action: NextAction, why: str, *, during: str) -> None:
        """Keep the request as it is until sending resumes; due at once, the pause gates it."""
        self.record.release(
            self.resting_status(next_action),
            next_action=next_action,
            at=self.record.now(),
            reason=f"held: {why} while {during}; sending is paused until the token works",
            log_kind="held",
        )

    # -- failures --------------------------------------------------------------------------

    def pause(self, exc: Unauthorized) -> None:
        """The 401 rule: stop every worker's sending at once (record_intent refuses from now)."""
        with self.record.ctx.sessions.begin() as session:
            store.pause_sending(session, reason=exc.message, now=self.record.now())

    def calendly_failure(
        self,
        exc: CalendlyError,
        *,
        during: str,
        next_action: NextAction = NextAction.SEARCH,
    ) -> None:
        now = self.record.now()
        if isinstance(exc, Unauthorized):
            self.pause(exc)
            self.hold(next_action, "Calendly refused the token (401)", during=during)
        elif isinstance(exc, RateLimited):
            at = now + timedelta(seconds=max(exc.retry_after, MIN_RATE_LIMIT_WAIT_SECONDS))
            self.record.release(
                self.resting_status(next_action),
                next_action=next_action,
                at=at,
                reason=f"rate limited while {during}; waiting {exc.retry_after:.0f}s",
                log_kind="rate_limited",
            )
            # Due the moment the budget allows, not at the dispatcher's next tick after it.
            self.record.wake(at)
        elif isinstance(exc, RequestRejected):
            who = "Calendly refused" if exc.status is not None else "refused"
            self.record.release(
                RequestStatus.REJECTED,
                reason=f"{who} while {during}: {describe_refusal(exc)}",
                log_kind="rejected",
            )
        else:
            self._transient(exc, during=during, next_action=next_action, limit=MAX_NOT_SENT_RETRIES)

    def reconcile_failure(self, exc: CalendlyError) -> None:
        """A failed lookup proves nothing: the request stays `unknown` and looks again."""
        if isinstance(exc, Unauthorized | RateLimited):
            self.calendly_failure(exc, during="reconciling", next_action=NextAction.RECONCILE)
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
        retries = self.record.read_row().transient_failures + 1
        if retries > limit:
            reason = f"gave up after {retries} failures while {during}: {exc.message}"
            if next_action is NextAction.RECONCILE:
                reason += "; a booking may exist at Calendly: check before booking again"
            self.record.release(
                RequestStatus.FAILED,
                reason=reason,
                log_kind="failed",
                transient_failures=retries,
            )
            return
        self.record.release(
            self.resting_status(next_action),
            next_action=next_action,
            at=self.record.now() + self.backoff(retries),
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
