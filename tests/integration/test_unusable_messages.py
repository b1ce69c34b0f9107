"""Messages Celery itself cannot run are recorded as invalid, and the worker goes on."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from kombu import Producer

from autobook.tasks import BOOK_TASK
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.slow


@pytest.fixture(params=["embedded", "redis_pg"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    with running_stack(request.param, tmp_path) as running:
        yield running


def test_undecodable_unknown_and_foreign_messages_are_recorded_and_the_worker_goes_on(
    stack: Stack,
) -> None:
    stack.app.send_task("crm.not_a_task", args=["x"], queue="autobook")
    with stack.app.connection_for_write() as connection:
        producer = Producer(connection)
        producer.publish(
            b"{not json",
            routing_key="autobook",
            content_type="application/json",
            content_encoding="utf-8",
            headers={"task": "autobook.book", "id": "undecodable-1"},
        )
        producer.publish({"hello": "world"}, routing_key="autobook", serializer="json")
    stack.submit(
        [
            {
                "request_id": "after-garbage",
                "event_type": {"slug": "intro"},
                "invitee": {"name": "A", "email": "after@example.com", "timezone": "UTC"},
            }
        ]
    )
    (booked,) = stack.wait_terminal(["after-garbage"], timeout=60)
    assert str(booked.status) == "booked"

    def recorded() -> dict[str, str]:
        return {
            str(row.reason): str(row.status)
            for row in stack.rows()
            if row.request_id.startswith("malformed-")
        }

    deadline_rows = recorded()
    reasons = " | ".join(deadline_rows)
    assert set(deadline_rows.values()) == {"invalid"}
    assert "unknown task name" in reasons
    assert "the body does not decode" in reasons
    assert "not a Celery task message" in reasons
    # None of them reached Calendly: only the valid request's calls are counted.
    assert stack.admin.count("POST", "/invitees") == 1


# Bodies that once killed the worker ("Unrecoverable error") and came back to kill the next one.
POISON_BODIES: list[object] = [[["x"]], {"a": 1}, "just a string", [["x"], "not kwargs", {}]]


def _malformed_reasons(stack: Stack) -> list[str]:
    return [
        str(row.reason)
        for row in stack.rows()
        if row.request_id.startswith("malformed-") and str(row.status) == "invalid"
    ]


def _wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)


def _valid(request_id: str) -> dict[str, object]:
    return {
        "request_id": request_id,
        "event_type": {"slug": "intro"},
        "invitee": {"name": "A", "email": f"{request_id}@example.com", "timezone": "UTC"},
    }


def test_poison_messages_are_recorded_and_the_worker_stays_alive(stack: Stack) -> None:
    (worker,) = [p for p in stack.local.processes if "worker" in " ".join(map(str, p.args))]
    with stack.app.connection_for_write() as connection:
        producer = Producer(connection)
        for index, body in enumerate(POISON_BODIES):
            producer.publish(
                body,
                routing_key="autobook",
                serializer="json",
                headers={"task": "autobook.book", "id": f"poison-{index}"},
            )
        producer.publish(  # no id in the headers
            [["x"], {}, {}],
            routing_key="autobook",
            serializer="json",
            headers={"task": "autobook.book"},
        )
    raw_items = 0
    if stack.backend.broker_url is not None:
        client = redis.Redis.from_url(stack.backend.broker_url)
        bad_base64 = {
            "body": "!!! not base64",
            "headers": {"task": "autobook.book", "id": "b64"},
            "content-type": "application/json",
            "properties": {"body_encoding": "base64"},
        }
        for item in (b"garbage", json.dumps(bad_base64).encode(), b'[1, "an array"]', b"\xff\xfe"):
            client.lpush("autobook", item)
            raw_items += 1
    expected = len(POISON_BODIES) + 1 + raw_items
    _wait_for(lambda: len(_malformed_reasons(stack)) >= expected, timeout=60)
    stack.submit([_valid("after-poison")])
    (booked,) = stack.wait_terminal(["after-poison"], timeout=60)
    assert str(booked.status) == "booked"
    assert worker.poll() is None, "the worker died"
    reasons = " | ".join(_malformed_reasons(stack))
    assert "its body is an array of 1, not [args, kwargs, embed]" in reasons
    assert "its body is an object" in reasons
    assert "its body is a string" in reasons
    assert "its kwargs are a string" in reasons
    assert "headers have no id" in reasons
    if raw_items:
        assert "not JSON" in reasons
        assert "not valid base64" in reasons
        assert "the item is an array" in reasons
        assert "not UTF-8" in reasons
    assert "Unrecoverable error" not in stack.worker_logs()
    assert stack.admin.count("POST", "/invitees") == 1


def test_a_partly_written_queue_file_waits_and_old_garbage_is_recorded(tmp_path: Path) -> None:
    with running_stack("embedded", tmp_path) as stack:
        (worker,) = [p for p in stack.local.processes if "worker" in " ".join(map(str, p.args))]
        queue = stack.settings.filesystem_broker_dirs().queue
        envelope = {
            "body": base64.b64encode(
                json.dumps([[_valid("late-writer")], {}, {}]).encode()
            ).decode(),
            "content-type": "application/json",
            "content-encoding": "utf-8",
            "headers": {"task": "autobook.book", "id": "late-writer-1"},
            "properties": {"body_encoding": "base64"},
        }
        text = json.dumps(envelope)
        partial = queue / "1_partial.autobook.msg"
        partial.write_text(text[: len(text) // 2])  # a producer that writes in place, mid-write
        stale = queue / "0_stale.autobook.msg"
        stale.write_text('{"body": ')
        old = time.time() - 3600
        os.utime(stale, (old, old))
        _wait_for(lambda: any("not JSON" in r for r in _malformed_reasons(stack)), timeout=60)
        time.sleep(1.0)  # several polls: the young partial file must be left alone
        assert partial.exists()
        partial.write_text(text)  # the writer finishes
        (booked,) = stack.wait_terminal(["late-writer"], timeout=60)
        assert str(booked.status) == "booked"
        assert worker.poll() is None
        assert "Unrecoverable error" not in stack.worker_logs()


def test_an_expired_book_message_is_recorded_invalid_not_dropped(stack: Stack) -> None:
    # Celery acknowledges a message whose `expires` is past and drops it with no record: a
    # whole request sent that way was lost.
    (worker,) = [p for p in stack.local.processes if "worker" in " ".join(map(str, p.args))]
    past = datetime.now(UTC) - timedelta(minutes=5)
    stack.app.send_task(BOOK_TASK, args=(_valid("expired-request"),), expires=past)
    _wait_for(lambda: any("expired" in reason for reason in _malformed_reasons(stack)), 60)
    (reason,) = [r for r in _malformed_reasons(stack) if "expired" in r]
    assert reason.startswith("message: it expired at ")
    assert stack.rows(["expired-request"]) == []  # not run: it expired
    ahead = datetime.now(UTC) + timedelta(hours=1)  # still ahead: run as usual
    stack.app.send_task(BOOK_TASK, args=(_valid("unexpired-request"),), expires=ahead)
    (booked,) = stack.wait_terminal(["unexpired-request"], timeout=60)
    assert str(booked.status) == "booked"
    assert worker.poll() is None
