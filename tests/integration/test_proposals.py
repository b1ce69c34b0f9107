"""Proposals, then booking the chosen time, over real HTTP against the sandbox (issue 14).

One stack for the module: the sandbox, a worker and `autobook serve`, on embedded defaults.
Each test proposes times of Taylor's "30 Minute Demo" in a week of its own, so that the tests
do not take each other's slots, and checks the answer against the request's constraints, the
booking against the sandbox's ledger, and the Calendly calls against the sandbox's stats.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import update

from autobook.demo_requests import next_offset_change
from autobook.models import ProposalRow
from tests.conftest import ProxiedStack, StartStack
from tests.support.intake import Intake, start_intake

pytestmark = pytest.mark.slow

NEW_YORK = ZoneInfo("America/New_York")
JERUSALEM = ZoneInfo("Asia/Jerusalem")
NOW = datetime.now(UTC)
# Israel changes its offset on a Friday: a weekday, so one polling cell (Monday to Monday UTC)
# holds working days on both sides of the change.
DST_DAY = next_offset_change(JERUSALEM, NOW + timedelta(days=5))
LABEL = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} [A-Z][a-z]{2}, \d{1,2}:\d{2} (am|pm) \S+$"
)
AVAILABILITY = "/event_type_available_times"
STEAL_FAULTS = {"seed": 3, "endpoints": {"POST /invitees": {"steal_slot": 1.0}}}


def _monday(weeks_ahead: int) -> date:
    today = NOW.astimezone(NEW_YORK).date()
    return today - timedelta(days=today.weekday()) + timedelta(weeks=weeks_ahead)


def _week(weeks_ahead: int, **window: Any) -> dict[str, Any]:
    monday = _monday(weeks_ahead)
    return {
        "earliest": monday.isoformat(),
        "latest": (monday + timedelta(days=4)).isoformat(),
        "timezone": "America/New_York",
        **window,
    }


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> ProxiedStack:
    return start_stack("embedded")


@pytest.fixture(scope="module")
def intake(stack: ProxiedStack) -> Intake:
    return start_intake(stack)


@pytest.fixture(scope="module")
def key(intake: Intake) -> str:
    return intake.add_source("assistant")


def _propose(intake: Intake, key: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{intake.url}/v1/proposals",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def _proposal(intake: Intake, key: str, window: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = {"event_type": {"slug": "demo"}, "timezone": "America/New_York", "window": window}
    response = _propose(intake, key, {**body, **extra})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["slots"], answer
    return answer


def _book(intake: Intake, key: str, body: dict[str, Any], wait: float = 30) -> httpx.Response:
    return httpx.post(
        f"{intake.url}/v1/bookings?wait={wait}",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )


def _choice(request_id: str, proposal: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "proposal_id": proposal["proposal_id"],
        "invitee": {
            "name": "Ada Lovelace",
            "email": f"{request_id}@example.com",
            "timezone": "America/New_York",
        },
        **extra,
    }


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _active_at(stack: ProxiedStack, email: str) -> list[datetime]:
    return [
        _instant(entry["start_time"])
        for entry in stack.admin.ledger()
        if entry["email"] == email and entry["status"] == "active"
    ]


def test_proposals_honour_every_constraint_across_a_dst_change(intake: Intake, key: str) -> None:
    assert DST_DAY.weekday() < 5, DST_DAY  # the premise of this test: see DST_DAY
    window = {
        "earliest": (DST_DAY - timedelta(days=2)).isoformat(),
        "latest": DST_DAY.isoformat(),
        "timezone": "Asia/Jerusalem",
        "hours": ["17:00-20:00"],
        "min_notice_minutes": 60,
    }
    answer = _proposal(intake, key, window, timezone="Asia/Jerusalem", count=10)
    assert answer["proposal_id"].startswith("prop_")
    assert _instant(answer["expires_at"]) > NOW
    slots = answer["slots"]
    assert [slot["choice"] for slot in slots] == list(range(1, len(slots) + 1))
    offsets = set()
    for slot in slots:
        assert slot["start_time"].endswith("Z")
        start = _instant(slot["start_time"]).astimezone(JERUSALEM)
        assert datetime.fromisoformat(slot["start_time_local"]) == start
        assert LABEL.match(slot["label"]), slot["label"]
        assert DST_DAY - timedelta(days=2) <= start.date() <= DST_DAY
        assert clock(17, 0) <= start.time()
        assert (start + timedelta(minutes=30)).time() <= clock(20, 0)
        offsets.add(start.utcoffset())
        assert slot["label"].endswith(start.strftime("%Z"))
    # Both sides of the change: the same wall-clock hours are honoured in both offsets.
    assert len(offsets) == 2, slots


def test_proposals_are_spread_over_days_and_times_of_day_with_one_availability_call(
    intake: Intake, key: str, stack: ProxiedStack
) -> None:
    before = stack.admin.count("GET", AVAILABILITY)
    answer = _proposal(intake, key, _week(2), count=3)
    assert stack.admin.count("GET", AVAILABILITY) - before <= 1
    starts = [_instant(slot["start_time"]).astimezone(NEW_YORK) for slot in answer["slots"]]
    assert len(starts) == 3
    assert starts == sorted(starts)
    assert len({start.date() for start in starts}) == 3  # distinct days
    parts = [start.hour < 12 for start in starts]
    assert any(parts)
    assert not all(parts)  # mornings and afternoons mixed
    # A second proposal for the same week is served from the shared snapshot: no call.
    again = stack.admin.count("GET", AVAILABILITY)
    _proposal(intake, key, _week(2), count=3)
    assert stack.admin.count("GET", AVAILABILITY) == again


def test_a_bad_proposal_request_names_each_field(intake: Intake, key: str) -> None:
    response = _propose(intake, key, {"event_type": {"slug": "demo"}, "count": 11})
    assert response.status_code == 422
    fields = {problem["field"] for problem in response.json()["problems"]}
    assert fields == {"timezone", "count"}
    assert _propose(intake, "wrong-key", {"event_type": {"slug": "demo"}}).status_code == 401


def test_the_chosen_slot_is_booked_exactly_and_wait_returns_the_outcome(
    intake: Intake, key: str, stack: ProxiedStack
) -> None:
    proposal = _proposal(intake, key, _week(3, hours=["10:00-16:00"]))
    chosen = proposal["slots"][1]
    polls = stack.admin.count("GET", AVAILABILITY)
    response = _book(intake, key, _choice("chosen-2", proposal, choice=2))
    assert response.status_code == 200, response.text
    booked = response.json()
    assert booked["status"] == "booked", booked
    assert booked["start_time"] == chosen["start_time"]
    assert booked["cancel_url"]
    assert booked["reschedule_url"]
    assert _active_at(stack, "chosen-2@example.com") == [_instant(chosen["start_time"])]
    assert stack.admin.count("GET", AVAILABILITY) == polls  # no search: the slot was known
    # The same body again is the same booking; a time the proposal did not offer is refused.
    assert _book(intake, key, _choice("chosen-2", proposal, choice=2)).status_code == 200
    other = _choice("not-offered", proposal, start_time="2031-01-01T10:00:00Z")
    refused = _book(intake, key, other, wait=0)
    assert refused.status_code == 422
    assert refused.json()["problems"][0]["field"] == "start_time"
    assert len(_active_at(stack, "chosen-2@example.com")) == 1


def test_a_slot_taken_after_the_proposal_ends_no_slot_with_alternatives(
    intake: Intake, key: str, stack: ProxiedStack
) -> None:
    proposal = _proposal(intake, key, _week(4, hours=["09:00-17:00"]))
    chosen = proposal["slots"][0]
    stack.admin.set_faults(STEAL_FAULTS)  # someone else takes it just before our POST
    try:
        response = _book(intake, key, _choice("taken-propose", proposal, choice=1))
    finally:
        stack.admin.set_faults({})
    assert response.status_code == 200, response.text
    ended = response.json()
    assert ended["status"] == "no_slot"
    assert chosen["start_time"] in ended["reason"]
    assert "taken" in ended["reason"]
    alternatives = ended["alternatives"]
    assert alternatives["proposal_id"] != proposal["proposal_id"]
    offered = [slot["start_time"] for slot in alternatives["slots"]]
    assert offered
    assert chosen["start_time"] not in offered
    assert _active_at(stack, "taken-propose@example.com") == []
    # The alternatives are a proposal like any other: choosing one books it.
    again = _book(intake, key, _choice("taken-alternative", alternatives, choice=1))
    assert again.json()["status"] == "booked", again.text
    assert again.json()["start_time"] == offered[0]


def test_a_slot_taken_after_the_proposal_books_the_nearest_with_if_taken_nearest(
    intake: Intake, key: str, stack: ProxiedStack
) -> None:
    proposal = _proposal(intake, key, _week(5, hours=["13:00-17:00"]))
    chosen = _instant(proposal["slots"][0]["start_time"])
    first = _book(intake, key, _choice("nearest-first", proposal, choice=1))
    assert first.json()["status"] == "booked", first.text
    second = _book(intake, key, _choice("nearest-second", proposal, choice=1, if_taken="nearest"))
    booked = second.json()
    assert booked["status"] == "booked", second.text
    start = _instant(booked["start_time"])
    assert start != chosen
    assert abs(start - chosen) <= timedelta(minutes=60)
    local = start.astimezone(NEW_YORK)
    assert clock(13, 0) <= local.time()
    assert (local + timedelta(minutes=30)).time() <= clock(17, 0)
    # `fail` ends no_slot, with the reason, and no alternatives.
    third = _book(intake, key, _choice("nearest-fail", proposal, choice=1, if_taken="fail"))
    assert third.json()["status"] == "no_slot", third.text
    assert "alternatives" not in third.json()


def test_an_expired_proposal_is_refused(intake: Intake, key: str, stack: ProxiedStack) -> None:
    proposal = _proposal(intake, key, _week(6))
    with stack.sessions.begin() as session:
        session.execute(
            update(ProposalRow)
            .where(ProposalRow.proposal_id == proposal["proposal_id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    response = _book(intake, key, _choice("expired", proposal, choice=1), wait=0)
    assert response.status_code == 422, response.text
    (problem,) = response.json()["problems"]
    assert problem["field"] == "proposal_id"
    assert "expired" in problem["problem"]
    time.sleep(0.5)
    assert _active_at(stack, "expired@example.com") == []


def test_the_same_booking_sent_again_after_the_proposal_expired_is_answered_with_its_record(
    intake: Intake, key: str, stack: ProxiedStack
) -> None:
    proposal = _proposal(intake, key, _week(7, hours=["09:00-12:00"]))
    body = _choice("retry-after-expiry", proposal, choice=1)
    booked = _book(intake, key, body)
    assert booked.json()["status"] == "booked", booked.text
    with stack.sessions.begin() as session:
        session.execute(
            update(ProposalRow)
            .where(ProposalRow.proposal_id == proposal["proposal_id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    again = _book(intake, key, body, wait=0)
    assert again.status_code == 200, again.text
    assert again.json()["request_id"] == "retry-after-expiry"
    assert again.json()["status"] == "booked"
    assert again.json()["event_uri"] == booked.json()["event_uri"]
    # Another body under the same id is still a conflict, and a new id is still refused.
    changed = _book(intake, key, {**body, "choice": 2}, wait=0)
    assert changed.status_code == 409, changed.text
    late = _book(intake, key, _choice("late-choice", proposal, choice=2), wait=0)
    assert late.status_code == 422, late.text
    assert len(_active_at(stack, "retry-after-expiry@example.com")) == 1
