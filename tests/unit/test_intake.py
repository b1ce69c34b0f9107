"""`intake`: validate, record, then ring the doorbell; idempotent by request_id.

On a fresh SQLite file with the real migrations; the clock is passed in, and `ring` is a list
that records which requests were rung.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from autobook import intake, store
from autobook.intake import MALFORMED_PREFIX, SubmitResult
from tests.support.databases import migrated_session_factory, sqlite_url_in
from tests.unit.invalid_requests import INVALID_REQUESTS

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

Sessions = sessionmaker[Session]


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[Sessions]:
    with migrated_session_factory(sqlite_url_in(tmp_path)) as factory:
        yield factory


def _request(request_id: str = "intake-1", **extra: Any) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "event_type": {"slug": "demo"},
        "invitee": {"name": "Ada", "email": "ada@example.com", "timezone": "Europe/London"},
        **extra,
    }


def _submit(
    sessions: Sessions, items: list[object], rung: list[str], now: datetime = NOW
) -> list[SubmitResult]:
    return intake.submit_many(sessions, items, now=lambda: now, ring=rung.append)


def _row(sessions: Sessions, request_id: str) -> store.BookingRequestRow:
    with sessions() as session:
        row = store.get_by_request_id(session, request_id)
        assert row is not None
        return row


def _log_kinds(sessions: Sessions, request_id: str) -> list[str]:
    with sessions() as session:
        row = store.get_by_request_id(session, request_id)
        assert row is not None
        return [entry.kind for entry in store.logs_for(session, row.id)]


def test_valid_request_is_recorded_received_due_now_and_rung(sessions: Sessions) -> None:
    rung: list[str] = []
    (result,) = _submit(sessions, [_request()], rung)
    assert (result.request_id, result.status, result.reason) == ("intake-1", "received", None)
    assert result.created
    assert result.due_now
    assert rung == ["intake-1"]
    row = _row(sessions, "intake-1")
    assert str(row.status) == "received"
    assert str(row.next_action) == "search"
    assert row.next_action_at == NOW
    assert row.payload == _request()
    assert _log_kinds(sessions, "intake-1") == ["received"]


def test_submitting_the_same_request_id_again_changes_nothing(sessions: Sessions) -> None:
    rung: list[str] = []
    (first,) = _submit(sessions, [_request()], rung)
    changed = _request(prefer="latest")
    (again,) = _submit(sessions, [changed], rung, now=NOW + timedelta(minutes=5))
    assert not again.created
    assert not again.due_now
    assert again.request_pk == first.request_pk
    assert again.status == "received"
    assert rung == ["intake-1"]  # rung once only
    row = _row(sessions, "intake-1")
    assert row.payload == _request()  # the first payload stays
    assert row.created_at == NOW
    assert _log_kinds(sessions, "intake-1") == ["received"]


def test_an_invalid_resubmission_of_a_recorded_id_returns_the_valid_record(
    sessions: Sessions,
) -> None:
    rung: list[str] = []
    _submit(sessions, [_request()], rung)
    broken = _request()
    broken["invitee"]["timezone"] = "PST"
    (again,) = _submit(sessions, [broken], rung)
    assert (again.status, again.created, again.reason) == ("received", False, None)


def test_invalid_request_is_recorded_with_its_reason_and_never_rung(sessions: Sessions) -> None:
    rung: list[str] = []
    broken = _request("intake-bad")
    broken["invitee"]["email"] = "ada@gmial.com"
    (result,) = _submit(sessions, [broken], rung)
    assert result.status == "invalid"
    assert result.reason is not None
    assert result.reason.startswith("invitee.email: ")
    assert "gmail.com" in result.reason
    assert not result.due_now
    assert rung == []
    row = _row(sessions, "intake-bad")
    assert str(row.status) == "invalid"
    assert str(row.next_action) == "none"
    assert row.next_action_at is None
    assert row.finished_at == NOW
    assert row.payload == broken
    assert _log_kinds(sessions, "intake-bad") == ["invalid"]


def test_every_corpus_item_is_recorded_invalid_and_none_is_rung(sessions: Sessions) -> None:
    rung: list[str] = []
    results = _submit(sessions, [raw for _, raw, _ in INVALID_REQUESTS], rung)
    assert rung == []
    for (label, _, field), result in zip(INVALID_REQUESTS, results, strict=True):
        assert result.status == "invalid", label
        assert result.reason is not None
        assert field in result.reason, label
    assert len({r.request_id for r in results}) == len(results)


def test_garbage_without_request_id_gets_a_stable_synthetic_id(sessions: Sessions) -> None:
    rung: list[str] = []
    garbage: list[object] = [42, {"hello": "world"}, 42]
    first, second, third = _submit(sessions, garbage, rung)
    assert first.request_id.startswith(MALFORMED_PREFIX)
    assert third.request_id == first.request_id
    assert not third.created
    assert second.request_id != first.request_id
    assert _row(sessions, first.request_id).payload == {"malformed": "42"}
    assert _row(sessions, second.request_id).payload == {"hello": "world"}


def test_follow_up_is_recorded_but_not_rung_before_start_after(sessions: Sessions) -> None:
    rung: list[str] = []
    later = NOW + timedelta(hours=2)
    (result,) = _submit(sessions, [_request(start_after="2026-12-01T11:00:00Z")], rung)
    assert result.status == "received"
    assert not result.due_now
    assert rung == []
    row = _row(sessions, "intake-1")
    assert row.next_action_at == later
    with sessions() as session:
        (entry,) = store.logs_for(session, row.id)
    assert "held until" in entry.message
    assert "2026-12-01T11:00:00" in entry.message


def test_start_after_in_the_past_is_due_now(sessions: Sessions) -> None:
    rung: list[str] = []
    (result,) = _submit(sessions, [_request(start_after="2026-11-30T00:00:00Z")], rung)
    assert result.due_now
    assert rung == ["intake-1"]
    assert _row(sessions, "intake-1").next_action_at == NOW


def test_a_broker_failure_loses_nothing_and_the_others_are_still_rung(
    sessions: Sessions, caplog: pytest.LogCaptureFixture
) -> None:
    rung: list[str] = []

    def ring(request_id: str) -> None:
        if request_id == "intake-2":
            raise ConnectionError("broker down")
        rung.append(request_id)

    items = [_request(f"intake-{n}") for n in (1, 2, 3)]
    with caplog.at_level(logging.WARNING, logger="autobook.intake"):
        results = intake.submit_many(sessions, items, now=lambda: NOW, ring=ring)
    assert [r.status for r in results] == ["received"] * 3
    assert rung == ["intake-1", "intake-3"]
    assert str(_row(sessions, "intake-2").status) == "received"  # the dispatcher will send it
    assert "intake-2 will be sent by the dispatcher" in caplog.text


def test_ring_many_rings_each_chunk_once_it_is_committed(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intake, "SUBMIT_CHUNK", 2)
    chunks: list[list[str]] = []

    def ring_many(request_ids: Sequence[str]) -> None:
        # Every request rung is committed already: another session sees it.
        assert all(str(_row(sessions, rid).status) == "received" for rid in request_ids)
        chunks.append(list(request_ids))

    items: list[object] = [_request(f"chunk-{n}") for n in range(3)]
    items += ["not an object", _request("chunk-1"), _request("later", start_after="2027-01-04")]
    results = intake.submit_many(sessions, items, now=lambda: NOW, ring_many=ring_many)
    assert [r.request_id for r in results][:3] == ["chunk-0", "chunk-1", "chunk-2"]
    # Not rung: the invalid item, the resubmission, the follow-up held until later.
    assert chunks == [["chunk-0", "chunk-1"], ["chunk-2"]]


def test_a_broker_failure_in_ring_many_loses_nothing(
    sessions: Sessions, caplog: pytest.LogCaptureFixture
) -> None:
    def ring_many(request_ids: Sequence[str]) -> None:
        raise ConnectionError("broker down")

    items: list[object] = [_request("down-1"), _request("down-2")]
    with caplog.at_level(logging.WARNING, logger="autobook.intake"):
        results = intake.submit_many(sessions, items, now=lambda: NOW, ring_many=ring_many)
    assert [r.status for r in results] == ["received", "received"]
    assert "2 request(s) will be sent by the dispatcher" in caplog.text


def test_submit_many_needs_a_doorbell(sessions: Sessions) -> None:
    with pytest.raises(TypeError, match="ring or ring_many"):
        intake.submit_many(sessions, [_request()], now=lambda: NOW)


def test_an_item_that_is_no_request_costs_the_others_nothing(sessions: Sessions) -> None:
    rung: list[str] = []
    _submit(sessions, [_request("intake-a"), "not an object", _request("intake-b")], rung)
    assert rung == ["intake-a", "intake-b"]
    assert str(_row(sessions, "intake-b").status) == "received"


def test_malformed_messages_are_recorded_once_with_the_given_reason(sessions: Sessions) -> None:
    payload = intake.malformed_payload(("x", "y"), {"k": 1})
    assert payload == {"malformed_message": '{"args": ["x", "y"], "kwargs": {"k": 1}}'}
    with sessions.begin() as session:
        first = intake.record_malformed(session, payload, "message: two arguments", now=NOW)
    with sessions.begin() as session:
        again = intake.record_malformed(session, dict(payload), "message: other", now=NOW)
    assert first.created
    assert not again.created
    assert again.request_id == first.request_id
    assert first.request_id.startswith(MALFORMED_PREFIX)
    row = _row(sessions, first.request_id)
    assert (str(row.status), row.reason) == ("invalid", "message: two arguments")
    assert not first.due_now


def test_malformed_payload_is_bounded_and_survives_values_json_cannot_encode() -> None:
    huge = intake.malformed_payload(["x" * 10_000], {})
    assert len(huge["malformed_message"]) == intake.MALFORMED_DESCRIPTION_CHARS
    odd = intake.malformed_payload((object(),), {})
    assert "object object" in odd["malformed_message"]
