"""Calendly webhooks keep outcomes true (issue 11), over real HTTP: `autobook serve`, a worker,
the sandbox and a callback receiver. The deliveries are signed here as Calendly signs them
(API-NOTES §2.9); the cancellations are real ones in the sandbox. Checked: a bad or stale
`Calendly-Webhook-Signature` is refused; an `invitee.canceled` makes the request `canceled`
(who and why) and calls back `booking.canceled`, once however often Calendly repeats it; a
reschedule moves the request to its new time, still `booked`, with `booking.rescheduled`; a
waiting request gets the slot a cancellation opened within 5 s of the webhook.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from standardwebhooks.webhooks import Webhook

from autobook.localstack import SANDBOX_TOKEN
from autobook.webhooks.signature import sign
from tests.conftest import ProxiedStack, StartStack
from tests.support.intake import Intake, add_callback_source, start_intake
from tests.support.receiver import Receiver, running_receiver
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow

SIGNING_KEY = "calendly-signing-key-for-tests-7f3a"
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def receiver(stack: ProxiedStack) -> Iterator[tuple[Receiver, str]]:
    """One per stack: each stack's sources sign with secrets of their own."""
    with running_receiver() as running:
        yield running


# Embedded (SQLite, filesystem broker) and production-shaped (PostgreSQL, Redis).
@pytest.fixture(scope="module", params=["embedded", "redis_pg"])
def stack(start_stack: StartStack, request: pytest.FixtureRequest) -> ProxiedStack:
    return start_stack(
        request.param,
        extra_env={
            "AUTOBOOK_CALLBACK_ALLOW_PRIVATE": "true",
            "AUTOBOOK_CALLBACK_RETRY_BASE_SECONDS": "0.3",
            "AUTOBOOK_CALENDLY_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
            # A long availability cache in each of the worker's two pool processes: a slot
            # that opens is forgotten in every one (Redis, or the data folder's stale marks;
            # tests/integration/test_stale_marks.py pins the latter across two processes).
            "AUTOBOOK_AVAILABILITY_CACHE_SECONDS": "120",
            # The periodic sweep would find the opened slot too, but not within the test's 5 s:
            # only the webhook's wake-up can.
            "AUTOBOOK_WAITING_REPOLL_SECONDS": "600",
        },
    )


@pytest.fixture(scope="module")
def intake(stack: ProxiedStack) -> Intake:
    return start_intake(stack)


@pytest.fixture(scope="module")
def source(intake: Intake) -> tuple[str, str]:
    return add_callback_source(intake.stack)


def _request(request_id: str, callback_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "event_type": {"slug": "intro"},
        "invitee": {
            "name": "Ada Lovelace",
            "email": f"{request_id}@example.com",
            "timezone": "America/New_York",
        },
        "tracking": {"salesforce_uuid": "00Q5e00000AbCdE"},
        "callback_url": callback_url,
        **extra,
    }


def _deliver(
    intake: Intake, envelope: dict[str, Any], *, key: str = SIGNING_KEY, age: int = 0
) -> httpx.Response:
    body = json.dumps(envelope).encode()
    header = sign(key, body, int(time.time()) - age)
    return httpx.post(
        f"{intake.url}/v1/calendly/webhook",
        content=body,
        headers={"Content-Type": "application/json", "Calendly-Webhook-Signature": header},
        timeout=30,
    )


def _canceled(row: Any, *, rescheduled: bool = False, new_invitee: str | None = None) -> Any:
    return {
        "event": "invitee.canceled",
        "created_at": datetime.now(UTC).isoformat(),
        "created_by": "https://api.calendly.com/users/U1",
        "payload": {
            "uri": row.invitee_uri,
            "status": "canceled",
            "rescheduled": rescheduled,
            "new_invitee": new_invitee,
            "cancellation": {
                "canceled_by": "Ada Lovelace",
                "reason": "a conflict came up",
                "canceler_type": "invitee",
            },
            "scheduled_event": {
                "uri": row.event_uri,
                "start_time": row.start_time.isoformat(),
                "end_time": row.end_time.isoformat() if row.end_time else None,
                "event_type": row.event_type_uri,
            },
        },
    }


def _cancel_in_sandbox(stack: ProxiedStack, event_uri: str) -> None:
    uuid = event_uri.rstrip("/").rsplit("/", 1)[-1]
    response = httpx.post(
        f"{stack.sandbox_url}/scheduled_events/{uuid}/cancellation",
        json={"reason": "a conflict came up"},
        headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text


def _events(made: Receiver, path: str, secret: str) -> list[dict[str, Any]]:
    return [Webhook(secret).verify(r.body, r.headers) for r in made.at(path)]


def test_bad_or_stale_signatures_are_refused(intake: Intake) -> None:
    envelope = {"event": "invitee.canceled", "created_at": "x", "payload": {"uri": "u"}}
    assert _deliver(intake, envelope, key="not-the-key").status_code == 401
    assert _deliver(intake, envelope, age=181).status_code == 401
    unsigned = httpx.post(f"{intake.url}/v1/calendly/webhook", json=envelope, timeout=30)
    assert unsigned.status_code == 401
    assert SIGNING_KEY not in unsigned.text
    ok = _deliver(intake, envelope)
    assert ok.status_code == 200
    assert ok.json()["outcome"] == "not ours"


def test_a_cancellation_at_calendly_cancels_the_request_and_calls_back_once(
    stack: ProxiedStack,
    intake: Intake,
    source: tuple[str, str],
    receiver: tuple[Receiver, str],
) -> None:
    key, secret = source
    made, url = receiver
    assert intake.post(_request("wh-cancel", f"{url}/cancel"), key=key).status_code == 202
    (row,) = stack.wait_terminal(["wh-cancel"], timeout=60)
    assert str(row.status) == "booked"
    _cancel_in_sandbox(stack, row.event_uri)
    envelope = _canceled(row)
    for _ in range(2):  # Calendly retries: the repeat changes nothing
        assert _deliver(intake, envelope).status_code == 200
    after = stack.row("wh-cancel")
    assert str(after.status) == "canceled"
    assert "Ada Lovelace" in (after.reason or "")
    assert "a conflict came up" in (after.reason or "")
    seen = wait_for(
        lambda: [e for e in _events(made, "/cancel", secret) if e["type"] == "booking.canceled"],
        30,
        "booking.canceled",
        every=0.05,
    )
    time.sleep(1.0)
    types = [e["type"] for e in _events(made, "/cancel", secret)]
    assert types.count("booking.canceled") == 1
    assert seen[0]["data"]["canceled_by"] == "Ada Lovelace"
    assert seen[0]["data"]["status"] == "canceled"


def test_a_reschedule_is_followed_to_its_new_time(
    stack: ProxiedStack,
    intake: Intake,
    source: tuple[str, str],
    receiver: tuple[Receiver, str],
) -> None:
    key, secret = source
    made, url = receiver
    assert intake.post(_request("wh-move", f"{url}/move"), key=key).status_code == 202
    (row,) = stack.wait_terminal(["wh-move"], timeout=60)
    new_start = row.start_time + timedelta(days=1)
    new_invitee = "https://api.calendly.com/scheduled_events/E-NEW/invitees/I-NEW"
    assert (
        _deliver(intake, _canceled(row, rescheduled=True, new_invitee=new_invitee)).json()[
            "outcome"
        ]
        == "reschedule noted"
    )
    assert str(stack.row("wh-move").status) == "booked"
    created = {
        "event": "invitee.created",
        "created_at": datetime.now(UTC).isoformat(),
        "payload": {
            "uri": new_invitee,
            "status": "active",
            "old_invitee": row.invitee_uri,
            "cancel_url": "https://calendly.com/cancellations/I-NEW",
            "reschedule_url": "https://calendly.com/reschedulings/I-NEW",
            "scheduled_event": {
                "uri": "https://api.calendly.com/scheduled_events/E-NEW",
                "start_time": new_start.isoformat(),
                "end_time": (new_start + timedelta(minutes=15)).isoformat(),
            },
        },
    }
    assert _deliver(intake, created).json()["outcome"] == "rescheduled"
    moved = stack.row("wh-move")
    assert str(moved.status) == "booked"
    assert moved.start_time == new_start
    assert moved.invitee_uri == new_invitee
    assert moved.cancel_url == "https://calendly.com/cancellations/I-NEW"
    (event,) = wait_for(
        lambda: [e for e in _events(made, "/move", secret) if e["type"] == "booking.rescheduled"],
        30,
        "booking.rescheduled",
        every=0.05,
    )
    assert event["data"]["start_time"] == new_start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert event["data"]["previous"]["invitee_uri"] == row.invitee_uri


def _weekday_ahead(days: int) -> date:
    day = datetime.now(NEW_YORK).date() + timedelta(days=days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def test_a_waiting_request_gets_the_slot_a_cancellation_opened_within_5_seconds(
    stack: ProxiedStack, intake: Intake, source: tuple[str, str], receiver: tuple[Receiver, str]
) -> None:
    key, _ = source
    _, url = receiver
    day = _weekday_ahead(5).isoformat()
    # One 15-minute slot only: 10:00 New York on that day.
    window = {"earliest": day, "latest": day, "hours": ["10:00-10:15"]}
    until = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    first = _request("wl-first", f"{url}/wl", window=window)
    assert intake.post(first, key=key).status_code == 202
    (holder,) = stack.wait_terminal(["wl-first"], timeout=60)
    assert str(holder.status) == "booked"
    waiting = _request("wl-waiting", f"{url}/wl", window=window, keep_trying_until=until)
    assert intake.post(waiting, key=key).status_code == 202
    wait_for(
        lambda: str(stack.row("wl-waiting").status) == "waiting",
        60,
        "wl-waiting waiting",
        every=0.05,
    )
    _cancel_in_sandbox(stack, holder.event_uri)
    sent = time.monotonic()
    assert _deliver(intake, _canceled(holder)).json()["outcome"] == "canceled"
    booked = wait_for(
        lambda: str(stack.row("wl-waiting").status) == "booked", 5, "wl-waiting booked", every=0.05
    )
    assert booked
    assert time.monotonic() - sent < 5
    assert stack.row("wl-waiting").start_time == holder.start_time


def _webhook_counts(intake: Intake) -> dict[str, float]:
    text = httpx.get(f"{intake.url}/metrics/", timeout=10).text
    counts = {"accepted": 0.0, "refused": 0.0, "duplicate": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "autobook_calendly_webhooks_total":
                counts[sample.labels["outcome"]] += sample.value
    return counts


def test_deliveries_are_counted_accepted_refused_and_duplicate(intake: Intake) -> None:
    before = _webhook_counts(intake)
    envelope = {
        "event": "invitee.canceled",
        "created_at": datetime.now(UTC).isoformat(),  # a delivery of its own
        "payload": {"uri": "https://api.calendly.com/scheduled_events/e/invitees/not-ours"},
    }
    assert _deliver(intake, envelope, key="not-the-key").status_code == 401
    assert _deliver(intake, envelope).status_code == 200
    assert _deliver(intake, envelope).json()["outcome"] == "repeat"
    after = _webhook_counts(intake)
    assert {k: after[k] - before[k] for k in after} == {
        "accepted": 1.0,
        "refused": 1.0,
        "duplicate": 1.0,
    }
