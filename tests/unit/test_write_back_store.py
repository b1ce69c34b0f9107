"""The write-back store (`store.calendly_events`, `store.subscription_state`, `outbox.backlog`) on
SQLite; `tests/integration/test_write_back_store_postgres.py` runs the same tests on PostgreSQL.

Checked: a Calendly delivery is remembered once; a cancellation and a reschedule each change a
booked request once and write one callback in the same transaction; the booked sweep's read of
booked meetings ahead; the subscription watch's turn is taken by one caller per interval; the
callback backlog counts only what is due.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from autobook import store
from autobook.models import RequestStatus
from tests.support.booked import record_booked
from tests.support.databases import migrated_session_factory, sqlite_url_in

Sessions = sessionmaker[Session]
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
API = "https://api.calendly.com"
TYPE = f"{API}/event_types/T1"
URL = "https://crm.example.com/hooks/booking"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return sqlite_url_in(tmp_path)


@pytest.fixture
def sessions(database_url: str) -> Iterator[Sessions]:
    with migrated_session_factory(database_url) as made:
        yield made


def _booked(sessions: Sessions, name: str, *, days_ahead: int = 2) -> int:
    return record_booked(
        sessions,
        name,
        now=T0,
        payload={"request_id": name, "callback_url": URL},
        event_type_uri=TYPE,
        event_uri=f"{API}/scheduled_events/E-{name}",
        invitee_uri=f"{API}/scheduled_events/E-{name}/invitees/I-{name}",
        start_time=T0 + timedelta(days=days_ahead),
    )


def _events_of(sessions: Sessions, request_id: str) -> list[str]:
    """The request's callback events, oldest first."""
    with sessions() as session:
        rows = [row for row, rid in store.outbox.list_callbacks(session) if rid == request_id]
    return [row.event for row in sorted(rows, key=lambda row: row.id)]


def test_a_delivery_is_remembered_once(sessions: Sessions) -> None:
    with sessions.begin() as session:
        assert store.calendly_events.remember_delivery(session, "k1", "invitee.canceled", now=T0)
    with sessions.begin() as session:
        assert not store.calendly_events.remember_delivery(
            session, "k1", "invitee.canceled", now=T0
        )
        assert store.calendly_events.remember_delivery(session, "k2", "invitee.created", now=T0)


def test_a_cancellation_applies_once_with_its_callback(sessions: Sessions) -> None:
    _booked(sessions, "c1")
    invitee = f"{API}/scheduled_events/E-c1/invitees/I-c1"
    with sessions.begin() as session:
        applied = store.calendly_events.apply_canceled(
            session, invitee, who="Ada", why="conflict", now=T0
        )
    assert applied is not None
    assert applied.event_type_uri == TYPE
    with sessions.begin() as session:
        again = store.calendly_events.apply_canceled(session, invitee, who="Ada", why="x", now=T0)
    assert again is None
    with sessions() as session:
        row = store.get_by_request_id(session, "c1")
        assert row is not None
        assert row.status is RequestStatus.CANCELED
        assert "Ada" in (row.reason or "")
    assert _events_of(sessions, "c1") == ["booking.booked", "booking.canceled"]


def test_a_reschedule_moves_the_booking_with_its_callback(sessions: Sessions) -> None:
    _booked(sessions, "m1")
    old = f"{API}/scheduled_events/E-m1/invitees/I-m1"
    new_start = T0 + timedelta(days=3)
    new = {
        "invitee_uri": f"{API}/scheduled_events/E-new/invitees/I-new",
        "event_uri": f"{API}/scheduled_events/E-new",
        "start_time": new_start,
        "end_time": new_start + timedelta(minutes=30),
    }
    with sessions.begin() as session:
        moved = store.calendly_events.apply_rescheduled(session, old, new=new, now=T0)
    assert moved is not None
    with sessions.begin() as session:
        assert store.calendly_events.apply_rescheduled(session, old, new=new, now=T0) is None
    with sessions() as session:
        row = store.get_by_request_id(session, "m1")
        assert row is not None
        assert row.status is RequestStatus.BOOKED
        assert row.invitee_uri == new["invitee_uri"]
        assert row.start_time == new_start
    assert _events_of(sessions, "m1") == ["booking.booked", "booking.rescheduled"]


def test_booked_events_ahead_lists_only_meetings_still_ahead(sessions: Sessions) -> None:
    _booked(sessions, "later", days_ahead=3)
    _booked(sessions, "sooner", days_ahead=1)
    _booked(sessions, "past", days_ahead=-1)
    with sessions() as session:
        ahead = store.calendly_events.booked_events_ahead(session, now=T0)
    assert [event.rsplit("/", 1)[-1] for _, event, _ in ahead] == ["E-sooner", "E-later"]


def test_the_subscription_watch_turn_and_state(sessions: Sessions) -> None:
    interval = timedelta(minutes=5)
    with sessions.begin() as session:
        assert store.subscription_state.current(session) is None
        assert store.subscription_state.claim_check(session, now=T0, interval=interval) is None
        store.calendly_events.save_subscription(
            session,
            uri=f"{API}/webhook_subscriptions/S1",
            callback_url="https://autobook.example.com/v1/calendly/webhook",
            signing_key_sealed="sealed",
            now=T0,
        )
    with sessions.begin() as session:
        made = store.subscription_state.current(session)
        assert made is not None
        assert (made.state, made.checked_at) == ("active", T0)
        # Just made counts as checked: the next turn is an interval later, and only one caller's.
        assert store.subscription_state.claim_check(session, now=T0, interval=interval) is None
    later = T0 + interval
    with sessions.begin() as session:
        uri = store.subscription_state.claim_check(session, now=later, interval=interval)
    assert uri == f"{API}/webhook_subscriptions/S1"
    with sessions.begin() as session:
        assert store.subscription_state.claim_check(session, now=later, interval=interval) is None
        store.subscription_state.record(session, uri, state="disabled", now=later)
    with sessions() as session:
        seen = store.subscription_state.current(session)
    assert seen is not None
    assert (seen.state, seen.checked_at) == ("disabled", later)


def test_the_backlog_counts_due_callbacks_and_the_oldest_wait(sessions: Sessions) -> None:
    with sessions() as session:
        assert store.outbox.backlog(session, now=T0) == (0, 0.0)
    _booked(sessions, "b1")
    _booked(sessions, "b2")
    with sessions() as session:
        assert store.outbox.backlog(session, now=T0 + timedelta(seconds=90)) == (2, 90.0)
    with sessions.begin() as session:
        (first, _second) = sorted(row.id for row, _ in store.outbox.list_callbacks(session))
        claimed = store.outbox.claim(session, first, now=T0, lease=timedelta(minutes=10))
        assert claimed is not None
    with sessions() as session:
        # The claimed one is not due until its lease ends.
        assert store.outbox.backlog(session, now=T0 + timedelta(seconds=90)) == (1, 90.0)
