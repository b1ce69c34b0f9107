"""The hostile corpus through intake (`submit_many`, which `autobook submit` uses too).

Each hand-written case ends `invalid` naming its field; each generated mutation is recorded
(valid or invalid) without raising; one bad item never costs the batch its good ones; reasons
and stored payloads are bounded and printable, so the status table cannot be flooded or carry a
terminal escape; and the same batch behaves the same on SQLite and on PostgreSQL (where a NUL
once stopped `submit` with a DataError).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from autobook import intake, store, views
from autobook.intake import SubmitResult
from autobook.request_limits import MAX_PROBLEMS
from tests.hostile.corpus import HOSTILE_CASES, PYTHON_VALUES, generated_cases
from tests.support.databases import (
    fresh_postgres_database,
    migrated_session_factory,
    sqlite_url_in,
)
from tests.unit.invalid_requests import valid_base_request

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
MAX_REASON_CHARS = 8_000  # 20 problems of bounded text; 27 MB once
Sessions = sessionmaker[Session]
MIN_CORPUS_CASES = 200


def _good(number: int) -> dict[str, Any]:
    return valid_base_request(f"good-between-{number}")


def _batch() -> tuple[list[object], dict[int, str]]:
    """Hostile and Python-only items with a valid one after each; index -> label."""
    items: list[object] = []
    labels: dict[int, str] = {}
    cases = [(label, raw) for label, raw, _ in HOSTILE_CASES + PYTHON_VALUES]
    for number, (label, raw) in enumerate(cases):
        labels[len(items)] = label
        items.append(raw)
        items.append(_good(number))
    return items, labels


def _submit(sessions: Sessions, items: list[object]) -> list[SubmitResult]:
    return intake.submit_many(sessions, items, now=lambda: NOW, ring=lambda _: None)


def _assert_clean_text(text: str) -> None:
    assert len(text) <= MAX_REASON_CHARS, len(text)
    assert text.isprintable(), repr(text[:200])
    text.encode("utf-8")  # no lone surrogate


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sessions]:
    if request.param == "sqlite":
        with migrated_session_factory(sqlite_url_in(tmp_path)) as factory:
            yield factory
        return
    with fresh_postgres_database() as url, migrated_session_factory(url) as factory:
        yield factory


def test_corpus_has_at_least_200_cases() -> None:
    assert len(HOSTILE_CASES) + len(PYTHON_VALUES) + len(list(generated_cases())) >= 200


def test_hostile_batch_records_every_item_and_loses_no_good_one(sessions: Sessions) -> None:
    items, labels = _batch()
    results = _submit(sessions, items)
    assert len(results) == len(items)
    fields = {label: field for label, _, field in HOSTILE_CASES + PYTHON_VALUES}
    for index, result in enumerate(results):
        if index in labels:
            label = labels[index]
            assert result.status == "invalid", (label, result)
            assert result.reason is not None
            assert fields[label] in result.reason, (label, result.reason[:300])
            _assert_clean_text(result.reason)
        else:
            assert result.status == "received", (index, result.reason)
    with sessions() as session:
        for row in store.list_requests(session, limit=10_000):
            json.dumps(row.payload)  # storable and readable back
            assert len(json.dumps(row.payload)) < 100_000
            _assert_clean_text(row.reason or "")


def test_generated_mutations_are_recorded_and_never_raise(sessions: Sessions) -> None:
    cases = list(generated_cases())
    results = _submit(sessions, [raw for _, raw in cases])
    assert len(results) == len(cases)
    statuses = {result.status for result in results}
    assert statuses <= {"received", "invalid"}
    assert "invalid" in statuses
    assert "received" in statuses
    for (label, _), result in zip(cases, results, strict=True):
        assert result.request_id == f"hostile-{label}"
        _assert_clean_text(result.reason or "")


def test_status_table_of_hostile_rows_is_bounded_and_has_no_control_characters(
    sessions: Sessions,
) -> None:
    items, _ = _batch()
    _submit(sessions, items)
    with sessions() as session:
        rows = store.list_requests(session, limit=10_000)
    out = io.StringIO()
    Console(file=out, width=200, force_terminal=False, color_system=None).print(
        views.requests_table(rows)
    )
    text = out.getvalue()
    assert "\x1b" not in text
    assert "\x00" not in text
    assert len(text) < 2_000_000


def test_many_unknown_keys_make_a_bounded_reason(sessions: Sessions) -> None:
    (_, flood, _) = next(case for case in HOSTILE_CASES if case[0] == "three-thousand-unknown-keys")
    fifty = valid_base_request("fifty-unknown-keys")
    fifty.update({f"unknown_{number}": number for number in range(50)})
    flooded, listed = _submit(sessions, [flood, fifty])
    assert flooded.reason is not None
    assert len(flooded.reason) < 200
    assert listed.reason is not None
    assert listed.reason.count(";") == MAX_PROBLEMS  # 20 problems, then "and 30 more"
    assert listed.reason.endswith("and 30 more")


def test_same_request_id_with_another_body_is_a_conflict_and_identical_is_quiet(
    sessions: Sessions,
) -> None:
    first = valid_base_request("reused-id")
    (created,) = _submit(sessions, [first])
    assert created.created
    assert created.conflict is None
    (again,) = _submit(sessions, [valid_base_request("reused-id")])
    assert not again.created
    assert again.conflict is None
    changed = valid_base_request("reused-id")
    changed["invitee"]["name"] = "Someone Else"
    (conflict,) = _submit(sessions, [changed])
    assert not conflict.created
    assert conflict.conflict is not None
    assert "reused-id" in conflict.conflict
    with sessions() as session:
        row = store.get_by_request_id(session, "reused-id")
        assert row is not None
        assert row.payload["invitee"]["name"] == "Ada Lovelace"  # the first body stands


def test_an_invalid_request_resubmitted_changed_is_a_conflict_too(sessions: Sessions) -> None:
    bad = valid_base_request("reused-invalid")
    bad["invitee"]["name"] = "Ada\x00"
    (first,) = _submit(sessions, [bad])
    assert first.status == "invalid"
    (same,) = _submit(sessions, [json.loads(json.dumps(bad))])
    assert same.conflict is None
    (changed,) = _submit(sessions, [valid_base_request("reused-invalid")])
    assert changed.conflict is not None
