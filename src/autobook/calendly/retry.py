"""Which failed Calendly calls are retried in place, and how long to wait between attempts.

The rule follows `classify.py`: retry only what cannot have taken effect.

- A GET (no effect) is retried on `RequestNotSent` (which includes `ReadFailed`: timeouts, dropped
  connections, 5xx) and on a `RateLimited` whose wait is at most
  `max_inline_rate_limit_wait_seconds`; a longer 429 goes to the caller, who reschedules.
- A POST (`/invitees`, cancellations) is retried only on a `RequestNotSent` that is not a
  `ReadFailed`: the connect phase failed, so Calendly never saw it. A POST is never retried on
  `OutcomeUnknown`, `RateLimited`, `RequestRejected` or `Unauthorized`.

Waits are exponential with jitter, capped, bounded in number of attempts; after a 429 the wait is
the reset time. Every wait is multiplied by `wait_multiplier`, which tests set to 0 (stamina's
testing mode): tests never sleep through a real backoff.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

import tenacity

from autobook.errors import RateLimited, RequestNotSent

from .classify import ReadFailed, may_have_effect

logger = logging.getLogger("autobook.calendly")

DEFAULT_MAX_ATTEMPTS = 4
DEFAULT_INITIAL_WAIT_SECONDS = 0.5
DEFAULT_MAX_WAIT_SECONDS = 8.0
DEFAULT_MAX_INLINE_RATE_LIMIT_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class RetryPolicy:
    """How a call is retried in place; `wait_multiplier=0` turns every wait off (tests)."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    initial_wait_seconds: float = DEFAULT_INITIAL_WAIT_SECONDS
    max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS
    wait_multiplier: float = 1.0
    max_inline_rate_limit_wait_seconds: float = DEFAULT_MAX_INLINE_RATE_LIMIT_WAIT_SECONDS

    @classmethod
    def for_testing(cls) -> RetryPolicy:
        """The default policy with no waiting at all."""
        return cls(wait_multiplier=0.0)


def is_retryable(method: str, exc: BaseException, policy: RetryPolicy) -> bool:
    """True when `exc`, raised by a call with `method`, may be retried in place."""
    if may_have_effect(method):
        return isinstance(exc, RequestNotSent) and not isinstance(exc, ReadFailed)
    if isinstance(exc, RateLimited):
        return exc.retry_after <= policy.max_inline_rate_limit_wait_seconds
    return isinstance(exc, RequestNotSent)


def backoff_seconds(attempt_number: int, policy: RetryPolicy) -> float:
    """Exponential from `initial_wait_seconds`, plus up to one initial wait of jitter, capped."""
    exponential = policy.initial_wait_seconds * 2.0 ** min(attempt_number - 1, 30)
    jitter = random.uniform(0, policy.initial_wait_seconds)
    return min(exponential + jitter, policy.max_wait_seconds)


def _describe(state: tenacity.RetryCallState) -> tuple[str, str]:
    exc = state.outcome.exception() if state.outcome else None
    status = getattr(exc, "status", None)
    return type(exc).__name__, f" (status {status})" if status is not None else ""


def build_retrying(
    method: str, route: str, policy: RetryPolicy, sleep: Callable[[float], None]
) -> tenacity.Retrying:
    """A tenacity controller for one call; it re-raises the last error when it gives up."""

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited):
            base = float(exc.retry_after)
        else:
            base = backoff_seconds(state.attempt_number, policy)
        return base * policy.wait_multiplier

    def log_retry(state: tenacity.RetryCallState) -> None:
        name, status = _describe(state)
        seconds = state.next_action.sleep if state.next_action else 0.0
        # Only the route and the class: messages may quote Calendly, and queries carry emails.
        logger.warning(
            "%s failed with %s%s; attempt %d of %d, retrying in %.2fs",
            route,
            name,
            status,
            state.attempt_number,
            policy.max_attempts,
            seconds,
        )

    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(max(1, policy.max_attempts)),
        wait=wait,
        retry=tenacity.retry_if_exception(lambda exc: is_retryable(method, exc, policy)),
        before_sleep=log_retry,
        sleep=sleep,
        reraise=True,
    )
