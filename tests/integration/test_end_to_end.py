"""End to end: real Celery workers as subprocesses, the sandbox over HTTP, on both backends.

`embedded` is SQLite and Celery's filesystem broker (the defaults); `redis_pg` is PostgreSQL and
Redis, as in production and on CI. Each backend gets one stack per module, with two worker
processes, and both tests run on each.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import ProxiedStack, StartStack
from tests.support.contract import STATUS_JSON_KEYS
from tests.support.sandbox import TRACKING_KEYS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["embedded", "redis_pg"])
def stack(request: pytest.FixtureRequest, start_stack: StartStack) -> ProxiedStack:
    return start_stack(request.param, workers=2)


def test_requests_are_booked_once_each_and_match_the_ledger(stack: ProxiedStack) -> None:
    requests = [
        {
            "request_id": f"e2e-{index}",
            "event_type": {"slug": "demo"},
            "invitee": {
                "name": f"Person {index}",
                "email": f"person{index}@example.com",
                "timezone": "America/New_York",
            },
        }
        for index in range(6)
    ]
    results = stack.submit(requests)
    assert [r.status for r in results] == ["received"] * 6
    rows = stack.wait_terminal([r["request_id"] for r in requests], timeout=60)
    assert {str(row.status) for row in rows} == {"booked"}
    ledger = [b for b in stack.admin.ledger() if b["email"].startswith("person")]
    by_email = {b["email"]: b for b in ledger}
    assert len(ledger) == 6 == len(by_email)
    for row in rows:
        booking = by_email[row.payload["invitee"]["email"]]
        assert booking["status"] == "active"
        assert booking["uri"] == row.invitee_uri
        assert booking["event"] == row.event_uri
        assert row.start_time is not None
        assert booking["start_time"].startswith(row.start_time.strftime("%Y-%m-%dT%H:%M:%S"))


def test_every_kind_of_outcome_is_recorded_and_status_reports_it(stack: ProxiedStack) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    start_after = now + timedelta(seconds=3)

    def request(request_id: str, slug: str, **extra: object) -> dict[str, object]:
        invitee = {"name": request_id, "email": f"{request_id}@example.com", "timezone": "UTC"}
        return {"request_id": request_id, "event_type": {"slug": slug}, "invitee": invitee, **extra}

    crm = request(
        "mix-crm",
        "demo",
        event_guests=["mix-guest@example.com"],
        tracking={"utm_source": "salesforce", "salesforce_uuid": "00Q5e00000MiXeD"},
        questions_and_answers=[{"question": "Company", "answer": "Acme", "position": 0}],
    )
    submitted = stack.submit(
        [
            crm,
            request("mix-follow-up", "intro", start_after=start_after.isoformat()),
            request("mix-rejected", "phone-call"),  # every location needs input: none given
            request("mix-no-slot", "demo", window={"days": ["sat", "sun"]}),
            request("mix-invalid", "demo", prefer="soonest"),
        ]
    )
    assert [r.status for r in submitted] == ["received"] * 4 + ["invalid"]
    stack.send_raw(request("mix-raw", "onsite-visit"))  # a whole request, straight on the queue
    expected = {
        "mix-crm": "booked",
        "mix-follow-up": "booked",
        "mix-rejected": "rejected",
        "mix-no-slot": "no_slot",
        "mix-invalid": "invalid",
        "mix-raw": "booked",
    }
    rows = {row.request_id: row for row in stack.wait_terminal(expected, timeout=60)}
    assert {rid: str(row.status) for rid, row in rows.items()} == expected, {
        rid: row.reason for rid, row in rows.items()
    }

    ledger = {b["email"]: b for b in stack.admin.ledger() if b["email"].startswith("mix-")}
    assert set(ledger) == {f"{rid}@example.com" for rid, s in expected.items() if s == "booked"}
    booking = ledger["mix-crm@example.com"]
    assert booking["event_guests"] == ["mix-guest@example.com"]
    assert set(booking["tracking"]) == set(TRACKING_KEYS)
    assert booking["tracking"]["salesforce_uuid"] == "00Q5e00000MiXeD"
    assert booking["questions_and_answers"][0]["question"] == "Company"
    follow_up = ledger["mix-follow-up@example.com"]
    created = datetime.fromisoformat(follow_up["created_at"].replace("Z", "+00:00"))
    assert created >= start_after
    assert "prefer" in (rows["mix-invalid"].reason or "")
    assert "location" in (rows["mix-rejected"].reason or "")

    shown = stack.cli("status", "--json")
    assert shown.returncode == 0, shown.stderr
    items = {item["request_id"]: item for item in json.loads(shown.stdout)}
    for request_id, status in expected.items():
        item = items[request_id]
        assert item.keys() >= STATUS_JSON_KEYS
        assert item["status"] == status
        if status == "booked":
            assert item["start_time"].endswith("Z")
            assert item["cancel_url"] == rows[request_id].cancel_url
            assert item["reschedule_url"] == rows[request_id].reschedule_url
        else:
            assert item["reason"]
            assert item["start_time"] is None
    logs = stack.worker_logs()
    for email in ("mix-crm@example.com", "mix-guest@example.com", "mix-raw@example.com"):
        assert email not in logs
