"""The group commit of `autobook serve`, over real HTTP and real PostgreSQL and Redis (issue 10).

Concurrent calls are recorded together (`serve.committer`); each must still be answered as if it
were alone. Checked here: valid, invalid, repeated and conflicting calls and batches fired at
once are each answered right and recorded exactly once; an item the database refuses inside a
group costs the others nothing; a database connection killed in the middle of a group's
transaction answers 503 with `Retry-After` to the calls of that group, records none of them, and
loses nothing that was answered 202; and concurrent calls counted together are refused past the
rate exactly as one by one. No worker runs: the rows stay as the intake recorded them.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import ProxiedStack, StartStack
from tests.support.intake import Intake, start_intake

pytestmark = pytest.mark.slow

SLOW_PREFIX = "slow-"
REFUSED_PREFIX = "refused-"
SLOW_SECONDS = 3
# The trigger plays a database that refuses one row, or holds a transaction (for a kill).
TRIGGER_SQL = f"""
CREATE OR REPLACE FUNCTION group_commit_test_guard() RETURNS trigger AS $$
BEGIN
    IF NEW.request_id LIKE '{REFUSED_PREFIX}%' THEN
        RAISE EXCEPTION 'this row is refused by the test';
    END IF;
    IF NEW.request_id LIKE '{SLOW_PREFIX}%' THEN
        PERFORM pg_sleep({SLOW_SECONDS});
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS group_commit_test_guard ON booking_request;
CREATE TRIGGER group_commit_test_guard BEFORE INSERT ON booking_request
    FOR EACH ROW EXECUTE FUNCTION group_commit_test_guard();
"""


def _request(request_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "event_type": {"slug": "intro"},
        "invitee": {
            "name": "Grace Hopper",
            "email": f"{request_id}@example.com",
            "timezone": "Europe/Paris",
        },
        **extra,
    }


def _named(body: dict[str, Any], name: str) -> dict[str, Any]:
    body["invitee"]["name"] = name
    return body


def _invalid(request_id: str) -> dict[str, Any]:
    body = _request(request_id)
    body["invitee"]["email"] = "not-an-email"
    return body


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> ProxiedStack:
    return start_stack("redis_pg", workers=0)


@pytest.fixture(scope="module")
def intake(stack: ProxiedStack) -> Intake:
    with stack.sessions() as session:
        session.execute(sa.text(TRIGGER_SQL))
        session.commit()
    return start_intake(stack)


@pytest.fixture(scope="module")
def key(intake: Intake) -> str:
    return intake.add_source("crm")


def _at_once(calls: Sequence[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run every call in its own thread, released together; the answers in order."""
    start = threading.Barrier(len(calls))

    def released(call: Callable[[], httpx.Response]) -> httpx.Response:
        start.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(released, calls))


def _rows_per_id(stack: ProxiedStack, prefix: str) -> Counter[str]:
    with stack.sessions() as session:
        found = session.execute(
            sa.text("SELECT request_id FROM booking_request WHERE request_id LIKE :p"),
            {"p": f"{prefix}%"},
        ).scalars()
        return Counter(found)


def _created_instants(stack: ProxiedStack, prefix: str) -> set[datetime]:
    with stack.sessions() as session:
        found = session.execute(
            sa.text("SELECT created_at FROM booking_request WHERE request_id LIKE :p"),
            {"p": f"{prefix}%"},
        ).scalars()
        return set(found)


def test_concurrent_calls_each_answered_right_and_recorded_once(
    intake: Intake, key: str, stack: ProxiedStack
) -> None:
    """Six kinds of call, eight of each, all released at once (so they share groups)."""
    bodies: dict[str, list[Any]] = {
        "valid": [_request(f"mix-valid-{n}") for n in range(8)],
        "invalid": [_invalid(f"mix-invalid-{n}") for n in range(8)],
        # the same body twice at once: exactly one creates the request, the other sees it
        "twice": [_request(f"mix-twice-{n // 2}") for n in range(8)],
        # two bodies under one id at once: one is recorded, the other is a conflict
        "conflict": [_named(_request(f"mix-conflict-{n // 2}"), f"Body {n}") for n in range(8)],
        "batch": [[_request(f"mix-batch-{n}"), _invalid(f"mix-batch-{n}-bad")] for n in range(8)],
    }
    calls = [
        (kind, functools.partial(intake.post, body, key=key))
        for kind, listed in bodies.items()
        for body in listed
    ]

    answers = _at_once([call for _, call in calls])

    by_kind: dict[str, list[httpx.Response]] = {kind: [] for kind in bodies}
    for (kind, _), answer in zip(calls, answers, strict=True):
        by_kind[kind].append(answer)
    assert [a.status_code for a in by_kind["valid"]] == [202] * 8
    for answer in by_kind["invalid"]:
        assert answer.status_code == 422, answer.text
        assert [p["field"] for p in answer.json()["problems"]] == ["invitee.email"]
    for kind, pair in (("twice", [200, 202]), ("conflict", [202, 409])):
        for n in range(0, 8, 2):
            got = sorted(a.status_code for a in by_kind[kind][n : n + 2])
            assert got == pair, (kind, n, [a.text for a in by_kind[kind][n : n + 2]])
    for answer in by_kind["batch"]:
        assert answer.status_code == 207, answer.text
        assert [r["http_status"] for r in answer.json()["results"]] == [202, 422]

    ids = {
        item["request_id"]
        for listed in bodies.values()
        for body in listed
        for item in (body if isinstance(body, list) else [body])
    }
    assert _rows_per_id(stack, "mix-") == Counter(dict.fromkeys(ids, 1))  # exactly one row each
    # Fewer transactions than calls: the calls of a group are recorded at one instant.
    assert len(_created_instants(stack, "mix-")) < len(calls)


def test_an_item_the_database_refuses_costs_its_group_nothing(
    intake: Intake, key: str, stack: ProxiedStack
) -> None:
    calls = [functools.partial(intake.post, _request(f"group-ok-{n}"), key=key) for n in range(20)]
    calls.insert(7, functools.partial(intake.post, _request(f"{REFUSED_PREFIX}1"), key=key))

    answers = _at_once(calls)

    refused = answers.pop(7)
    assert [a.status_code for a in answers] == [202] * 20, [a.text for a in answers]
    assert _rows_per_id(stack, "group-ok-") == Counter({f"group-ok-{n}": 1 for n in range(20)})
    # The refused item is recorded as invalid under a synthetic id, never silently dropped.
    assert refused.status_code == 422, refused.text
    assert "could not be recorded as sent" in refused.json()["detail"]
    assert _rows_per_id(stack, REFUSED_PREFIX) == Counter()


def _kill_connections_after(stack: ProxiedStack, seconds: float) -> threading.Thread:
    def kill() -> None:
        time.sleep(seconds)
        with stack.sessions() as session:
            session.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            session.commit()

    thread = threading.Thread(target=kill)
    thread.start()
    return thread


def test_a_connection_killed_mid_group_answers_503_and_loses_nothing_answered_202(
    intake: Intake, key: str, stack: ProxiedStack
) -> None:
    held_id = f"{SLOW_PREFIX}1"
    others = [f"kill-{n}" for n in range(10)]
    # The slow request holds its group's transaction open; the kill lands inside it, while
    # the other calls are answered by the next groups (or refused, if the kill reaches them).
    killer = _kill_connections_after(stack, SLOW_SECONDS / 2)
    with ThreadPoolExecutor(len(others) + 1) as pool:
        held_call = pool.submit(intake.post, _request(held_id), key=key)
        time.sleep(0.2)
        other_calls = {rid: pool.submit(intake.post, _request(rid), key=key) for rid in others}
        held = held_call.result()
        answers = {rid: call.result() for rid, call in other_calls.items()}
    killer.join()

    assert held.status_code == 503, held.text
    assert int(held.headers["Retry-After"]) > 0
    assert "nothing was recorded" in held.json()["detail"]
    assert _rows_per_id(stack, SLOW_PREFIX) == Counter()  # its transaction rolled back whole
    recorded = _rows_per_id(stack, "kill-")
    for request_id, answer in answers.items():
        assert answer.status_code in (202, 503), (request_id, answer.text)
        if answer.status_code == 202:  # nothing answered 202 is lost
            assert recorded[request_id] == 1, request_id

    # Whatever was refused is recorded once when sent again; the server needs no restart.
    for request_id, answer in answers.items():
        if answer.status_code == 503:
            assert intake.post(_request(request_id), key=key).status_code == 202
    assert _rows_per_id(stack, "kill-") == Counter(dict.fromkeys(others, 1))


def test_concurrent_calls_counted_together_are_refused_past_the_rate_as_one_by_one(
    intake: Intake,
) -> None:
    if datetime.now(UTC).second >= 55:  # the window is a calendar minute: don't straddle two
        time.sleep(61 - datetime.now(UTC).second)
    limited = intake.add_source("limited", "--rate", "10")
    answers = _at_once(
        [functools.partial(intake.post, _request(f"rated-{n}"), key=limited) for n in range(25)]
    )
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {202: 10, 429: 15}, statuses
    assert all(int(a.headers["Retry-After"]) >= 1 for a in answers if a.status_code == 429)
