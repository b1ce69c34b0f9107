"""Outcome callbacks over real HTTP (issue 11): `autobook serve`, a worker, the sandbox, and a
real local receiver. Checked: the callback is signed (verified with the `standardwebhooks`
package) and carries the links, `tracking.salesforce_uuid` and the guests; a receiver failing 3
times gets it on the 4th attempt under one `webhook-id`, every attempt recorded; a hanging
receiver delays no booking; a worker killed with `kill -9` in the middle of a delivery leaves it
to the next worker, which delivers it under the same `webhook-id`; `callbacks list`/`retry`.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from autobook import store
from autobook.models import CallbackState
from tests.conftest import ProxiedStack, StartStack
from tests.support.intake import Intake, add_callback_source, start_intake
from tests.support.receiver import HANG_SECONDS, Receiver
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> ProxiedStack:
    return start_stack(
        "embedded",
        extra_env={
            "AUTOBOOK_CALLBACK_ALLOW_PRIVATE": "true",
            "AUTOBOOK_CALLBACK_RETRY_BASE_SECONDS": "0.3",
            "AUTOBOOK_CALLBACK_TIMEOUT_SECONDS": "3",
        },
    )


@pytest.fixture(scope="module")
def intake(stack: ProxiedStack) -> Intake:
    return start_intake(stack)


@pytest.fixture(scope="module")
def source(intake: Intake) -> tuple[str, str]:
    """(API key, callback secret) of a source."""
    return add_callback_source(intake.stack)


def _request(request_id: str, callback_url: str) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "event_type": {"slug": "intro"},
        "invitee": {
            "name": "Ada Lovelace",
            "email": f"{request_id}@example.com",
            "timezone": "America/Chicago",
        },
        "event_guests": ["cc@example.com"],
        "tracking": {"utm_source": "salesforce", "salesforce_uuid": "00Q5e00000AbCdE"},
        "callback_url": callback_url,
    }


def test_a_booking_callback_arrives_signed_with_links_tracking_and_guests(
    intake: Intake, source: tuple[str, str], receiver: tuple[Receiver, str]
) -> None:
    key, callback_secret = source
    made, url = receiver
    assert intake.post(_request("cb-ok", f"{url}/ok"), key=key).status_code == 202
    (got,) = wait_for(lambda: made.at("/ok"), 60, "the callback")
    # Any Standard Webhooks library verifies it; it raises on a bad signature.
    event = Webhook(callback_secret).verify(got.body, got.headers)
    assert got.headers["webhook-id"].startswith("msg_")
    assert event["type"] == "booking.booked"
    data = event["data"]
    assert data["request_id"] == "cb-ok"
    assert data["status"] == "booked"
    assert data["cancel_url"]
    assert data["reschedule_url"]
    assert data["event_uri"]
    assert data["invitee_uri"]
    assert data["start_time"].endswith("Z")
    assert "America/Chicago" in data["start_time_local"]
    assert data["tracking"]["salesforce_uuid"] == "00Q5e00000AbCdE"
    assert data["event_guests"] == ["cc@example.com"]
    with pytest.raises(Exception):  # noqa: B017, PT011 - the library raises its own error
        Webhook("whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=").verify(
            got.body, got.headers
        )


def test_a_receiver_failing_three_times_gets_it_on_the_fourth_attempt(
    intake: Intake, stack: ProxiedStack, source: tuple[str, str], receiver: tuple[Receiver, str]
) -> None:
    key, _ = source
    made, url = receiver
    assert intake.post(_request("cb-flaky", f"{url}/flaky"), key=key).status_code == 202

    def delivered() -> Any:
        with stack.sessions() as session:
            rows = [row for row, rid in store.outbox.list_callbacks(session) if rid == "cb-flaky"]
            if rows and rows[0].state is CallbackState.DELIVERED:
                return rows[0], store.outbox.attempts_of(session, rows[0].id)
        return None

    row, attempts = wait_for(delivered, 60, "delivery after three failures")
    assert [a.status_code for a in attempts] == [500, 500, 500, 204]
    assert all(a.latency_ms >= 0 for a in attempts)
    assert row.attempts == 4
    posts = made.at("/flaky")
    assert len(posts) == 4
    assert {p.headers["webhook-id"] for p in posts} == {row.webhook_id}


def test_a_hanging_receiver_delays_no_booking(
    intake: Intake, stack: ProxiedStack, source: tuple[str, str], receiver: tuple[Receiver, str]
) -> None:
    key, _ = source
    made, url = receiver
    assert intake.post(_request("cb-hang", f"{url}/hang"), key=key).status_code == 202
    wait_for(lambda: made.at("/hang"), 60, "the hanging callback's first POST")
    started = time.monotonic()
    ids = [f"cb-after-hang-{n}" for n in range(3)]
    for request_id in ids:
        assert intake.post(_request(request_id, f"{url}/ok"), key=key).status_code == 202
    rows = stack.wait_terminal(ids, timeout=HANG_SECONDS / 2)
    assert {str(r.status) for r in rows} == {"booked"}
    assert time.monotonic() - started < HANG_SECONDS / 2
    assert str(stack.row("cb-hang").status) == "booked"


def test_hanging_receivers_leave_a_single_slot_worker_booking_at_normal_speed(
    start_stack: StartStack, receiver: tuple[Receiver, str]
) -> None:
    """One worker, one booking slot, callback timeout 25 s. Were the deliveries in the booking
    pool, each hanging one would hold the only slot for 25 s; on their own queue, bookings
    behind six hanging callbacks complete as fast as bookings with none."""
    made, url = receiver
    single = start_stack(
        "embedded",
        workers=1,
        concurrency=1,
        extra_env={
            "AUTOBOOK_CALLBACK_ALLOW_PRIVATE": "true",
            "AUTOBOOK_CALLBACK_TIMEOUT_SECONDS": "25",
        },
    )
    intake = start_intake(single)
    key, _ = add_callback_source(single)

    def book(prefix: str, path: str, count: int) -> float:
        started = time.monotonic()
        ids = [f"{prefix}-{n}" for n in range(count)]
        for request_id in ids:
            assert intake.post(_request(request_id, f"{url}{path}"), key=key).status_code == 202
        rows = single.wait_terminal(ids, timeout=HANG_SECONDS)
        assert {str(r.status) for r in rows} == {"booked"}
        return time.monotonic() - started

    baseline = book("cb-single-ok", "/ok", 3)
    hanging_before = len(made.at("/hang"))
    with_hangs = book("cb-single-hang", "/hang", 6)
    wait_for(lambda: len(made.at("/hang")) > hanging_before, 20, "a hanging callback's POST")
    after = book("cb-single-after", "/ok", 3)
    # Normal speed: no 25 s wait behind a hanging delivery (generous for a shared machine).
    assert with_hangs < max(4 * baseline, 10.0), (baseline, with_hangs)
    assert after < max(3 * baseline, 8.0), (baseline, after)


def test_callbacks_list_and_retry_on_the_command_line(
    stack: ProxiedStack, intake: Intake, source: tuple[str, str], receiver: tuple[Receiver, str]
) -> None:
    key, _ = source
    _, url = receiver
    assert intake.post(_request("cb-cli", f"{url}/ok"), key=key).status_code == 202
    stack.wait_terminal(["cb-cli"], timeout=60)

    def listed() -> Any:
        result = stack.cli("callbacks", "list", "--json")
        assert result.returncode == 0, result.stderr
        shown = [c for c in json.loads(result.stdout) if c["request_id"] == "cb-cli"]
        return shown if shown and shown[0]["state"] == "delivered" else None

    (item,) = wait_for(listed, 30, "cb-cli delivered in `callbacks list`")
    assert item["event"] == "booking.booked"
    assert item["host"] == "127.0.0.1"
    failed = stack.cli("callbacks", "list", "--failed", "--json")
    assert all(c["state"] == "failed" for c in json.loads(failed.stdout))
    refused = stack.cli("callbacks", "retry", str(item["id"]))
    assert refused.returncode == 1
    assert "not failed" in refused.stderr
    assert stack.cli("callbacks", "retry").returncode == 2


def test_a_worker_killed_mid_delivery_leaves_the_callback_to_the_next_one(
    start_stack: StartStack, receiver: tuple[Receiver, str]
) -> None:
    made, url = receiver
    # A stack of its own: its only worker is killed. Callback timeout 4 s: the kill lands
    # while the first POST is in flight; the claim's lease (13 s) then lets the next worker in.
    killed = start_stack(
        "embedded",
        workers=0,
        extra_env={
            "AUTOBOOK_CALLBACK_ALLOW_PRIVATE": "true",
            "AUTOBOOK_CALLBACK_RETRY_BASE_SECONDS": "0.3",
            "AUTOBOOK_CALLBACK_TIMEOUT_SECONDS": "4",
        },
    )
    first = killed.local.start_worker(name="doomed")
    intake = start_intake(killed)
    key, secret = add_callback_source(killed)
    assert intake.post(_request("cb-killed", f"{url}/hang-once"), key=key).status_code == 202
    wait_for(lambda: made.at("/hang-once"), 60, "the first POST of the callback")
    killed.local.stop(first, kill=True)  # SIGKILL to the whole worker, mid-POST
    killed.local.start_worker(name="next")

    def delivered() -> Any:
        with killed.sessions() as session:
            rows = [r for r, rid in store.outbox.list_callbacks(session) if rid == "cb-killed"]
        return rows if rows and rows[0].state is CallbackState.DELIVERED else None

    (row,) = wait_for(delivered, 60, "the callback delivered by the next worker")
    posts = made.at("/hang-once")
    assert len(posts) >= 2
    # One event, one id: the receiver deduplicates on it.
    assert {p.headers["webhook-id"] for p in posts} == {row.webhook_id}
    assert {p.body for p in posts} == {posts[0].body}
    Webhook(secret).verify(posts[-1].body, posts[-1].headers)
    assert str(killed.row("cb-killed").status) == "booked"
