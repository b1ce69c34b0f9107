"""The store's behaviours on a fresh SQLite file database.

`tests/integration/test_store_postgres.py` runs this same suite on PostgreSQL by importing it and
overriding the `database_url` fixture. Time never passes by sleeping: every transition takes
`now`, so the tests move the clock themselves.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.orm import Session, sessionmaker

from autobook import db, store
from autobook.models import (
    AttemptState,
    Base,
    BookingRequestRow,
    LogKind,
    NextAction,
    RequestStatus,
)
from tests.support.databases import migrated_session_factory, sqlite_url_in

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
THREADS = 8

Sessions = sessionmaker[Session]
T = TypeVar("T")


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return sqlite_url_in(tmp_path)


@pytest.fixture
def migrated_sessions(database_url: str) -> Iterator[Sessions]:
    with migrated_session_factory(database_url) as sessions:
        yield sessions


# -- helpers -------------------------------------------------------------------------------


def new_request(
    sessions: Sessions,
    request_id: str = "req-1",
    *,
    due: datetime = T0,
    status: RequestStatus = RequestStatus.RECEIVED,
) -> int:
    with sessions() as session:
        row, created = store.intake(
            session,
            request_id=request_id,
            payload={"request_id": request_id, "invitee": {"email": "ada@example.com"}},
            status=status,
            reason=None if status is RequestStatus.RECEIVED else "bad input",
            next_action_at=due,
            now=T0,
        )
    assert created
    return row.id


def claim(sessions: Sessions, pk: int, now: datetime = T0, worker: str = "w1") -> store.Claim:
    with sessions() as session:
        got = store.claim(session, pk, worker=worker, lease=LEASE, now=now)
    assert got is not None
    return got


def fetch(sessions: Sessions, pk: int) -> BookingRequestRow:
    with sessions() as session:
        return store.get(session, pk)


def in_threads(count: int, work: Callable[[int], T]) -> list[T]:
    """Run `work(i)` in `count` threads released together by a barrier."""
    barrier = threading.Barrier(count)

    def run(index: int) -> T:
        barrier.wait()
        return work(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


# -- schema --------------------------------------------------------------------------------


def test_migrated_schema_matches_the_models(migrated_sessions: Sessions, database_url: str) -> None:
    engine = db.make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
    assert db.current_revision(database_url) == db.head_revision() == "0006_subscription_state"


def test_upgrade_from_several_processes_at_once_is_harmless(database_url: str) -> None:
    code = "import sys; from autobook import db; db.upgrade(sys.argv[1])"
    processes = [
        subprocess.Popen([sys.executable, "-c", code, database_url], stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    errors = [process.communicate(timeout=60)[1].decode() for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], errors
    db.upgrade(database_url)  # and once more, now that it is current
    assert db.current_revision(database_url) == db.head_revision()


def test_the_migration_downgrades_to_nothing_and_upgrades_again(database_url: str) -> None:
    db.upgrade(database_url)
    command.downgrade(db.alembic_config(database_url), "base")
    engine = db.make_engine(database_url)
    try:
        assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    db.upgrade(database_url)
    assert db.current_revision(database_url) == db.head_revision()


# -- intake --------------------------------------------------------------------------------


def test_intake_records_a_received_request_due_now_with_its_first_log(
    migrated_sessions: Sessions,
) -> None:
    pk = new_request(migrated_sessions)
    row = fetch(migrated_sessions, pk)
    assert (row.status, row.next_action, row.next_action_at) == (
        RequestStatus.RECEIVED,
        NextAction.SEARCH,
        T0,
    )
    assert (row.fence, row.attempts, row.excluded_slots, row.lease_owner) == (0, 0, [], None)
    assert row.payload["invitee"]["email"] == "ada@example.com"
    with migrated_sessions() as session:
        assert [e.kind for e in store.logs_for(session, pk)] == [LogKind.RECEIVED]


def test_intake_of_the_same_request_id_returns_the_first_row_unchanged(
    migrated_sessions: Sessions,
) -> None:
    pk = new_request(migrated_sessions)
    with migrated_sessions() as session:
        row, created = store.intake(
            session,
            request_id="req-1",
            payload={"other": True},
            status=RequestStatus.INVALID,
            reason="changed",
            now=T0 + timedelta(hours=1),
        )
        assert not created
        assert (row.id, row.status, row.reason, row.payload["request_id"]) == (
            pk,
            RequestStatus.RECEIVED,
            None,
            "req-1",
        )
        assert len(store.logs_for(session, pk)) == 1


def test_concurrent_intakes_of_one_request_id_create_exactly_one_row(
    migrated_sessions: Sessions,
) -> None:
    def submit(index: int) -> tuple[int, bool, Any]:
        with migrated_sessions() as session:
            row, created = store.intake(session, request_id="same", payload={"copy": index}, now=T0)
            return row.id, created, row.payload

    results = in_threads(THREADS, submit)
    assert sum(created for _, created, _ in results) == 1
    assert len({pk for pk, _, _ in results}) == 1
    winner_payload = next(payload for _, created, payload in results if created)
    assert all(payload == winner_payload for _, _, payload in results)
    with migrated_sessions() as session:
        assert len(store.list_requests(session)) == 1


def test_invalid_intake_is_terminal_never_due_and_logged_with_its_reason(
    migrated_sessions: Sessions,
) -> None:
    pk = new_request(migrated_sessions, status=RequestStatus.INVALID)
    row = fetch(migrated_sessions, pk)
    assert row.is_terminal
    assert (row.next_action, row.next_action_at, row.finished_at) == (NextAction.NONE, None, T0)
    with migrated_sessions() as session:
        assert store.claim(session, pk, worker="w", lease=LEASE, now=T0 + LEASE) is None
        assert store.due_requests(session, now=T0 + timedelta(days=1), limit=10) == []
        [entry] = store.logs_for(session, pk)
    assert (entry.kind, entry.message) == (LogKind.INVALID, "bad input")


# -- claim and fencing ---------------------------------------------------------------------


def test_exactly_one_of_many_concurrent_claimers_wins(migrated_sessions: Sessions) -> None:
    pk = new_request(migrated_sessions)

    def try_claim(index: int) -> store.Claim | None:
        with migrated_sessions() as session:
            return store.claim(session, pk, worker=f"w{index}", lease=LEASE, now=T0)

    winners = [c for c in in_threads(THREADS, try_claim) if c is not None]
    assert len(winners) == 1
    row = fetch(migrated_sessions, pk)
    assert (row.fence, row.lease_owner, row.lease_expires_at) == (
        winners[0].fence,
        winners[0].worker,
        T0 + LEASE,
    )


def test_a_request_is_not_claimable_before_it_is_due_or_while_leased(
    migrated_sessions: Sessions,
) -> None:
    pk = new_request(migrated_sessions, due=T0 + timedelta(hours=1))
    with migrated_sessions() as session:
        assert store.claim(session, pk, worker="w1", lease=LEASE, now=T0) is None
    first = claim(migrated_sessions, pk, now=T0 + timedelta(hours=1))
    with migrated_sessions() as session:
        later = T0 + timedelta(hours=1) + LEASE / 2
        assert store.claim(session, pk, worker="w2", lease=LEASE, now=later) is None
    assert fetch(migrated_sessions, pk).fence == first.fence == 1


def test_a_stale_fence_cannot_write_after_the_request_is_claimed_again(
    migrated_sessions: Sessions,
) -> None:
    pk = new_request(migrated_sessions)
    stale = claim(migrated_sessions, pk, worker="slow")
    fresh = claim(migrated_sessions, pk, now=T0 + LEASE, worker="fast")
    assert fresh.fence == stale.fence + 1
    later = T0 + LEASE + timedelta(seconds=1)
    with migrated_sessions() as session:
        assert not store.update_claimed(session, stale, reason="stale", status="searching")
        assert store.renew_lease(session, stale, lease=LEASE, now=later) is None
        assert store.record_intent(session, stale, slot_start=T0, correlation_token="t") is None
        assert store.lock_slot_choice(session, stale, now=later, lease_until=later) is None
        assert not store.release(
            session,
            stale,
            status=RequestStatus.BOOKED,
            next_action=NextAction.NONE,
            next_action_at=None,
        )
        row = store.get(session, pk)
        assert (row.status, row.reason, row.lease_owner, row.attempts) == (
            RequestStatus.RECEIVED,
            None,
            "fast",
            0,
        )
        assert store.attempts_for(session, pk) == []
        assert store.update_claimed(session, fresh, status=RequestStatus.SEARCHING)
        assert store.get(session, pk).status is RequestStatus.SEARCHING


def test_an_expired_lease_makes_the_request_due_and_claimable_again(
    migrated_sessions: Sessions,
) -> None:
    pk = new_request(migrated_sessions)
    first = claim(migrated_sessions, pk)
    with migrated_sessions() as session:
        assert store.due_requests(session, now=T0 + LEASE / 2, limit=10) == []
        assert store.due_requests(session, now=T0 + LEASE, limit=10) == [pk]
    second = claim(migrated_sessions, pk, now=T0 + LEASE, worker="w2")
    assert second.fence == first.fence + 1


def test_renewing_the_lease_keeps_others_out_until_the_new_expiry(
    migrated_sessions: Sessions,
) -> None:
    pk = new_request(migrated_sessions)
    held = claim(migrated_sessions, pk)
    with migrated_sessions() as session:
        renewed = store.renew_lease(session, held, lease=LEASE, now=T0 + LEASE / 2)
        assert renewed is not None
        assert renewed.lease_expires_at == T0 + LEASE * 3 / 2
        assert store.claim(session, pk, worker="w2", lease=LEASE, now=T0 + LEASE) is None
        assert store.claim(session, pk, worker="w2", lease=LEASE, now=renewed.lease_expires_at)


def test_release_ends_the_claim_and_sets_the_next_action(migrated_sessions: Sessions) -> None:
    pk = new_request(migrated_sessions)
    held = claim(migrated_sessions, pk)
    retry_at = T0 + timedelta(minutes=5)
    with migrated_sessions() as session:
        assert store.release(
            session,
            held,
            status=RequestStatus.WAITING,
            next_action=NextAction.SEARCH,
            next_action_at=retry_at,
            reason="no slot yet",
            excluded_slots=["2026-12-02T15:00:00Z"],
        )
        row = store.get(session, pk)
        assert (row.status, row.reason, row.next_action_at, row.lease_owner) == (
            RequestStatus.WAITING,
            "no slot yet",
            retry_at,
            None,
        )
        assert row.excluded_slots == ["2026-12-02T15:00:00Z"]
        assert row.finished_at is None
        assert store.due_requests(session, now=retry_at - timedelta(seconds=1), limit=5) == []
        assert store.due_requests(session, now=retry_at, limit=5) == [pk]


def test_a_terminal_release_finishes_the_request_for_good(migrated_sessions: Sessions) -> None:
    pk = new_request(migrated_sessions)
    held = claim(migrated_sessions, pk)
    done_at = T0 + timedelta(seconds=5)
    with migrated_sessions() as session:
        assert store.release(
            session,
            held,
            status=RequestStatus.BOOKED,
            next_action=NextAction.NONE,
            next_action_at=None,
            now=done_at,
            event_uri="https://api.calendly.com/scheduled_events/E1",
            start_time=T0 + timedelta(days=1),
        )
        row = store.get(session, pk)
        assert (row.status, row.next_action, row.next_action_at, row.finished_at) == (
            RequestStatus.BOOKED,
            NextAction.NONE,
            None,
            done_at,
        )
        assert row.start_time == T0 + timedelta(days=1)
        assert store.claim(session, pk, worker="w", lease=LEASE, now=T0 + timedelta(days=9)) is None


@pytest.mark.parametrize(
    ("status", "next_action", "at"),
    [
        (RequestStatus.BOOKED, NextAction.SEARCH, None),
        (RequestStatus.FAILED, NextAction.NONE, T0),
        (RequestStatus.WAITING, NextAction.NONE, T0),
        (RequestStatus.WAITING, NextAction.SEARCH, None),
    ],
)
def test_release_refuses_a_status_without_a_consistent_next_action(
    migrated_sessions: Sessions,
    status: RequestStatus,
    next_action: NextAction,
    at: datetime | None,
) -> None:
    pk = new_request(migrated_sessions)
    held = claim(migrated_sessions, pk)
    with migrated_sessions() as session, pytest.raises(ValueError, match="terminal"):
        store.release(session, held, status=status, next_action=next_action, next_action_at=at)
    assert fetch(migrated_sessions, pk).lease_owner == "w1"


@pytest.mark.parametrize(
    "fields",
    [{"fence": 99}, {"payload": {}}, {"lease_owner": "me"}, {"status": RequestStatus.BOOKED}],
)
def test_update_claimed_refuses_fields_that_belong_to_the_store(
    migrated_sessions: Sessions, fields: dict[str, Any]
) -> None:
    pk = new_request(migrated_sessions)
    held = claim(migrated_sessions, pk)
    with migrated_sessions() as session, pytest.raises(ValueError, match=r"release|writable"):
        store.update_claimed(session, held, **fields)
    assert fetch(migrated_sessions, pk).fence == held.fence


# -- dispatching ---------------------------------------------------------------------------


def test_due_requests_are_the_most_overdue_first_and_respect_the_limit(
    migrated_sessions: Sessions,
) -> None:
    late = new_request(migrated_sessions, "late", due=T0 - timedelta(minutes=1))
    early = new_request(migrated_sessions, "early", due=T0 - timedelta(minutes=10))
    tie = new_request(migrated_sessions, "tie", due=T0 - timedelta(minutes=1))
    new_request(migrated_sessions, "future", due=T0 + timedelta(minutes=1))
    new_request(migrated_sessions, "invalid", status=RequestStatus.INVALID)
    leased = new_request(migrated_sessions, "leased", due=T0 - timedelta(hours=1))
    claim(migrated_sessions, leased, now=T0 - timedelta(seconds=1))
    with migrated_sessions() as session:
        assert store.due_requests(session, now=T0, limit=10) == [early, late, tie]
        assert store.due_requests(session, now=T0, limit=2) == [early, late]


def test_take_due_sends_each_request_once_per_redispatch_interval(
    migrated_sessions: Sessions,
) -> None:
    pk = new_request(migrated_sessions, "a")
    new_request(migrated_sessions, "b", due=T0 + timedelta(hours=1))
    again = timedelta(seconds=30)
    with migrated_sessions() as session:
        assert store.take_due(session, now=T0, limit=10, redispatch_after=again) == ["a"]
        assert store.take_due(session, now=T0 + again / 2, limit=10, redispatch_after=again) == []
        assert store.take_due(session, now=T0 + again, limit=10, redispatch_after=again) == ["a"]
    held = claim(migrated_sessions, pk, now=T0 + again)
    retry_at = T0 + again + timedelta(seconds=1)
    with migrated_sessions() as session:
        store.release(
            session,
            held,
            status=RequestStatus.WAITING,
            next_action=NextAction.SEARCH,
            next_action_at=retry_at,
        )
        # Due again at a later time than its last dispatch: sent at once, not after 30 s.
        assert store.take_due(session, now=retry_at, limit=10, redispatch_after=again) == ["a"]
        hour = T0 + timedelta(hours=1)
        other = store.get_by_request_id(session, "b")
        assert other is not None
        store.mark_dispatched(session, [other.id], now=hour)  # its producer rang the bell
        # "a" went unclaimed for 30 s: its message may be lost, so it is sent again.
        assert store.take_due(session, now=hour, limit=10, redispatch_after=again) == ["a"]


def test_take_due_sends_a_request_again_as_soon_as_the_lease_of_its_dead_worker_expires(
    migrated_sessions: Sessions,
) -> None:
    pk = new_request(migrated_sessions, "a")
    again = timedelta(minutes=10)
    with migrated_sessions() as session:
        assert store.take_due(session, now=T0, limit=10, redispatch_after=again) == ["a"]
    claim(migrated_sessions, pk, now=T0 + timedelta(seconds=1))  # then the worker dies
    expired = T0 + timedelta(seconds=1) + LEASE
    with migrated_sessions() as session:
        before = expired - timedelta(seconds=1)
        assert store.take_due(session, now=before, limit=10, redispatch_after=again) == []
        # Its message was spent on the dead worker: sent again now, not 10 minutes later.
        assert store.take_due(session, now=expired, limit=10, redispatch_after=again) == ["a"]
        later = expired + timedelta(seconds=1)
        assert store.take_due(session, now=later, limit=10, redispatch_after=again) == []


def test_concurrent_dispatchers_send_each_due_request_once(migrated_sessions: Sessions) -> None:
    for index in range(20):
        new_request(migrated_sessions, f"r{index:02}")

    def take(_: int) -> list[str]:
        with migrated_sessions() as session:
            return store.take_due(session, now=T0, limit=50, redispatch_after=LEASE)

    taken = [request_id for batch in in_threads(4, take) for request_id in batch]
    assert sorted(taken) == [f"r{index:02}" for index in range(20)]


# -- attempts ------------------------------------------------------------------------------


def test_an_intent_counts_the_attempt_and_makes_reconcile_the_next_action(
    migrated_sessions: Sessions,
) -> None:
    pk = new_request(migrated_sessions)
    held = claim(migrated_sessions, pk)
    slot = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    with migrated_sessions() as session:
        attempt_id = store.record_intent(session, held, slot_start=slot, correlation_token="c1")
        assert attempt_id is not None
        row = store.get(session, pk)
        assert (row.attempts, row.status, row.next_action, row.correlation_token) == (
            1,
            RequestStatus.BOOKING,
            NextAction.RECONCILE,
            "c1",
        )
        [attempt] = store.attempts_for(session, pk)
        assert (attempt.id, attempt.state, attempt.fence, attempt.slot_start) == (
            attempt_id,
            AttemptState.INTENT,
            held.fence,
            slot,
        )
        assert store.has_unknown_attempt(session, pk)
        assert store.latest_unresolved_attempt(session, pk).id == attempt_id  # type: ignore[union-attr]


def test_attempt_outcomes_follow_the_allowed_transitions(migrated_sessions: Sessions) -> None:
    pk = new_request(migrated_sessions)
    held = claim(migrated_sessions, pk)
    with migrated_sessions() as session:
        first = store.record_intent(session, held, slot_start=T0, correlation_token="c1")
        second = store.record_intent(session, held, slot_start=T0, correlation_token="c2")
        assert first is not None
        assert second is not None
        assert store.finish_attempt(session, held, first, state="unknown", http_status=502)
        assert store.note_reconcile_look(session, held, first, looks=1)
        assert not store.note_reconcile_look(session, held, first, looks=1)  # never backwards
        assert store.finish_attempt(session, held, first, state=AttemptState.NOT_FOUND)
        assert store.finish_attempt(session, held, second, state=AttemptState.SENT)
        assert store.finish_attempt(session, held, second, state=AttemptState.BOOKED)
        with pytest.raises(ValueError, match="cannot become"):
            store.finish_attempt(session, held, second, state=AttemptState.ADOPTED)
        attempts = store.attempts_for(session, pk)
        assert [(a.state, a.http_status, a.reconcile_looks) for a in attempts] == [
            (AttemptState.NOT_FOUND, 502, 1),
            (AttemptState.BOOKED, None, 0),
        ]
        assert all(a.finished_at is not None for a in attempts)
        assert not store.has_unknown_attempt(session, pk)


def test_a_stale_fence_moves_no_attempt_and_says_so(migrated_sessions: Sessions) -> None:
    pk = new_request(migrated_sessions)
    held = claim(migrated_sessions, pk)
    with migrated_sessions() as session:
        attempt_id = store.record_intent(session, held, slot_start=T0, correlation_token="c1")
    assert attempt_id is not None
    claim(migrated_sessions, pk, now=T0 + LEASE)  # the lease expired; another worker has it
    with migrated_sessions() as session:
        assert not store.finish_attempt(session, held, attempt_id, state=AttemptState.BOOKED)
        [attempt] = store.attempts_for(session, pk)
    assert attempt.state is AttemptState.INTENT


# -- claim_row and record_booking: the booking's hot path ----------------------------------


def _claim_row(sessions: Sessions, now: datetime = T0, **key: Any) -> store.Claimed | None:
    with sessions.begin() as session:
        return store.claim_row(session, worker="w1", lease=LEASE, now=now, **key)


def test_claim_row_claims_by_either_key_and_marks_a_search_searching(
    migrated_sessions: Sessions,
) -> None:
    first = new_request(migrated_sessions, "req-1")
    second = new_request(migrated_sessions, "req-2")
    by_id = _claim_row(migrated_sessions, request_id="req-1")
    by_pk = _claim_row(migrated_sessions, request_pk=second)
    assert by_id is not None
    assert by_pk is not None
    assert (by_id.claim.request_pk, by_id.row.id, by_id.row.request_id) == (first, first, "req-1")
    assert by_pk.row.request_id == "req-2"
    # The row as claimed: the new fence and lease, the status it had before the claim.
    assert (by_id.row.fence, by_id.claim.fence) == (1, 1)
    assert by_id.row.lease_owner == "w1"
    assert by_id.claim.lease_expires_at == T0 + LEASE
    assert by_id.row.status is RequestStatus.RECEIVED
    assert fetch(migrated_sessions, first).status is RequestStatus.SEARCHING
    # Leased now, unknown, or both keys: nothing is claimed.
    assert _claim_row(migrated_sessions, request_id="req-1") is None
    assert _claim_row(migrated_sessions, request_id="nobody") is None
    with pytest.raises(ValueError, match="primary key or"):
        _claim_row(migrated_sessions, request_pk=first, request_id="req-1")


def test_claim_row_keeps_the_status_a_waiting_request_had(migrated_sessions: Sessions) -> None:
    pk = new_request(migrated_sessions)
    held = claim(migrated_sessions, pk)
    with migrated_sessions() as session:
        assert store.release(
            session,
            held,
            status=RequestStatus.WAITING,
            next_action=NextAction.SEARCH,
            next_action_at=T0 + timedelta(minutes=5),
        )
    assert _claim_row(migrated_sessions, request_pk=pk) is None  # not due yet
    claimed = _claim_row(migrated_sessions, T0 + timedelta(minutes=5), request_pk=pk)
    assert claimed is not None
    assert claimed.row.status is RequestStatus.WAITING
    assert claimed.row.next_action is NextAction.SEARCH
    assert fetch(migrated_sessions, pk).status is RequestStatus.SEARCHING


def test_claim_row_leaves_a_reconcile_in_its_status(migrated_sessions: Sessions) -> None:
    pk = new_request(migrated_sessions)
    held = claim(migrated_sessions, pk)
    assert _intent(migrated_sessions, held) is not None  # booking, next action reconcile
    claimed = _claim_row(migrated_sessions, T0 + LEASE, request_pk=pk)
    assert claimed is not None
    assert claimed.row.next_action is NextAction.RECONCILE
    assert fetch(migrated_sessions, pk).status is RequestStatus.BOOKING


def _book(sessions: Sessions, held: store.Claim, attempt_id: int) -> store.BookingRecorded | None:
    with sessions.begin() as session:
        return store.record_booking(
            session,
            held,
            attempt_id,
            state=AttemptState.BOOKED,
            http_status=201,
            add_blocks=["https://api.calendly.com/users/H1"],
            event_uri="https://api.calendly.com/scheduled_events/E1",
        )


def test_record_booking_moves_the_attempt_and_releases_booked_together(
    migrated_sessions: Sessions,
) -> None:
    pk = new_request(migrated_sessions)
    held = claim(migrated_sessions, pk)
    attempt_id = _intent(migrated_sessions, held)
    assert attempt_id is not None
    assert _book(migrated_sessions, held, attempt_id) == store.BookingRecorded(cancel_due=False)
    row = fetch(migrated_sessions, pk)
    assert (row.status, row.next_action, row.lease_owner) == (
        RequestStatus.BOOKED,
        NextAction.NONE,
        None,
    )
    assert row.event_uri == "https://api.calendly.com/scheduled_events/E1"
    assert row.finished_at is not None
    with migrated_sessions() as session:
        [attempt] = store.attempts_for(session, pk)
    assert (attempt.state, attempt.http_status) == (AttemptState.BOOKED, 201)
    assert "https://api.calendly.com/users/H1" in attempt.blocks


def test_record_booking_after_a_withdrawal_makes_the_cancellation_due(
    migrated_sessions: Sessions,
) -> None:
    pk = new_request(migrated_sessions)
    held = claim(migrated_sessions, pk)
    attempt_id = _intent(migrated_sessions, held)
    assert attempt_id is not None
    with migrated_sessions() as session:
        assert store.withdraw(session, pk, reason=None, now=T0) is store.Withdrawal.REQUESTED
    assert _book(migrated_sessions, held, attempt_id) == store.BookingRecorded(cancel_due=True)
    row = fetch(migrated_sessions, pk)
    assert (row.status, row.next_action) == (RequestStatus.BOOKED, NextAction.CANCEL)


def test_record_booking_with_a_stale_fence_writes_nothing(migrated_sessions: Sessions) -> None:
    pk = new_request(migrated_sessions)
    held = claim(migrated_sessions, pk)
    attempt_id = _intent(migrated_sessions, held)
    assert attempt_id is not None
    claim(migrated_sessions, pk, now=T0 + LEASE)
    assert _book(migrated_sessions, held, attempt_id) is None
    row = fetch(migrated_sessions, pk)
    assert (row.status, row.next_action) == (RequestStatus.BOOKING, NextAction.RECONCILE)
    with migrated_sessions() as session:
        [attempt] = store.attempts_for(session, pk)
    assert attempt.state is AttemptState.INTENT


# -- the 401 pause -------------------------------------------------------------------------


def test_pausing_sending_holds_every_request_without_failing_any(
    migrated_sessions: Sessions,
) -> None:
    waiting = new_request(migrated_sessions, "waiting")
    finished = new_request(migrated_sessions, "finished", status=RequestStatus.INVALID)
    held = claim(migrated_sessions, waiting)
    with migrated_sessions() as session:
        assert store.pause_sending(session, reason="401 Unauthorized", now=T0)
        assert not store.pause_sending(session, reason="again", now=T0)
        pause = store.sending_paused(session)
        assert pause is not None
        assert pause.reason == "401 Unauthorized"
        assert store.record_intent(session, held, slot_start=T0, correlation_token="c") is None
        store.release(
            session,
            held,
            status=RequestStatus.SEARCHING,
            next_action=NextAction.SEARCH,
            next_action_at=T0,
        )
        later = T0 + timedelta(hours=1)
        assert store.due_requests(session, now=later, limit=10) == []
        assert store.take_due(session, now=later, limit=10, redispatch_after=LEASE) == []
        assert store.claim(session, waiting, worker="w2", lease=LEASE, now=later) is None
        assert store.get(session, waiting).status is RequestStatus.SEARCHING
        assert [e.kind for e in store.logs_for(session, waiting)][-1] == LogKind.HELD
        assert LogKind.HELD not in [e.kind for e in store.logs_for(session, finished)]

        assert store.resume_sending(session, now=later)
        assert not store.resume_sending(session, now=later)
        assert store.sending_paused(session) is None
        assert store.due_requests(session, now=later, limit=10) == [waiting]


def test_only_one_token_check_is_taken_per_interval_while_paused(
    migrated_sessions: Sessions,
) -> None:
    interval = timedelta(seconds=30)
    with migrated_sessions() as session:
        assert not store.claim_token_check(session, now=T0, interval=interval)  # not paused
        store.pause_sending(session, reason="401", now=T0)
        assert not store.claim_token_check(session, now=T0 + interval / 2, interval=interval)

    def check(_: int) -> bool:
        with migrated_sessions() as session:
            return store.claim_token_check(session, now=T0 + interval, interval=interval)

    assert sum(in_threads(4, check)) == 1
    with migrated_sessions() as session:
        store.note_token_check(session, now=T0 + interval * 3)
        pause = store.sending_paused(session)
        assert pause is not None
        assert pause.last_token_check_at == T0 + interval * 3


# -- log, time, transactions, errors -------------------------------------------------------


def test_the_log_is_append_only(migrated_sessions: Sessions) -> None:
    pk = new_request(migrated_sessions)
    with migrated_sessions() as session:
        store.log(session, pk, LogKind.WINDOW_POLLED, "polled", {"slots": 3}, now=T0)
        store.log(session, pk, "custom_kind", "anything", now=T0 + timedelta(seconds=1))
        before = [(e.id, e.kind, e.message, e.data) for e in store.logs_for(session, pk)]
    assert [kind for _, kind, _, _ in before] == ["received", "window_polled", "custom_kind"]
    assert before[1][3] == {"slots": 3}
    with migrated_sessions() as session, pytest.raises(sa.exc.DBAPIError, match="append-only"):
        session.execute(sa.text("UPDATE request_log SET message = 'rewritten'"))
    with migrated_sessions() as session:
        after = [(e.id, e.kind, e.message, e.data) for e in store.logs_for(session, pk)]
    assert after == before


def test_datetimes_come_back_as_aware_utc_whatever_zone_went_in(
    migrated_sessions: Sessions,
) -> None:
    paris_winter = timezone(timedelta(hours=1))
    due = datetime(2026, 12, 1, 10, 0, tzinfo=paris_winter)  # 09:00 UTC
    pk = new_request(migrated_sessions, due=due)
    row = fetch(migrated_sessions, pk)
    for value in (row.next_action_at, row.created_at, row.updated_at):
        assert value is not None
        assert value.tzinfo is UTC
    assert row.next_action_at == T0
    with migrated_sessions() as session:
        [entry] = store.logs_for(session, pk)
        assert entry.at.tzinfo is UTC
        with pytest.raises(ValueError, match="naive"):
            store.claim(session, pk, worker="w", lease=LEASE, now=datetime(2026, 12, 1, 9))
        with pytest.raises(ValueError, match="naive"):
            store.log(session, pk, "x", "y", now=datetime(2026, 12, 1, 9))


def test_calls_inside_a_caller_transaction_commit_or_roll_back_together(
    migrated_sessions: Sessions,
) -> None:
    pk = new_request(migrated_sessions)
    held = claim(migrated_sessions, pk)

    def fail_half_way() -> None:
        with migrated_sessions.begin() as session:
            store.update_claimed(session, held, reason="half done")
            store.log(session, pk, "note", "half done")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_half_way()
    with migrated_sessions() as session:
        assert store.get(session, pk).reason is None
        assert len(store.logs_for(session, pk)) == 1
    with migrated_sessions.begin() as session:
        store.update_claimed(session, held, reason="done")
        store.log(session, pk, "note", "done")
    with migrated_sessions() as session:
        assert store.get(session, pk).reason == "done"
        assert len(store.logs_for(session, pk)) == 2


def test_each_call_commits_on_its_own_with_a_plain_session(migrated_sessions: Sessions) -> None:
    pk = new_request(migrated_sessions)
    with migrated_sessions() as writer, migrated_sessions() as reader:
        store.log(writer, pk, "note", "visible at once")
        assert len(store.logs_for(reader, pk)) == 2


def test_orm_changes_made_outside_the_store_are_refused(migrated_sessions: Sessions) -> None:
    pk = new_request(migrated_sessions)
    with migrated_sessions() as session:
        row = store.get(session, pk)
        row.status = RequestStatus.BOOKED
        with pytest.raises(RuntimeError, match=r"only autobook\.store writes"):
            store.log(session, pk, "note", "sneaky")
        session.rollback()
    assert fetch(migrated_sessions, pk).status is RequestStatus.RECEIVED


def test_reads_list_count_and_find_requests(migrated_sessions: Sessions) -> None:
    for index in range(5):
        new_request(migrated_sessions, f"r{index}")
    new_request(migrated_sessions, "bad", status=RequestStatus.INVALID)
    with migrated_sessions() as session:
        assert [r.request_id for r in store.list_requests(session, limit=3)] == ["r3", "r4", "bad"]
        invalid = store.list_requests(session, statuses=[RequestStatus.INVALID])
        assert [r.request_id for r in invalid] == ["bad"]
        assert store.counts_by_status(session) == {
            RequestStatus.RECEIVED: 5,
            RequestStatus.INVALID: 1,
        }
        assert store.get_by_request_id(session, "nope") is None
        with pytest.raises(store.UnknownRequest):
            store.get(session, 10_000)


def test_an_unreachable_database_raises_store_unavailable() -> None:
    engine = db.make_engine("postgresql+psycopg://postgres@127.0.0.1:1/autobook")
    try:
        with db.make_session_factory(engine)() as session, pytest.raises(store.StoreUnavailable):
            store.get_by_request_id(session, "x")
    finally:
        engine.dispose()


# -- slot holds ----------------------------------------------------------------------------


def hold_first_free(sessions: Sessions, claimed: store.Claim, starts: list[datetime]) -> datetime:
    """What a worker does: under the lock, skip the starts others hold and hold the first free."""
    with sessions.begin() as session:
        assert store.lock_slot_choice(session, claimed, now=T0)
        taken = {
            hold.start
            for hold in store.held_slots(session, start=starts[0], end=starts[-1], since=T0)
            if hold.request_pk != claimed.request_pk
        }
        start = next(s for s in starts if s not in taken)
        attempt = store.record_intent(
            session,
            claimed,
            slot_start=start,
            slot_end=start + timedelta(minutes=30),
            blocks={"demo"},
            correlation_token=f"tok-{claimed.request_pk}",
            now=T0,
        )
        assert attempt is not None
    return start


def test_concurrent_choosers_under_the_lock_hold_distinct_slots(
    migrated_sessions: Sessions,
) -> None:
    claims = [
        claim(migrated_sessions, new_request(migrated_sessions, f"hold-{i}"))
        for i in range(THREADS)
    ]
    starts = [T0 + timedelta(hours=1, minutes=30 * i) for i in range(THREADS + 2)]
    held = in_threads(THREADS, lambda i: hold_first_free(migrated_sessions, claims[i], starts))
    assert sorted(held) == starts[:THREADS]


def test_held_slots_are_the_unresolved_the_recently_booked_and_the_taken(
    migrated_sessions: Sessions,
) -> None:
    slot = T0 + timedelta(hours=2)

    def attempt(request_id: str, state: AttemptState | None, **finish: Any) -> None:
        claimed = claim(migrated_sessions, new_request(migrated_sessions, request_id))
        with migrated_sessions() as session:
            attempt_id = store.record_intent(
                session,
                claimed,
                slot_start=slot,
                slot_end=slot + timedelta(minutes=30),
                blocks={"demo", "host"},
                correlation_token=request_id,
                now=T0,
            )
            assert attempt_id is not None
            if state is not None:
                assert store.finish_attempt(session, claimed, attempt_id, state=state, **finish)

    attempt("in-flight", None)
    attempt("booked-before", AttemptState.BOOKED, now=T0)
    attempt("booked-after", AttemptState.BOOKED, add_blocks={"assigned"}, now=T0 + LEASE)
    attempt("taken", AttemptState.REJECTED, slot_taken=True, now=T0 + LEASE)
    attempt("refused", AttemptState.REJECTED, now=T0 + LEASE)
    since = T0 + timedelta(seconds=1)
    with migrated_sessions() as session:
        held = store.held_slots(session, start=slot, end=slot + timedelta(hours=1), since=since)
        later = store.held_slots(
            session, start=slot + timedelta(minutes=30), end=slot + timedelta(hours=1), since=since
        )
    by_request = {fetch(migrated_sessions, h.request_pk).request_id: h for h in held}
    assert set(by_request) == {"in-flight", "booked-after", "taken"}
    assert by_request["in-flight"].unresolved
    assert by_request["taken"].taken_by_others
    assert by_request["booked-after"].blocks == {"demo", "host", "assigned"}
    assert by_request["booked-after"].end == slot + timedelta(minutes=30)
    assert later == []  # the slot ends where that range begins


# -- withdrawing and canceling ---------------------------------------------------------------


def _intent(sessions: Sessions, got: store.Claim) -> int | None:
    with sessions() as session:
        return store.record_intent(
            session, got, slot_start=T0 + timedelta(days=1), correlation_token="t"
        )


def test_withdrawing_an_idle_request_cancels_it_and_fences_out_its_worker(
    migrated_sessions: Sessions,
) -> None:
    pk = new_request(migrated_sessions)
    searching = claim(migrated_sessions, pk)
    with migrated_sessions() as session:
        outcome = store.withdraw(session, pk, reason="lead went cold", now=T0)
    assert outcome is store.Withdrawal.WITHDRAWN
    row = fetch(migrated_sessions, pk)
    assert row.status is RequestStatus.CANCELED
    assert row.is_terminal
    assert row.next_action is NextAction.NONE
    assert row.next_action_at is None
    assert row.reason is not None
    assert "lead went cold" in row.reason
    # The worker that was searching can write nothing, above all no intent: nothing is sent.
    assert _intent(migrated_sessions, searching) is None
    with migrated_sessions() as session:
        assert store.claim(session, pk, worker="w2", lease=LEASE, now=T0) is None
        assert store.withdraw(session, pk, reason=None, now=T0) is store.Withdrawal.ALREADY


def test_withdrawing_during_a_post_only_marks_it_and_refuses_later_intents(
    migrated_sessions: Sessions,
) -> None:
    pk = new_request(migrated_sessions)
    booking = claim(migrated_sessions, pk)
    assert _intent(migrated_sessions, booking) is not None  # the POST may be under way now
    with migrated_sessions() as session:
        assert store.withdraw(session, pk, reason=None, now=T0) is store.Withdrawal.REQUESTED
        assert store.withdraw(session, pk, reason=None, now=T0) is store.Withdrawal.ALREADY
    row = fetch(migrated_sessions, pk)
    assert row.status is RequestStatus.BOOKING
    assert row.cancel_requested_at is not None
    assert _intent(migrated_sessions, booking) is None  # never a second POST
    # The booking lands anyway: its cancellation at Calendly becomes due, and is claimable.
    with migrated_sessions.begin() as session:
        assert store.release(
            session,
            booking,
            status=RequestStatus.BOOKED,
            next_action=NextAction.NONE,
            next_action_at=None,
            event_uri="https://api.calendly.com/scheduled_events/E1",
        )
        assert store.schedule_requested_cancel(session, pk, now=T0)
    row = fetch(migrated_sessions, pk)
    assert (row.status, row.next_action) == (RequestStatus.BOOKED, NextAction.CANCEL)
    canceling = claim(migrated_sessions, pk, now=T0 + timedelta(seconds=1))
    with migrated_sessions() as session:
        assert store.release(
            session,
            canceling,
            status=RequestStatus.CANCELED,
            next_action=NextAction.NONE,
            next_action_at=None,
        )
    assert fetch(migrated_sessions, pk).status is RequestStatus.CANCELED


def test_canceling_a_booked_request_makes_one_cancellation_due(
    migrated_sessions: Sessions,
) -> None:
    pk = new_request(migrated_sessions)
    booking = claim(migrated_sessions, pk)
    with migrated_sessions() as session:
        store.release(
            session,
            booking,
            status=RequestStatus.BOOKED,
            next_action=NextAction.NONE,
            next_action_at=None,
        )
        assert store.withdraw(session, pk, reason="x", now=T0) is store.Withdrawal.CANCEL_DUE
        assert store.withdraw(session, pk, reason="x", now=T0) is store.Withdrawal.ALREADY
        assert store.due_requests(session, now=T0, limit=10) == [pk]
    winners = in_threads(
        THREADS,
        lambda i: _try_claim(migrated_sessions, pk, f"w{i}"),
    )
    assert sum(1 for got in winners if got is not None) == 1


def _try_claim(sessions: Sessions, pk: int, worker: str) -> store.Claim | None:
    with sessions() as session:
        return store.claim(session, pk, worker=worker, lease=LEASE, now=T0)


def test_a_request_that_ended_otherwise_has_nothing_to_cancel(migrated_sessions: Sessions) -> None:
    pk = new_request(migrated_sessions, status=RequestStatus.INVALID)
    with migrated_sessions() as session:
        assert store.withdraw(session, pk, reason=None, now=T0) is store.Withdrawal.FINAL
    assert fetch(migrated_sessions, pk).status is RequestStatus.INVALID


def test_the_packaged_head_read_from_the_files_is_alembics_head() -> None:
    # `db.upgrade` skips Alembic when the database is at this revision: it must be the head.
    assert db.packaged_head() == db.head_revision()
