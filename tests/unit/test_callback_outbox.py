"""The callback outbox (`store.outbox`): written with the outcome, claimed, retried, given up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from autobook import store
from autobook.models import CallbackState, NextAction, RequestStatus
from tests.support.databases import migrated_session_factory, sqlite_url_in

Sessions = sessionmaker[Session]
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
URL = "https://crm.example.com/hooks/booking"


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[Sessions]:
    with migrated_session_factory(sqlite_url_in(tmp_path)) as made:
        yield made


def _request(sessions: Sessions, request_id: str, **payload: object) -> int:
    body = {
        "request_id": request_id,
        "invitee": {"email": "ada@example.com", "timezone": "America/New_York"},
        "tracking": {"salesforce_uuid": "00Q5e00000AbCdE"},
        "event_guests": ["cc@example.com"],
        **payload,
    }
    with sessions() as session:
        row, _ = store.intake(session, request_id=request_id, payload=body, now=T0)
    return row.id


def _book(sessions: Sessions, pk: int, *, fail_after: bool = False) -> None:
    with sessions() as session:
        claim = store.claim(session, pk, worker="w", lease=LEASE, now=T0)
    assert claim is not None
    with sessions.begin() as session:
        store.release(
            session,
            claim,
            status=RequestStatus.BOOKED,
            next_action=NextAction.NONE,
            next_action_at=None,
            now=T0,
            event_uri="https://api.calendly.com/scheduled_events/E1",
            cancel_url="https://calendly.com/cancellations/I1",
            reschedule_url="https://calendly.com/reschedulings/I1",
            start_time=T0 + timedelta(days=2),
        )
        if fail_after:
            raise RuntimeError("the outcome's transaction rolls back")


def _callbacks(sessions: Sessions) -> list[store.outbox.Row]:
    with sessions() as session:
        return [row for row, _ in store.outbox.list_callbacks(session)]


def test_a_booked_release_writes_its_callback_with_the_outcome(sessions: Sessions) -> None:
    pk = _request(sessions, "r1", callback_url=URL)
    _book(sessions, pk)
    (callback,) = _callbacks(sessions)
    assert callback.event == "booking.booked"
    assert callback.url == URL
    assert callback.state is CallbackState.PENDING
    data = callback.body["data"]
    assert data["cancel_url"] == "https://calendly.com/cancellations/I1"
    assert data["tracking"]["salesforce_uuid"] == "00Q5e00000AbCdE"
    assert data["event_guests"] == ["cc@example.com"]
    assert data["start_time"] == "2026-12-03T12:00:00Z"


def test_an_outcome_that_rolls_back_leaves_no_callback(sessions: Sessions) -> None:
    pk = _request(sessions, "r2", callback_url=URL)
    with pytest.raises(RuntimeError):
        _book(sessions, pk, fail_after=True)
    assert _callbacks(sessions) == []


def test_no_url_means_no_callback_and_invalid_intake_gets_one(sessions: Sessions) -> None:
    _book(sessions, _request(sessions, "r3"))
    with sessions() as session:
        store.intake(
            session,
            request_id="bad",
            payload={"callback_url": URL},
            status=RequestStatus.INVALID,
            reason="invitee: missing",
            now=T0,
        )
    assert [c.event for c in _callbacks(sessions)] == ["booking.invalid"]


def test_a_withdrawal_writes_booking_canceled(sessions: Sessions) -> None:
    pk = _request(sessions, "r4", callback_url=URL)
    with sessions() as session:
        assert store.withdraw(session, pk, reason="lead lost", now=T0) is store.Withdrawal.WITHDRAWN
    assert [c.event for c in _callbacks(sessions)] == ["booking.canceled"]


def test_claims_retries_and_giving_up(sessions: Sessions) -> None:
    _book(sessions, _request(sessions, "r5", callback_url=URL))
    with sessions.begin() as session:
        (cid,) = store.outbox.take_due(session, now=T0, limit=10, redispatch_after=LEASE)
        assert store.outbox.take_due(session, now=T0, limit=10, redispatch_after=LEASE) == []
    with sessions.begin() as session:
        first = store.outbox.claim(session, cid, now=T0, lease=LEASE)
        assert first is not None
        assert first.attempts == 1
        # Claimed: nobody else posts this attempt, until the lease runs out.
        assert store.outbox.claim(session, cid, now=T0, lease=LEASE) is None
    after_lease = T0 + LEASE
    with sessions.begin() as session:
        assert store.outbox.take_due(
            session, now=after_lease, limit=10, redispatch_after=LEASE
        ) == [cid]
        again = store.outbox.claim(session, cid, now=after_lease, lease=LEASE)
        assert again is not None
        assert again.webhook_id == first.webhook_id
        state = store.outbox.finish(
            session,
            cid,
            at=after_lease,
            status_code=500,
            latency_ms=3,
            error="HTTP 500",
            retry_at=after_lease + timedelta(seconds=10),
        )
        assert state is CallbackState.PENDING
        late = T0 + timedelta(hours=25)
        assert store.outbox.claim(session, cid, now=late, lease=LEASE) is not None
        state = store.outbox.finish(
            session,
            cid,
            at=late,
            status_code=None,
            latency_ms=3,
            error="ConnectError",
            retry_at=late + timedelta(seconds=10),
        )
        assert state is CallbackState.FAILED
        assert [a.status_code for a in store.outbox.attempts_of(session, cid)] == [500, None]
    with sessions.begin() as session:
        assert store.outbox.retry(session, None, now=late) == [cid]
        assert store.outbox.claim(session, cid, now=late, lease=LEASE) is not None
        state = store.outbox.finish(
            session, cid, at=late, status_code=204, latency_ms=3, error=None, retry_at=None
        )
        assert state is CallbackState.DELIVERED
