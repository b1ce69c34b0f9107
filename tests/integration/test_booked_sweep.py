"""With no webhooks at all, the booked sweep keeps outcomes true (issue 11): a meeting canceled
in the sandbox makes its request `canceled` within one sweep interval, with its
`booking.canceled` callback, and the slot it opened goes to a waiting request.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from autobook.localstack import SANDBOX_TOKEN
from tests.conftest import ProxiedStack, StartStack
from tests.support.intake import Intake, add_callback_source, start_intake
from tests.support.receiver import Receiver
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow

SWEEP_SECONDS = 1


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> ProxiedStack:
    return start_stack(
        "embedded",
        extra_env={
            "AUTOBOOK_CALLBACK_ALLOW_PRIVATE": "true",
            "AUTOBOOK_BOOKED_SWEEP_SECONDS": str(SWEEP_SECONDS),
            "AUTOBOOK_AVAILABILITY_CACHE_SECONDS": "0",
            "AUTOBOOK_WAITING_REPOLL_SECONDS": "600",
        },
    )


@pytest.fixture(scope="module")
def intake(stack: ProxiedStack) -> Intake:
    return start_intake(stack)


def test_a_cancellation_without_webhooks_is_found_by_the_sweep(
    stack: ProxiedStack, intake: Intake, receiver: tuple[Receiver, str]
) -> None:
    made, url = receiver
    key, secret = add_callback_source(stack)
    request = {
        "request_id": "sweep-cancel",
        "event_type": {"slug": "intro"},
        "invitee": {"name": "Ada", "email": "sweep@example.com", "timezone": "America/Chicago"},
        "callback_url": f"{url}/sweep",
    }
    assert intake.post(request, key=key).status_code == 202
    (row,) = stack.wait_terminal(["sweep-cancel"], timeout=60)
    assert str(row.status) == "booked"
    uuid = row.event_uri.rsplit("/", 1)[-1]
    canceled = httpx.post(
        f"{stack.sandbox_url}/scheduled_events/{uuid}/cancellation",
        json={"reason": "double booked"},
        headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"},
        timeout=30,
    )
    assert canceled.status_code == 201
    # One sweep interval, plus a dispatcher tick and the worker's turn.
    wait_for(
        lambda: str(stack.row("sweep-cancel").status) == "canceled",
        SWEEP_SECONDS + 10,
        "canceled by the sweep",
    )
    assert "double booked" in (stack.row("sweep-cancel").reason or "")
    events = wait_for(
        lambda: [
            e
            for e in (Webhook(secret).verify(r.body, r.headers) for r in made.at("/sweep"))
            if e["type"] == "booking.canceled"
        ],
        20,
        "booking.canceled",
    )
    assert events[0]["data"]["request_id"] == "sweep-cancel"
    assert events[0]["data"]["cancel_reason"] == "double booked"
    assert datetime.now(UTC) - datetime.fromisoformat(events[0]["timestamp"]) < timedelta(minutes=1)


def test_a_reschedule_without_webhooks_is_followed_by_the_sweep(
    stack: ProxiedStack, intake: Intake, receiver: tuple[Receiver, str]
) -> None:
    made, url = receiver
    shown = json.loads(stack.cli("sources", "add", "crm2", "--json").stdout)
    key, secret = shown["secret"], shown["callback_secret"]
    request = {
        "request_id": "sweep-move",
        "event_type": {"slug": "intro"},
        "invitee": {"name": "Ada", "email": "move@example.com", "timezone": "America/Chicago"},
        "callback_url": f"{url}/sweep-move",
    }
    assert intake.post(request, key=key).status_code == 202
    (row,) = stack.wait_terminal(["sweep-move"], timeout=60)
    # The invitee clicks the reschedule link (the sandbox serves Calendly's page paths).
    page = stack.sandbox_url + urlsplit(row.reschedule_url).path  # the sandbox's own page
    assert httpx.post(page, data={}, timeout=30).status_code == 200
    moved = wait_for(
        lambda: (r := stack.row("sweep-move")).invitee_uri != row.invitee_uri and r,
        SWEEP_SECONDS + 10,
        "moved by the sweep",
    )
    assert str(moved.status) == "booked"
    assert moved.start_time != row.start_time
    events = wait_for(
        lambda: [
            e
            for e in (Webhook(secret).verify(r.body, r.headers) for r in made.at("/sweep-move"))
            if e["type"] == "booking.rescheduled"
        ],
        20,
        "booking.rescheduled",
    )
    assert events[0]["data"]["previous"]["start_time"] == row.start_time.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
