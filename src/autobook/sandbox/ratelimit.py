"""Per-user rate limits by plan tier, in fixed windows, with Calendly's headers.

Limits (API-NOTES §4), per user:

========== ================ ==========================================
tier       every request    ``POST /invitees`` (counted in both)
========== ================ ==========================================
free       50 a minute      refused: 403, the Scheduling API is paid-only
trial      500 a minute     5 a day
standard   500 a minute     10 a minute, 50 an hour, 100 a day
enterprise 500 a minute     500 a minute
unlimited  none             none
custom     as given         as given (a missing number means no limit)
========== ================ ==========================================

Windows are fixed and aligned on the UTC clock (minute, hour, day). A request is
admitted only if every window that applies to it has room, and then it takes one unit
from each; a refused request takes nothing. ``X-RateLimit-Reset`` is the whole number
of seconds until the reported window ends (at least 1). The reported window is the
tightest one; on a 429 it is the exhausted one that ends last, so waiting
``Reset`` seconds is always enough.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

MINUTE_SECONDS = 60
HOUR_SECONDS = 3600
DAY_SECONDS = 86400
# What the headers show for a tier without limits: a ceiling nobody reaches.
UNLIMITED_HEADER_LIMIT = 1_000_000_000

Scope = Literal["general", "invitees"]
TIERS = ("free", "trial", "standard", "enterprise", "unlimited", "custom")


@dataclass(frozen=True)
class Window:
    scope: Scope
    seconds: int
    limit: int


@dataclass(frozen=True)
class Plan:
    """One user's limits; ``allows_scheduling_api`` is False on the free plan."""

    tier: str
    windows: tuple[Window, ...]
    allows_scheduling_api: bool = True

    def describe(self) -> dict[str, object]:
        def limit(scope: Scope, seconds: int) -> int | None:
            return next(
                (w.limit for w in self.windows if w.scope == scope and w.seconds == seconds), None
            )

        return {
            "tier": self.tier,
            "general_per_minute": limit("general", MINUTE_SECONDS),
            "invitees_per_minute": limit("invitees", MINUTE_SECONDS),
            "invitees_per_hour": limit("invitees", HOUR_SECONDS),
            "invitees_per_day": limit("invitees", DAY_SECONDS),
            "scheduling_api": self.allows_scheduling_api,
        }


def plan_for_tier(
    tier: str,
    general_per_minute: int | None = None,
    invitees_per_minute: int | None = None,
    invitees_per_hour: int | None = None,
    invitees_per_day: int | None = None,
) -> Plan:
    """The plan of a named tier; the four numbers apply to ``custom`` only."""
    general = Window("general", MINUTE_SECONDS, 500)
    if tier == "free":
        return Plan(tier, (Window("general", MINUTE_SECONDS, 50),), allows_scheduling_api=False)
    if tier == "trial":
        return Plan(tier, (general, Window("invitees", DAY_SECONDS, 5)))
    if tier == "standard":
        return Plan(
            tier,
            (
                general,
                Window("invitees", MINUTE_SECONDS, 10),
                Window("invitees", HOUR_SECONDS, 50),
                Window("invitees", DAY_SECONDS, 100),
            ),
        )
    if tier == "enterprise":
        return Plan(tier, (general, Window("invitees", MINUTE_SECONDS, 500)))
    if tier == "unlimited":
        return Plan(tier, ())
    if tier == "custom":
        pairs: tuple[tuple[Scope, int, int | None], ...] = (
            ("general", MINUTE_SECONDS, general_per_minute),
            ("invitees", MINUTE_SECONDS, invitees_per_minute),
            ("invitees", HOUR_SECONDS, invitees_per_hour),
            ("invitees", DAY_SECONDS, invitees_per_day),
        )
        return Plan(tier, tuple(Window(s, sec, n) for s, sec, n in pairs if n is not None))
    raise ValueError(f"unknown tier {tier!r}")


@dataclass(frozen=True)
class Verdict:
    """Whether a request may proceed, and the three header values to send with it."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_seconds),
        }


@dataclass
class _Counter:
    window_start: int = -1
    used: int = 0


@dataclass
class RateLimiter:
    """Fixed-window counters per (user, window); plans per user."""

    plans: dict[str, Plan] = field(default_factory=dict)
    _counters: dict[tuple[str, Window], _Counter] = field(default_factory=dict)

    def set_plan(self, user_uuid: str, plan: Plan) -> None:
        """Give a user a plan; their counters start from zero."""
        self.plans[user_uuid] = plan
        for key in [key for key in self._counters if key[0] == user_uuid]:
            del self._counters[key]

    def admit(self, user_uuid: str, is_booking: bool, now: datetime) -> Verdict:
        """Take one unit from every window that applies, or refuse without taking any."""
        windows = self._windows(user_uuid, is_booking)
        seconds_now = now.timestamp()
        states = [(window, self._used(user_uuid, window, seconds_now)) for window in windows]
        exhausted = [(window, used) for window, used in states if used >= window.limit]
        if exhausted:
            window, _ = max(exhausted, key=lambda item: _reset_in(item[0], seconds_now))
            return Verdict(False, window.limit, 0, _reset_in(window, seconds_now))
        for window, _ in states:
            self._counters[(user_uuid, window)].used += 1
        return self._report(user_uuid, windows, seconds_now, allowed=True)

    def peek(self, user_uuid: str, now: datetime) -> Verdict:
        """The headers of the user's general window, taking nothing (for uncounted calls)."""
        windows = self._windows(user_uuid, is_booking=False)
        return self._report(user_uuid, windows, now.timestamp(), allowed=True)

    def _windows(self, user_uuid: str, is_booking: bool) -> list[Window]:
        plan = self.plans.get(user_uuid) or plan_for_tier("standard")
        return [w for w in plan.windows if w.scope == "general" or is_booking]

    def _used(self, user_uuid: str, window: Window, seconds_now: float) -> int:
        start = int(seconds_now // window.seconds) * window.seconds
        counter = self._counters.setdefault((user_uuid, window), _Counter())
        if counter.window_start != start:
            counter.window_start, counter.used = start, 0
        return counter.used

    def _report(
        self, user_uuid: str, windows: list[Window], seconds_now: float, allowed: bool
    ) -> Verdict:
        if not windows:
            return Verdict(allowed, UNLIMITED_HEADER_LIMIT, UNLIMITED_HEADER_LIMIT, MINUTE_SECONDS)
        tightest = min(
            windows,
            key=lambda w: (w.limit - self._used(user_uuid, w, seconds_now), -w.seconds),
        )
        remaining = max(tightest.limit - self._used(user_uuid, tightest, seconds_now), 0)
        return Verdict(allowed, tightest.limit, remaining, _reset_in(tightest, seconds_now))


def _reset_in(window: Window, seconds_now: float) -> int:
    window_end = (math.floor(seconds_now / window.seconds) + 1) * window.seconds
    return max(1, math.ceil(window_end - seconds_now))
