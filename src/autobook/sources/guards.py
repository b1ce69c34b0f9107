"""Per-source rate limits and replay memory, shared by every `autobook serve` process.

With `AUTOBOOK_REDIS_URL` both live in Redis (`INCRBY` of a per-minute key, `SET NX` of a delivery
id, each with an expiry); without it, in the database (`autobook.store.sources`). Calls that
arrive together are counted in one round trip (`count_calls`: one pipeline, or one
transaction, with one increment per source). Either way two servers behind a load balancer
count one source's calls together and refuse a replay that the other one accepted.

The rate limit is a fixed window of one minute: at most `rate_per_minute` calls per calendar
minute, and a refused call is told to retry when the minute ends (`Retry-After`). A delivery id
is remembered for twice the signature tolerance: an older replay is refused for its timestamp.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import redis
from sqlalchemy.orm import Session, sessionmaker

from autobook import store
from autobook.config import Settings
from autobook.sources.signatures import TOLERANCE

REPLAY_MEMORY = 2 * TOLERANCE
RATE_KEY_SECONDS = 120
SECONDS_PER_MINUTE = 60


@dataclass(frozen=True)
class RateVerdict:
    allowed: bool
    retry_after_seconds: int = 0


def _minute(now: datetime) -> int:
    return int(now.timestamp()) // SECONDS_PER_MINUTE


def _verdict(calls: int, limit: int, now: datetime) -> RateVerdict:
    if calls <= limit:
        return RateVerdict(True)
    left = SECONDS_PER_MINUTE - int(now.timestamp()) % SECONDS_PER_MINUTE
    return RateVerdict(False, max(1, left))


def _verdicts(
    calls: Sequence[tuple[int, int]],
    wanted: Counter[int],
    totals: dict[int, int],
    now: datetime,
) -> list[RateVerdict]:
    """A verdict per call, counted together: a source's calls take the places up to its total,
    in order (as one INCR each would have), so the same calls are refused as one by one."""
    placed: Counter[int] = Counter()
    verdicts = []
    for source_id, limit in calls:
        placed[source_id] += 1
        place = totals[source_id] - wanted[source_id] + placed[source_id]
        verdicts.append(_verdict(place, limit, now))
    return verdicts


class Guards(Protocol):
    def count_call(self, source_id: int, limit: int, now: datetime) -> RateVerdict: ...

    def count_calls(self, calls: Sequence[tuple[int, int]], now: datetime) -> list[RateVerdict]:
        """Count one call for each (source_id, limit), in one round trip; a verdict each."""
        ...

    def first_delivery(self, source_id: int, delivery_id: str, now: datetime) -> bool: ...

    def forget_delivery(self, source_id: int, delivery_id: str) -> None: ...


class RedisGuards:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def count_call(self, source_id: int, limit: int, now: datetime) -> RateVerdict:
        (verdict,) = self.count_calls([(source_id, limit)], now)
        return verdict

    def count_calls(self, calls: Sequence[tuple[int, int]], now: datetime) -> list[RateVerdict]:
        wanted = Counter(source_id for source_id, _ in calls)
        pipe = self.client.pipeline(transaction=False)
        for source_id, count in wanted.items():
            key = f"autobook:intake:rate:{source_id}:{_minute(now)}"
            pipe.incrby(key, count)
            pipe.expire(key, RATE_KEY_SECONDS)
        replies = pipe.execute()
        totals = {
            source_id: int(total) for source_id, total in zip(wanted, replies[::2], strict=True)
        }
        return _verdicts(calls, wanted, totals, now)

    def _delivery_key(self, source_id: int, delivery_id: str) -> str:
        return f"autobook:intake:delivery:{source_id}:{delivery_id}"

    def first_delivery(self, source_id: int, delivery_id: str, now: datetime) -> bool:
        key = self._delivery_key(source_id, delivery_id)
        seconds = int(REPLAY_MEMORY.total_seconds())
        return bool(self.client.set(key, now.isoformat(), nx=True, ex=seconds))

    def forget_delivery(self, source_id: int, delivery_id: str) -> None:
        self.client.delete(self._delivery_key(source_id, delivery_id))


class DatabaseGuards:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def count_call(self, source_id: int, limit: int, now: datetime) -> RateVerdict:
        (verdict,) = self.count_calls([(source_id, limit)], now)
        return verdict

    def count_calls(self, calls: Sequence[tuple[int, int]], now: datetime) -> list[RateVerdict]:
        wanted = Counter(source_id for source_id, _ in calls)
        with self.sessions.begin() as session:
            totals = {
                source_id: store.count_call(session, source_id, _minute(now), calls=count)
                for source_id, count in wanted.items()
            }
        return _verdicts(calls, wanted, totals, now)

    def first_delivery(self, source_id: int, delivery_id: str, now: datetime) -> bool:
        with self.sessions.begin() as session:
            return store.remember_delivery(
                session, source_id, delivery_id, now=now, keep=REPLAY_MEMORY
            )

    def forget_delivery(self, source_id: int, delivery_id: str) -> None:
        with self.sessions.begin() as session:
            store.forget_delivery(session, source_id, delivery_id)


def guards_for(settings: Settings, sessions: sessionmaker[Session]) -> Guards:
    if settings.redis_url:
        return RedisGuards(redis.Redis.from_url(settings.redis_url))
    return DatabaseGuards(sessions)
