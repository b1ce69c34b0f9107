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
from dataclasses import dataclass
from typing import Literal, Protocol

from autobook.errors import RequestNotSent

CallKind = Literal["general", "invitee_post"]

SECONDS_PER_MINUTE = 60.0
SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0
SAFETY_MARGIN_SECONDS = 1.0
"""Added to every window: our grant happens a little before Calendly counts the request."""


class BudgetUnavailable(RequestNotSent):
    """The shared rate budget could not be reached, so nothing was sent; retry with backoff."""


class RateBudget(Protocol):
    """A shared budget of Calendly calls, keyed by Calendly user."""

    def acquire(self, user_key: str, kind: CallKind, *, priority: bool = False) -> float:
        """Grant and record one call (return 0.0), or return the seconds to wait (record none)."""
        ...

    def penalize(self, user_key: str, seconds: float, *, kind: CallKind | None = None) -> None:
        """After a 429: refuse calls of `kind` (all calls when None or "general") for `seconds`."""
        ...


@dataclass(frozen=True)
class PlanLimits:
    """Calendly's limits for one user; None means no limit. Counts are calls per window."""

    general_per_minute: int | None = 500
    invitees_per_minute: int | None = 10
    invitees_per_hour: int | None = 50
    invitees_per_day: int | None = 100
    reserved_for_bookings: int | None = None
    """General calls kept for bookings; None picks min(invitees_per_minute, 5% of general, >=1)."""

    @property
    def general_reserve(self) -> int:
        if self.general_per_minute is None:
            return 0
        if self.reserved_for_bookings is not None:
            return max(0, min(self.reserved_for_bookings, self.general_per_minute - 1))
        share = max(1, self.general_per_minute // 20)
        if self.invitees_per_minute is not None:
            share = min(share, self.invitees_per_minute)
        return max(0, min(share, self.general_per_minute - 1))


FREE = PlanLimits(
    general_per_minute=50, invitees_per_minute=None, invitees_per_hour=None, invitees_per_day=None
)
"""Free plan. POST /invitees is not counted separately: Calendly refuses it with a 403 that says
why, which is more useful to the caller than a budget that never grants."""
TRIAL = PlanLimits(invitees_per_minute=None, invitees_per_hour=None, invitees_per_day=5)
STANDARD = PlanLimits()
ENTERPRISE = PlanLimits(invitees_per_minute=500, invitees_per_hour=None, invitees_per_day=None)
UNLIMITED = PlanLimits(None, None, None, None)

PLANS: Mapping[str, PlanLimits] = {
    "free": FREE,
    "trial": TRIAL,
    "standard": STANDARD,
    "enterprise": ENTERPRISE,
    "unlimited": UNLIMITED,
}


@dataclass(frozen=True)
class Window:
    """One limit a call counts against: `limit` calls per `seconds` in the log named `name`."""

    name: str
    limit: int
    seconds: float


def windows_for(limits: PlanLimits, kind: CallKind, *, priority: bool = False) -> list[Window]:
    """The windows a call of `kind` must fit in, with the limit that applies to it."""
    windows: list[Window] = []
    if limits.general_per_minute is not None:
        cap = limits.general_per_minute
        if kind == "general" and not priority:
            cap -= limits.general_reserve
        windows.append(Window("general", cap, SECONDS_PER_MINUTE + SAFETY_MARGIN_SECONDS))
    if kind == "invitee_post":
        for name, limit, seconds in (
            ("invitee:minute", limits.invitees_per_minute, SECONDS_PER_MINUTE),
            ("invitee:hour", limits.invitees_per_hour, SECONDS_PER_HOUR),
            ("invitee:day", limits.invitees_per_day, SECONDS_PER_DAY),
        ):
            if limit is not None:
                windows.append(Window(name, limit, seconds + SAFETY_MARGIN_SECONDS))
    return windows


def penalty_scopes(kind: CallKind | None) -> list[str]:
    """The penalty names a 429 on `kind` sets: a general 429 stops every call."""
    return ["invitee_post"] if kind == "invitee_post" else ["all"]


def penalties_checked(kind: CallKind) -> list[str]:
    """The penalty names an acquirer of `kind` must respect."""
    return ["all", "invitee_post"] if kind == "invitee_post" else ["all"]


def plan_of(
    user_key: str, default: PlanLimits, per_user: Mapping[str, PlanLimits] | None
) -> PlanLimits:
    """The plan of a user: `per_user[user_key]` when given, else `default`."""
    return (per_user or {}).get(user_key, default)


class InMemoryBudget:
    """The budget for one process (threads share it); the twin of `RedisBudget`."""

    def __init__(
        self,
        limits: PlanLimits = STANDARD,
        *,
        per_user: Mapping[str, PlanLimits] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = limits
        self._per_user = dict(per_user or {})
        self._clock = clock
        self._lock = threading.Lock()
        self._logs: dict[tuple[str, str], deque[float]] = {}
        self._penalties: dict[tuple[str, str], float] = {}

    def acquire(self, user_key: str, kind: CallKind, *, priority: bool = False) -> float:
        windows = windows_for(
            plan_of(user_key, self._limits, self._per_user), kind, priority=priority
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
