"""Messages Celery itself cannot run are recorded as invalid, and the worker goes on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Producer

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
