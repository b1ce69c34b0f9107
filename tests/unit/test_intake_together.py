"""`intake.record_together`: several submissions in one transaction, answered as one by one.

The HTTP intake's group commit records concurrent calls together (`store.intake_many`); every
answer must be the one the same items get when recorded one transaction each (`intake.record`),
in the same order, and every request recorded once. On fresh SQLite files with the real migrations.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from autobook import intake, store
from autobook.intake import SubmitResult
from tests.hostile.corpus import HOSTILE_CASES, PYTHON_VALUES
from tests.support.databases import migrated_session_factory, sqlite_url_in
from tests.unit.invalid_requests import INVALID_REQUESTS

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

Sessions = sessionmaker[Session]


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[Sessions]:
    with migrated_session_factory(sqlite_url_in(tmp_path / "together")) as factory:
        yield factory


@pytest.fixture
def one_by_one(tmp_path: Path) -> Iterator[Sessions]:
    with migrated_session_factory(sqlite_url_in(tmp_path / "apart")) as factory:
        yield factory


def _request(request_id: str, name: str = "Ada") -> dict[str, Any]:
    return {
        "request_id": request_id,
        "event_type": {"slug": "demo"},
        "invitee": {"name": name, "email": "ada@example.com", "timezone": "Europe/London"},
    }


def _answer(result: SubmitResult) -> tuple[Any, ...]:
    return (
        result.request_id,
        result.status,
        result.reason,
        result.created,
        result.due_now,
        result.conflict is not None,
        result.source_id,
        tuple(result.problems),
    )


def _together(sessions: Sessions, groups: list[tuple[int | None, list[object]]]) -> list[Any]:
    results = intake.record_together(sessions, groups, now=lambda: NOW)
    return [[_answer(r) for r in group] for group in results]


def _apart(sessions: Sessions, groups: list[tuple[int | None, list[object]]]) -> list[Any]:
    """The same items recorded one transaction each, as `intake.record` does."""
    answers = []
    for source_id, items in groups:
        group = []
        for raw in items:
            with sessions.begin() as session:
                group.append(_answer(intake.record(session, raw, now=NOW, source_id=source_id)))
        answers.append(group)
    return answers


def _rows_and_logs(sessions: Sessions) -> dict[str, int]:
    with sessions() as session:
        return {
            row.request_id: len(store.logs_for(session, row.id))
            for row in store.list_requests(session)
        }


def test_repeats_conflicts_and_known_ids_in_one_group_are_answered_as_one_by_one(
    sessions: Sessions, one_by_one: Sessions
) -> None:
    for factory in (sessions, one_by_one):
        intake.submit_many(factory, [_request("known")], now=lambda: NOW, ring=lambda _: None)
    groups: list[tuple[int | None, list[object]]] = [
        (None, [_request("a"), _request("a"), _request("b"), _request("a", name="Other")]),
        (None, [_request("known"), _request("known", name="Other"), {"request_id": "c"}]),
        (None, [_request("b"), "not an object", _request("d")]),
    ]

    together = _together(sessions, groups)

    assert together == _apart(one_by_one, groups)
    statuses = [[(answer[0], answer[3], answer[5]) for answer in group] for group in together]
    assert statuses[0] == [
        ("a", True, False),
        ("a", False, False),
        ("b", True, False),
        ("a", False, True),
    ]
    # Each request once, each with its one first log line (none written for a repeat).
    assert set(_rows_and_logs(sessions).values()) == {1}
    assert _rows_and_logs(sessions) == _rows_and_logs(one_by_one)


def test_the_hostile_and_invalid_corpora_are_answered_as_one_by_one(
    sessions: Sessions, one_by_one: Sessions
) -> None:
    items: list[object] = [raw for _, raw, _ in INVALID_REQUESTS]
    items += [raw for _, raw, _ in HOSTILE_CASES]
    items += [raw for _, raw, _ in PYTHON_VALUES]
    items.append(_request("valid-among-them"))
    groups: list[tuple[int | None, list[object]]] = [
        (None, items[start : start + 25]) for start in range(0, len(items), 25)
    ]

    assert _together(sessions, groups) == _apart(one_by_one, groups)
    assert _rows_and_logs(sessions) == _rows_and_logs(one_by_one)
