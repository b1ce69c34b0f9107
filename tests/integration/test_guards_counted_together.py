"""`Guards.count_calls`: calls counted together are refused exactly as one by one (issue 10).

`autobook serve` counts the calls that arrive together in one round trip: one increment per
source (Redis `INCRBY` in a pipeline, or one upsert per source in the database), each call
then taking its own place in the minute. Against real Redis and a real SQLite database, a mixed
batch gets the same verdicts, in order, as the same calls counted one at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from autobook import store
from autobook.models import SourceAuth
from autobook.sources.guards import DatabaseGuards, Guards, RedisGuards
from tests.support.databases import migrated_session_factory, sqlite_url_in
from tests.support.stack import free_redis_db

NOW = datetime(2026, 12, 1, 12, 0, 10, tzinfo=UTC)
LIMITS = {"a": 3, "b": 1}


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    with migrated_session_factory(sqlite_url_in(tmp_path)) as factory:
        yield factory


@pytest.fixture
def source_ids(sessions: sessionmaker[Session]) -> dict[str, int]:
    ids: dict[str, int] = {}
    with sessions() as session:
        for name, limit in LIMITS.items():
            row = store.add_source(
                session,
                name=name,
                auth=SourceAuth.API_KEY,
                key_digest=f"digest-{name}",
                secret_sealed=None,
                secret_hint="abk_…",
                rate_per_minute=limit,
            )
            ids[name] = row.id
    return ids


@pytest.fixture(params=["redis", "database"])
def guards(request: pytest.FixtureRequest, sessions: sessionmaker[Session]) -> Iterator[Guards]:
    if request.param == "database":
        yield DatabaseGuards(sessions)
        return
    with free_redis_db() as url:
        yield RedisGuards(redis.Redis.from_url(url))


def test_a_mixed_batch_gets_the_verdicts_of_the_same_calls_one_by_one(
    guards: Guards, source_ids: dict[str, int]
) -> None:
    order = ["a", "b", "a", "a", "b", "a", "a"]
    calls = [(source_ids[name], LIMITS[name]) for name in order]

    first = guards.count_calls(calls[:1], NOW)  # one counted before: the batch starts at 2
    together = guards.count_calls(calls[1:], NOW)

    assert [v.allowed for v in first + together] == [True, True, True, True, False, False, False]
    refused = [v for v in together if not v.allowed]
    assert all(v.retry_after_seconds == 50 for v in refused)  # the minute ends in 50 s
    # The next call of each source, alone, is refused too: the batch counted every call.
    assert not guards.count_call(source_ids["a"], LIMITS["a"], NOW).allowed
    assert not guards.count_call(source_ids["b"], LIMITS["b"], NOW).allowed
    assert guards.count_calls([], NOW) == []
