"""Generated hostile requests through `submit_many`, and through `autobook submit` as a process.

A valid request is mutated at a random field with a random JSON value (every type, nested, huge,
with controls and lone surrogates: `tests.hostile.strategies`). Intake must never raise, must
record every item (valid or invalid) in the database, and any reason it gives must be bounded and
printable, on SQLite and on PostgreSQL (where a NUL once stopped a whole batch).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from autobook import db, intake, store
from tests.hostile.strategies import mutated_requests
from tests.support.databases import (
    fresh_postgres_database,
    migrated_session_factory,
    sqlite_url_in,
)
from tests.unit.invalid_requests import valid_base_request

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
MAX_REASON_CHARS = 8_000
Sessions = sessionmaker[Session]
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _assert_clean_text(text: str) -> None:
    assert len(text) <= MAX_REASON_CHARS, len(text)
    assert text.isprintable(), repr(text[:200])
    text.encode("utf-8")  # no lone surrogate


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def sessions(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sessions]:
    if request.param == "sqlite":
        url = sqlite_url_in(tmp_path_factory.mktemp("fuzz"))
        with migrated_session_factory(url) as factory:
            yield factory
        return
    with fresh_postgres_database() as url, migrated_session_factory(url) as factory:
        yield factory


@FUZZ
@given(items=st.lists(mutated_requests(), min_size=1, max_size=3))
def test_mutated_requests_are_each_recorded_with_a_clean_reason_and_never_raise(
    sessions: Sessions, items: list[dict[str, Any]]
) -> None:
    good = valid_base_request(f"good-after-{uuid.uuid4()}")
    results = intake.submit_many(sessions, [*items, good], now=lambda: NOW, ring=lambda _: None)
    assert len(results) == len(items) + 1
    assert results[-1].status == "received"  # the hostile items cost the batch nothing
    with sessions() as session:
        for result in results:
            assert result.status in {"received", "invalid"}, result
            _assert_clean_text(result.reason or "")
            row = store.get_by_request_id(session, result.request_id)
            assert row is not None, result.request_id
            assert str(row.status) == result.status
            _assert_clean_text(row.reason or "")
            json.dumps(row.payload)  # what was stored reads back as JSON


def _run_submit(data_dir: Path, items: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AUTOBOOK_DATA_DIR": str(data_dir), "AUTOBOOK_BROKER_URL": ""}
    env.pop("AUTOBOOK_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "autobook", "submit", "-"],
        # ensure_ascii: a lone surrogate travels as the escape \udXXX, as any producer writes it
        input=json.dumps(items, ensure_ascii=True),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


# Each example is a process (about 2 s): few examples, and no shrinking, which would run hundreds.
@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(items=st.lists(mutated_requests(strict=True), min_size=5, max_size=8))
def test_autobook_submit_records_each_mutated_request_and_prints_clean_lines(
    tmp_path_factory: pytest.TempPathFactory, items: list[dict[str, Any]]
) -> None:
    data_dir = tmp_path_factory.mktemp("cli-fuzz")
    done = _run_submit(data_dir, items)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert done.stdout.isascii() or done.stdout.replace("\n", "").isprintable()
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == len(items)
    assert done.returncode == (1 if any(line["status"] == "invalid" for line in lines) else 0)
    database_url = sqlite_url_in(data_dir)
    engine = db.make_engine(database_url)
    try:
        with db.make_session_factory(engine)() as session:
            for line in lines:
                _assert_clean_text(line.get("reason") or "")
                row = store.get_by_request_id(session, line["request_id"])
                assert row is not None, line
                assert str(row.status) == line["status"]
    finally:
        engine.dispose()
