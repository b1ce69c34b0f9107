"""What is left of the shared rate budget, read from Redis without spending any of it.

`RedisBudget` keeps, per Calendly user, a sorted set of grant times for each window and a key
per penalty (after a 429). This module reads them for operators (`autobook status --summary`,
the `autobook_budget_remaining` gauge): for each user and window, the limit, the calls left and
the seconds until the next call of that window may go; and the seconds until a booking
(`POST /invitees`, which counts in every window) may be sent. It never writes, and it reads the
clock with Redis `TIME`, as the budget's own script does.

A user is named by the budget key the workers use (a digest of the token, never the token).
Without Redis the budget is a file in the data folder (`budget_file.FileBudget`), which
`file_budgets` reads the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis

from .budget_file import SEPARATOR
from .budget_redis import DEFAULT_KEY_PREFIX, MILLISECONDS_PER_SECOND
from .limits import PlanLimits, penalties_checked, resolve_plan, windows_for

SCAN_BATCH = 200


@dataclass(frozen=True)
class WindowLeft:
    user: str
    window: str
    limit: int
    remaining: int
    next_in_seconds: float
    used: int = 0  # calls granted within the window (may exceed `limit` after a plan change)


@dataclass(frozen=True)
class UserBudget:
    user: str
    windows: tuple[WindowLeft, ...]
    penalty_seconds: float

    @property
    def next_booking_in_seconds(self) -> float:
        """When a `POST /invitees` may go: every window must have room, and no penalty hold."""
        waits = [window.next_in_seconds for window in self.windows]
        return max([self.penalty_seconds, *waits])


def file_budgets(state: Mapping[str, Any], plan: PlanLimits | str, now: float) -> list[UserBudget]:
    """Every user in a `FileBudget`'s saved state (embedded defaults), as of `now` (UTC seconds)."""
    limits = resolve_plan(plan)
    logs: dict[str, list[float]] = {
        str(key): sorted(float(t) for t in times)
        for key, times in dict(state.get("logs") or {}).items()
    }
    penalties = {str(k): float(v) for k, v in dict(state.get("penalties") or {}).items()}
    users = sorted({key.rpartition(SEPARATOR)[0] for key in [*logs, *penalties]})
    budgets = []
    for user in users:
        windows = []
        for window in windows_for(limits, "invitee_post", priority=True):
            inside = [
                t
                for t in logs.get(f"{user}{SEPARATOR}{window.name}", [])
                if t > now - window.seconds
            ]
            remaining = max(0, window.limit - len(inside))
            next_in = 0.0
            if remaining == 0 and inside:
                # The call that frees a place is the oldest one still inside the window.
                next_in = max(0.0, inside[len(inside) - window.limit] + window.seconds - now)
            windows.append(
                WindowLeft(user, window.name, window.limit, remaining, next_in, len(inside))
            )
        penalty = max(
            [0.0]
            + [
                penalties.get(f"{user}{SEPARATOR}{scope}", now) - now
                for scope in penalties_checked("invitee_post")
            ]
        )
        budgets.append(UserBudget(user, tuple(windows), max(0.0, penalty)))
    return budgets


def _users(client: redis.Redis, prefix: str) -> list[str]:
    found: set[str] = set()
    for raw in client.scan_iter(match=f"{prefix}:{{*}}:*", count=SCAN_BATCH):
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        start = key.find("{")
        end = key.find("}", start)
        if start != -1 and end != -1:
            found.add(key[start + 1 : end])
    return sorted(found)


def read_budgets(
    client: redis.Redis, plan: PlanLimits | str, prefix: str = DEFAULT_KEY_PREFIX
) -> list[UserBudget]:
    """Every user the budget has seen, with what is left of each booking window now."""
    limits = resolve_plan(plan)
    seconds, microseconds = client.time()
    now_ms = seconds * 1000 + microseconds // 1000
    budgets = []
    for user in _users(client, prefix):
        windows = []
        for window in windows_for(limits, "invitee_post", priority=True):
            key = f"{prefix}:{{{user}}}:log:{window.name}"
            window_ms = math.ceil(window.seconds * MILLISECONDS_PER_SECOND)
            used = int(client.zcount(key, now_ms - window_ms, "+inf"))
            remaining = max(0, window.limit - used)
            next_in = 0.0
            if remaining == 0:
                # The call that frees a place is the oldest one still inside the window.
                oldest = client.zrangebyscore(
                    key,
                    now_ms - window_ms,
                    "+inf",
                    start=used - window.limit,
                    num=1,
                    withscores=True,
                )
                if oldest:
                    oldest_ms = float(oldest[0][1])
                    next_in = max(0.0, (oldest_ms + window_ms - now_ms) / 1000)
            windows.append(WindowLeft(user, window.name, window.limit, remaining, next_in, used))
        penalty_ms = 0
        for scope in penalties_checked("invitee_post"):
            ttl = int(client.pttl(f"{prefix}:{{{user}}}:penalty:{scope}"))
            penalty_ms = max(penalty_ms, ttl)
        budgets.append(UserBudget(user, tuple(windows), penalty_ms / 1000))
    return budgets
