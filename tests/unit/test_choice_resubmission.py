"""A booking of a proposed time sent again: answered from its record, before its proposal.

`intake.record` on a fresh SQLite file with the real migrations, and a proposal row written
directly. Once the proposal expired (or was purged), the same body under the same request_id is
still the same request (not a conflict, not `invalid`); another body under it is a conflict.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from autobook import intake
from autobook.models import ProposalRow
from tests.support.databases import migrated_session_factory, sqlite_url_in

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
URI = "https://api.calendly.com/event_types/demo"
OFFERED = ["2026-12-07T18:00:00Z", "2026-12-08T15:00:00Z"]


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    with migrated_session_factory(sqlite_url_in(tmp_path)) as factory:
        with factory.begin() as session:
            session.add(
                ProposalRow(
                    proposal_id="prop_test",
                    event_type_uri=URI,
                    request={"window": {"hours": ["09:00-17:00"]}, "prefer": "earliest"},
                    slots=OFFERED,
                    polled_at=NOW,
                    created_at=NOW,
                    expires_at=NOW + timedelta(minutes=30),
                )
            )
        yield factory


def _body(**extra: Any) -> dict[str, Any]:
    invitee = {"name": "Ada", "email": "ada@example.com", "timezone": "America/New_York"}
    return {"request_id": "chat-1", "proposal_id": "prop_test", "invitee": invitee, **extra}


def _record(sessions: sessionmaker[Session], raw: object, now: datetime) -> intake.SubmitResult:
    with sessions.begin() as session:
        return intake.record(session, raw, now=now)


def _purge(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        session.execute(delete(ProposalRow))


def test_the_same_body_after_expiry_is_the_recorded_request(
    sessions: sessionmaker[Session],
) -> None:
    first = _record(sessions, _body(choice=2), NOW)
    assert first.created
    assert first.status == "received"
    later = NOW + timedelta(hours=2)  # the proposal expired
    again = _record(sessions, _body(choice=2), later)
    assert not again.created
    assert again.conflict is None
    assert again.status == "received"
    assert again.request_pk == first.request_pk
    _purge(sessions)  # and once it is gone altogether
    assert _record(sessions, _body(choice=2), later).conflict is None


def test_a_start_time_written_another_way_is_the_same_body(
    sessions: sessionmaker[Session],
) -> None:
    _record(sessions, _body(start_time="2026-12-08T10:00:00-05:00"), NOW)
    again = _record(
        sessions, _body(start_time="2026-12-08T10:00:00-05:00"), NOW + timedelta(hours=2)
    )
    assert not again.created
    assert again.conflict is None


def test_another_body_under_the_id_after_expiry_is_a_conflict(
    sessions: sessionmaker[Session],
) -> None:
    _record(sessions, _body(choice=2), NOW)
    later = NOW + timedelta(hours=2)
    for changed in (
        _body(choice=1),
        _body(choice=2, if_taken="fail"),
        _body(choice=2, start_time=OFFERED[0]),
        _body(choice=2, event_type="https://api.calendly.com/event_types/other"),
        {**_body(choice=2), "invitee": {**_body()["invitee"], "email": "eve@example.com"}},
    ):
        result = _record(sessions, changed, later)
        assert not result.created
        assert result.conflict is not None, changed


def test_a_new_request_id_on_an_expired_proposal_is_invalid(
    sessions: sessionmaker[Session],
) -> None:
    result = _record(sessions, _body(request_id="chat-2", choice=1), NOW + timedelta(hours=2))
    assert result.created
    assert result.status == "invalid"
    assert any(problem.field == "proposal_id" for problem in result.problems)
