"""The store's behaviours on real PostgreSQL, in a fresh database per test.

The whole SQLite suite (`tests/unit/test_store_sqlite.py`) runs here again: importing its tests
collects them in this module, where `database_url` is a PostgreSQL database. The tests below it
cover what only PostgreSQL has: row locks, so a claim must skip a locked row, not wait for it.
Skipped when PostgreSQL is down, except under CI=true, where they fail.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from autobook import db, store
from tests.support.databases import postgres_test_database
from tests.unit.test_store_sqlite import *  # noqa: F403 - the shared suite, run on PostgreSQL
from tests.unit.test_store_sqlite import LEASE, T0, Sessions, claim, fetch, new_request

pytestmark = pytest.mark.postgres

LOCK_WAIT_LIMIT_SECONDS = 2.0


# Overrides the SQLite suite's fixture of the same name.
@pytest.fixture  # type: ignore[no-redef]
def database_url() -> Iterator[str]:
    with postgres_test_database() as url:
        yield url


def test_timestamps_are_stored_as_timestamptz(migrated_sessions: Sessions) -> None:
    with migrated_sessions() as session:
        types: dict[str, str] = dict(
            session.execute(
                sa.text(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_name = 'booking_request' AND column_name LIKE '%_at'"
                )
            ).all()
        )
    assert len(types) >= 5
    assert set(types.values()) == {"timestamp with time zone"}


def test_a_claim_skips_a_row_another_transaction_has_locked(migrated_sessions: Sessions) -> None:
    pk = new_request(migrated_sessions)
    with migrated_sessions.begin() as locker:
        locker.execute(
            sa.text("SELECT id FROM booking_request WHERE id = :pk FOR UPDATE"), {"pk": pk}
        )
        started = time.monotonic()
        with migrated_sessions() as session:
            assert store.claim(session, pk, worker="w2", lease=LEASE, now=T0) is None
        assert time.monotonic() - started < LOCK_WAIT_LIMIT_SECONDS
    assert claim(migrated_sessions, pk).fence == 1


def test_a_dispatcher_skips_rows_a_claimer_is_locking(migrated_sessions: Sessions) -> None:
    locked = new_request(migrated_sessions, "locked")
    free = new_request(migrated_sessions, "free")
    with migrated_sessions.begin() as claimer:
        assert store.claim(claimer, locked, worker="w1", lease=LEASE, now=T0) is not None
        with migrated_sessions() as session:
            taken = store.take_due(
                session, now=T0, limit=10, redispatch_after=timedelta(seconds=30)
            )
        assert taken == ["free"]
    assert fetch(migrated_sessions, free).dispatched_at == T0


def test_a_connection_the_server_ended_is_replaced_without_a_ping(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pooled connection whose backend is gone (a restart ends them all) costs no failure, and
    a live one is reused without a ping (a round trip) before each transaction."""
    engine = db.make_engine(database_url, pool_size=1, max_overflow=0)
    pings: list[object] = []
    monkeypatch.setattr(engine.dialect, "do_ping", pings.append)
    try:
        with engine.connect() as connection:
            first_pid = connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() == first_pid
        assert pings == []
        with sa.create_engine(database_url).connect() as admin:
            assert admin.execute(
                sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first_pid}
            ).scalar_one()
        time.sleep(0.2)  # the backend closes its end once it has handled the signal
        with engine.connect() as connection:
            second_pid = connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        assert second_pid != first_pid
    finally:
        engine.dispose()
