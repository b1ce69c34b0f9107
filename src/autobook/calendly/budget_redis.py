"""The rate budget shared by every worker process, in Redis.

Same rules as `InMemoryBudget` (see `budget.py`), same arithmetic (`limits.py`): one sliding-window
log per (user, window) in a sorted set of grant times, plus penalty keys set after a 429. `acquire`
is one Lua script, so checking every window and recording the grant is atomic across processes: two
workers can never both take the last slot. The script reads the clock with Redis `TIME`, so all
workers share one clock whatever their hosts' drift.

Keys, all under `prefix` and with the user in a hash tag (one Redis Cluster slot per user):
`{prefix}:{<user>}:log:<window>` (ZSET, member = grant id, score = grant time in ms; expires after
its window when idle) and `{prefix}:{<user>}:penalty:<scope>` (milliseconds since epoch, expiring
with it). Redis failures surface as `BudgetUnavailable` (a `RequestNotSent`): nothing was sent,
retry later.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping

import redis

from autobook.errors import RequestNotSent

from .limits import (
    STANDARD,
    CallKind,
    PlanLimits,
    penalties_checked,
    penalty_scopes,
    plan_of,
    resolve_plan,
    windows_for,
)


class BudgetUnavailable(RequestNotSent):
    """The shared rate budget could not be reached, so nothing was sent; retry with backoff."""


DEFAULT_KEY_PREFIX = "autobook:budget"
MILLISECONDS_PER_SECOND = 1000.0
NEVER_MILLISECONDS = 86_400_000

# KEYS: the penalty keys (ARGV[1] of them), then the window logs (ARGV[2] of them).
# ARGV: penalty count, window count, grant id, then (limit, window_ms) per window.
# Returns the wait in ms as a string ("0" = granted and recorded).
_ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n_penalties = tonumber(ARGV[1])
local n_windows = tonumber(ARGV[2])
local grant_id = ARGV[3]
local wait = 0
for i = 1, n_penalties do
  local until_ms = tonumber(redis.call('GET', KEYS[i]) or '0')
  if until_ms - now > wait then wait = until_ms - now end
end
for j = 1, n_windows do
  local key = KEYS[n_penalties + j]
  local limit = tonumber(ARGV[2 + 2 * j])
  local window = tonumber(ARGV[3 + 2 * j])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if limit <= 0 then
    if window > wait then wait = window end
  else
    local count = redis.call('ZCARD', key)
    if count >= limit then
      local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
      local w = tonumber(oldest[2]) + window - now
      if w > wait then wait = w end
    end
  end
end
if wait > 0 then return tostring(wait) end
for j = 1, n_windows do
  local key = KEYS[n_penalties + j]
  redis.call('ZADD', key, now, grant_id)
  redis.call('PEXPIRE', key, tonumber(ARGV[3 + 2 * j]))
end
return '0'
"""

# KEYS: penalty keys. ARGV: the penalty in ms. Extends, never shortens, an existing penalty.
_PENALIZE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ms = tonumber(ARGV[1])
for i = 1, #KEYS do
  local current = tonumber(redis.call('GET', KEYS[i]) or '0')
  if now + ms > current then
    redis.call('SET', KEYS[i], tostring(now + ms), 'PX', ms)
  end
end
return 1
"""


class RedisBudget:
    """The rate budget shared through Redis by every process that uses the same `prefix`."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        plan: PlanLimits | str = STANDARD,
        per_user: Mapping[str, PlanLimits] | None = None,
        prefix: str = DEFAULT_KEY_PREFIX,
    ) -> None:
        self._redis = client
        self._plan = resolve_plan(plan)
        self._per_user = dict(per_user or {})
        self._prefix = prefix
        self._acquire_script = client.register_script(_ACQUIRE_LUA)
        self._penalize_script = client.register_script(_PENALIZE_LUA)

    def _key(self, user_key: str, suffix: str) -> str:
        return f"{self._prefix}:{{{user_key}}}:{suffix}"

    def acquire(self, user_key: str, kind: CallKind, *, priority: bool = False) -> float:
        windows = windows_for(
            plan_of(user_key, self._plan, self._per_user), kind, priority=priority
        )
        penalties = [self._key(user_key, f"penalty:{s}") for s in penalties_checked(kind)]
        keys = penalties + [self._key(user_key, f"log:{w.name}") for w in windows]
        args: list[str | int] = [len(penalties), len(windows), uuid.uuid4().hex]
        for window in windows:
            args += [window.limit, math.ceil(window.seconds * MILLISECONDS_PER_SECOND)]
        try:
            raw = self._acquire_script(keys=keys, args=args)
        except redis.RedisError as exc:
            raise BudgetUnavailable(f"rate budget unavailable ({type(exc).__name__})") from exc
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        return float(text) / MILLISECONDS_PER_SECOND

    def penalize(self, user_key: str, seconds: float, *, kind: CallKind | None = None) -> None:
        if not math.isfinite(seconds) or seconds <= 0:
            return
        keys = [self._key(user_key, f"penalty:{s}") for s in penalty_scopes(kind)]
        milliseconds = min(math.ceil(seconds * MILLISECONDS_PER_SECOND), NEVER_MILLISECONDS)
        try:
            self._penalize_script(keys=keys, args=[milliseconds])
        except redis.RedisError as exc:
            raise BudgetUnavailable(f"rate budget unavailable ({type(exc).__name__})") from exc
