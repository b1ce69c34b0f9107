"""The rate budget: how many Calendly calls may go now, per Calendly user, for every worker at once.

Calendly enforces per user: 500 requests a minute on paid plans (50 on Free), and for `POST
/invitees` 10 a minute, 50 an hour and 100 a day on Standard, 5 a day on a trial, 500 a minute on
Enterprise. A call is made only after `acquire` granted it, and `acquire` never grants a call that
would exceed any of those limits, so no request is made that Calendly's limiter would refuse.

How it counts. Each limit is a sliding-window log: the grant times of the last window. A call may go
when, in every window it belongs to, fewer than `limit` calls were granted within the last
`window + SAFETY_MARGIN_SECONDS`. A sliding window is stricter than any fixed window of the same
length, so it also respects Calendly's own windows whatever their alignment; the margin absorbs the
latency between our grant and Calendly's count. A `POST /invitees` counts in the general window too.

Bookings go before polls. Ordinary calls (`kind="general"`) may fill the general window only up to
`general_per_minute - reserved_for_bookings`; `POST /invitees` and calls made with `priority=True`
(the GETs that reconcile a booking) may use the whole window. A burst of polls therefore never
starves a booking of its general quota.

After a 429, `penalize` makes every acquirer of that user wait until Calendly's reset.

`InMemoryBudget` is the per-process twin of `RedisBudget` (in `budget_redis.py`), which shares the
same arithmetic across processes with one atomic Lua script.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Protocol

from .budget_redis import BudgetUnavailable, RedisBudget
from .limits import (
    ENTERPRISE,
    FREE,
    PLANS,
    STANDARD,
    TRIAL,
    UNLIMITED,
    CallKind,
    PlanLimits,
    Window,
    penalties_checked,
    penalty_scopes,
    plan_of,
    resolve_plan,
    windows_for,
)

__all__ = [
    "ENTERPRISE",
    "FREE",
    "PLANS",
    "STANDARD",
    "TRIAL",
    "UNLIMITED",
    "BudgetUnavailable",
    "CallKind",
    "InMemoryBudget",
    "PlanLimits",
    "RateBudget",
    "RedisBudget",
]


class RateBudget(Protocol):
    """A shared budget of Calendly calls, keyed by Calendly user."""

    def acquire(self, user_key: str, kind: CallKind, *, priority: bool = False) -> float:
        """Grant and record one call (return 0.0), or return the seconds to wait (record none)."""
        ...

    def penalize(self, user_key: str, seconds: float, *, kind: CallKind | None = None) -> None:
        """After a 429: refuse calls of `kind` (all calls when None or "general") for `seconds`."""
        ...


class InMemoryBudget:
    """The budget for one process (threads share it); the twin of `RedisBudget`."""

    def __init__(
        self,
        plan: PlanLimits | str = STANDARD,
        *,
        per_user: Mapping[str, PlanLimits] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._plan = resolve_plan(plan)
        self._per_user = dict(per_user or {})
        self._clock = clock
        self._lock = threading.Lock()
        self._logs: dict[tuple[str, str], deque[float]] = {}
        self._penalties: dict[tuple[str, str], float] = {}

    def acquire(self, user_key: str, kind: CallKind, *, priority: bool = False) -> float:
        windows = windows_for(
            plan_of(user_key, self._plan, self._per_user), kind, priority=priority
        )
        with self._lock:
            now = self._clock()
            wait = 0.0
            for scope in penalties_checked(kind):
                wait = max(wait, self._penalties.get((user_key, scope), now) - now)
            for window in windows:
                wait = max(wait, self._wait_in(self._log(user_key, window.name), window, now))
            if wait > 0:
                return wait
            for window in windows:
                self._log(user_key, window.name).append(now)
            return 0.0

    def penalize(self, user_key: str, seconds: float, *, kind: CallKind | None = None) -> None:
        if not math.isfinite(seconds) or seconds <= 0:
            return
        with self._lock:
            until = self._clock() + seconds
            for scope in penalty_scopes(kind):
                key = (user_key, scope)
                self._penalties[key] = max(self._penalties.get(key, until), until)

    def _log(self, user_key: str, name: str) -> deque[float]:
        return self._logs.setdefault((user_key, name), deque())

    @staticmethod
    def _wait_in(log: deque[float], window: Window, now: float) -> float:
        while log and log[0] <= now - window.seconds:
            log.popleft()
        if window.limit <= 0:
            return window.seconds  # a window that allows nothing: ask again after it
        if len(log) < window.limit:
            return 0.0
        # The call fits once the (len - limit + 1)-th oldest grant leaves the window.
        return log[len(log) - window.limit] + window.seconds - now
