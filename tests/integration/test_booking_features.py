"""Every booking feature, end to end: a real worker, the sandbox over HTTP, outcomes in the ledger.

One stack serves the module. Its sandbox runs the default seed plus one more "30 Minute Demo"
(slug `demo-uk`, hosted by Oliver), so that a selector by name alone is ambiguous. All requests
but one are submitted together, up front, and each test checks its own outcome against the
sandbox's ledger (what was booked) or the recording proxy (what was sent). Dates are computed
from today: each request that books one of Taylor's types gets a weekday of its own, so they do
not take each other's slots. The `already_filled` test runs last, alone, with the sandbox's
`steal_slot` fault switched on for its first POST only.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

import autobook.sandbox
from autobook import store
from autobook.demo_requests import next_offset_change
from autobook.models import BookingRequestRow
from tests.conftest import ProxiedStack, StartStack
from tests.support.sandbox import calendly_client

pytestmark = pytest.mark.slow

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
KOLKATA = ZoneInfo("Asia/Kolkata")
LOADED_AT = datetime.now(UTC)
STEAL_FAULTS = {"seed": 1, "endpoints": {"POST /invitees": {"steal_slot": 1.0, "latency_ms": 300}}}


def _weekdays(first: date, count: int) -> list[date]:
    days: list[date] = []
    day = first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


# Weekdays from three days ahead: far enough for every type's minimum notice.
DAYS = _weekdays(LOADED_AT.astimezone(NEW_YORK).date() + timedelta(days=3), 12)
# The next America/New_York offset change at least five days ahead, and a window around it.
DST_DAY = next_offset_change(NEW_YORK, LOADED_AT + timedelta(days=5))
# Set at submission (see `outcomes`), whole seconds: the wire format has no fraction.
FOLLOW_UP_DELAY = timedelta(seconds=5)
# Long enough that the request's first search comes before it on a loaded 2-core machine (at
# 7 s a busy run searched it first after the deadline: no_slot without waiting).
KEEP_TRYING_DELAY = timedelta(seconds=12)


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _request(
    request_id: str, event_type: object, timezone: str = "UTC", **extra: Any
) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "event_type": event_type,
        "invitee": {"name": request_id, "email": f"{request_id}@example.com", "timezone": timezone},
        **extra,
    }


def _on(day: date, hours: str, timezone: str = "America/New_York") -> dict[str, Any]:
    return {
        "earliest": day.isoformat(),
        "latest": day.isoformat(),
        "timezone": timezone,
        "hours": [hours],
    }


REQUESTS: list[dict[str, Any]] = [
    # selectors
    _request(
        "sel-name-owner",
        {"name": "30 minute demo", "owner": "TAYLOR@acme.com"},
        window=_on(DAYS[0], "09:00-12:00"),
    ),
    _request("sel-slug", {"slug": "demo-uk"}, window=_on(DAYS[0], "09:00-12:00", "Europe/London")),
    _request("sel-name-ambiguous", {"name": "30 Minute Demo"}),
    _request("sel-unknown", {"slug": "no-such-type"}),
    _request("sel-inactive", {"slug": "legacy-discovery"}),
    _request("sel-owner-mismatch", {"slug": "phone-call", "owner": "taylor@acme.com"}),
    # window constraints and preference
    _request(
        "win-days-hours",
        {"slug": "consultation"},
        "Asia/Kolkata",
        window={"timezone": "Asia/Kolkata", "days": ["tue", "thu"], "hours": ["15:30-17:00"]},
        location={"kind": "ask_invitee", "location": "Café Clock, Marrakesh"},
    ),
    _request(
        "win-min-notice",
        {"slug": "phone-call"},
        "Australia/Sydney",
        window={"min_notice_minutes": 3 * 24 * 60},
        location={"kind": "outbound_call", "location": "+61293744000"},
    ),
    _request(
        "win-one-day-physical",
        {"slug": "onsite-visit"},
        "Europe/London",
        window={
            "earliest": DAYS[5].isoformat(),
            "latest": DAYS[5].isoformat(),
            "timezone": "Europe/London",
        },
    ),
    _request(
        "prefer-latest",
        {"slug": "intro"},
        "America/New_York",
        prefer="latest",
        window={"earliest": DAYS[1].isoformat(), "latest": DAYS[2].isoformat()},
    ),
    # follow-up and waiting
    _request(
        "follow-up",
        {"slug": "partner-call"},
        start_after=None,  # set at submission
        window=_on(DAYS[6], "00:00-24:00"),
    ),
    _request(
        "waiting-then-no-slot",
        {"slug": "demo"},
        "America/New_York",
        window={"days": ["sat", "sun"]},
        keep_trying_until=None,  # set at submission
    ),
    # locations
    _request(
        "loc-round-robin",
        {"slug": "sales-round-robin"},
        window=_on(DAYS[8], "00:00-24:00"),
        location={"kind": "zoom_conference"},
    ),
    _request(
        "loc-first-without-input", {"slug": "flexible-meeting"}, window=_on(DAYS[7], "00:00-24:00")
    ),
    _request(
        "loc-flexible-custom",
        {"slug": "flexible-meeting"},
        window=_on(DAYS[7], "00:00-24:00"),
        location={"kind": "custom", "location": "The library, 2nd floor"},
    ),
    _request("loc-not-configured", {"slug": "phone-call"}, location={"kind": "zoom_conference"}),
    _request("loc-all-need-input", {"slug": "phone-call"}),
    _request("loc-none-configured", {"slug": "intro"}, location={"kind": "zoom_conference"}),
    # required custom questions
    _request(
        "q-exact-names",
        {"slug": "qualification-call"},
        window=_on(DAYS[9], "00:00-24:00", "Europe/London"),
        questions_and_answers=[
            {"question": "company NAME", "answer": "CLU Labs", "position": 0},
            {"question": "team size", "answer": "11-50", "position": 1},
        ],
    ),
    _request(
        "q-required-missing",
        {"slug": "qualification-call"},
        questions_and_answers=[{"question": "Company Name", "answer": "CLU", "position": 0}],
    ),
    _request(
        "q-unknown",
        {"slug": "qualification-call"},
        questions_and_answers=[
            {"question": "Company Name", "answer": "CLU", "position": 0},
            {"question": "Team size", "answer": "1-10", "position": 1},
            {"question": "Budget", "answer": "big", "position": 2},
        ],
    ),
    # daylight saving time: the same local hour on both sides of the change
    *[
        _request(
            f"dst-{prefer}",
            {"slug": "demo"},
            "Europe/Amsterdam",
            prefer=prefer,
            window={
                "earliest": (DST_DAY - timedelta(days=3)).isoformat(),
                "latest": (DST_DAY + timedelta(days=3)).isoformat(),
                "timezone": "America/New_York",
                "hours": ["09:00-09:30"],
            },
        )
        for prefer in ("earliest", "latest")
    ],
    # a group event type: capacity 5, shared by seven requests
    *[
        _request(f"group-{n}", {"slug": "webinar"}, window=_on(DAYS[3], "10:00-13:00"))
        for n in range(7)
    ],
]


def _extended_seed(folder: Path) -> Path:
    seed = json.loads((Path(autobook.sandbox.__file__).parent / "default_seed.json").read_text())
    seed["event_types"].append(
        {
            "name": "30 Minute Demo",
            "slug": "demo-uk",
            "hosts": ["oliver@acme.com"],
            "duration": 30,
            "locations": [{"kind": "zoom_conference"}],
        }
    )
    path = folder / "seed.json"
    path.write_text(json.dumps(seed))
    return path


@dataclass
class Outcomes:
    stack: ProxiedStack
    rows: dict[str, BookingRequestRow]
    first_seen: dict[str, BookingRequestRow]  # each request right after submission
    submitted_at: datetime
    follow_up_after: datetime
    keep_trying_until: datetime

    def row(self, request_id: str) -> BookingRequestRow:
        return self.rows[request_id]

    def booking(self, request_id: str) -> dict[str, Any]:
        email = f"{request_id}@example.com"
        (entry,) = [b for b in self.stack.admin.ledger() if b["email"] == email]
        return entry

    def booked_start(self, request_id: str) -> datetime:
        row = self.row(request_id)
        assert str(row.status) == "booked", (request_id, row.status, row.reason)
        start = _instant(self.booking(request_id)["start_time"])
        assert row.start_time == start
        return start

    def sent_body(self, request_id: str) -> dict[str, Any]:
        email = f"{request_id}@example.com"
        posts = [e for e in self.stack.posted() if e.body["invitee"]["email"] == email]
        assert posts, f"nothing was sent for {request_id}"
        assert posts[-1].status == 201, posts
        body: dict[str, Any] = posts[-1].body
        return body

    def log_kinds(self, request_id: str) -> list[str]:
        with self.stack.sessions() as session:
            return [e.kind for e in store.logs_for(session, self.row(request_id).id)]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@pytest.fixture(scope="module")
def stack(start_stack: StartStack, tmp_path_factory: pytest.TempPathFactory) -> ProxiedStack:
    seed = _extended_seed(tmp_path_factory.mktemp("seed"))
    return start_stack(
        "embedded",
        concurrency=3,
        recording=True,
        sandbox_args=("--seed", str(seed)),
        extra_env={"AUTOBOOK_MAX_SLOT_RETRIES": "50"},
    )


@pytest.fixture(scope="module")
def outcomes(stack: ProxiedStack) -> Outcomes:
    now = datetime.now(UTC).replace(microsecond=0)
    follow_up_after, keep_trying_until = now + FOLLOW_UP_DELAY, now + KEEP_TRYING_DELAY
    requests = {r["request_id"]: dict(r) for r in REQUESTS}
    requests["follow-up"]["start_after"] = _z(follow_up_after)
    requests["waiting-then-no-slot"]["keep_trying_until"] = _z(keep_trying_until)
    results = stack.submit(requests.values())
    first_seen = {row.request_id: row for row in stack.rows(requests)}
    assert all(r.status == "received" for r in results), [r.reason for r in results]
    rows = stack.wait_terminal(requests, timeout=90)
    return Outcomes(
        stack,
        {row.request_id: row for row in rows},
        first_seen,
        now,
        follow_up_after,
        keep_trying_until,
    )


# -- selectors ---------------------------------------------------------------------------------


def _event_type_uris(stack: ProxiedStack) -> dict[str, str]:
    """slug -> URI, as the sandbox names them on its own address."""
    with calendly_client(stack.sandbox_url) as http:
        organization = http.get("/users/me").json()["resource"]["current_organization"]
        listing = http.get("/event_types", params={"organization": organization, "count": 100})
        return {et["slug"]: et["uri"] for et in listing.json()["collection"]}


def _same_resource(left: str | None, right: str) -> bool:
    return left is not None and urlsplit(left).path == urlsplit(right).path


def test_selector_by_name_any_case_with_owner_books_that_owners_type(outcomes: Outcomes) -> None:
    uris = _event_type_uris(outcomes.stack)
    outcomes.booked_start("sel-name-owner")
    assert _same_resource(outcomes.row("sel-name-owner").event_type_uri, uris["demo"])
    assert _same_resource(outcomes.booking("sel-name-owner")["event_type"], uris["demo"])


def test_selector_by_slug_books_that_type(outcomes: Outcomes) -> None:
    uris = _event_type_uris(outcomes.stack)
    outcomes.booked_start("sel-slug")
    assert _same_resource(outcomes.booking("sel-slug")["event_type"], uris["demo-uk"])


@pytest.mark.parametrize(
    ("request_id", "words"),
    [
        ("sel-name-ambiguous", ["event_type", "2 event types match", "owner"]),
        ("sel-unknown", ["event_type", "no active event type", "no-such-type"]),
        ("sel-inactive", ["event_type", "inactive"]),
        ("sel-owner-mismatch", ["event_type", "phone-call", "taylor@acme.com"]),
    ],
)
def test_selector_that_matches_no_single_active_type_is_rejected_with_the_reason(
    outcomes: Outcomes, request_id: str, words: list[str]
) -> None:
    row = outcomes.row(request_id)
    assert str(row.status) == "rejected"
    assert row.reason is not None
    for word in words:
        assert word in row.reason, (word, row.reason)
    assert row.attempts == 0


def test_inactive_event_type_by_uri_is_rejected(outcomes: Outcomes) -> None:
    stack = outcomes.stack
    uri = _event_type_uris(stack)["legacy-discovery"]
    (result,) = stack.submit([_request("uri-inactive", uri)])
    assert result.status == "received"
    (row,) = stack.wait_terminal(["uri-inactive"], timeout=30)
    assert str(row.status) == "rejected"
    assert row.reason is not None
    assert "event_type" in row.reason
    assert "inactive" in row.reason


# -- windows and preference --------------------------------------------------------------------


def test_booked_start_meets_days_and_hours_in_the_window_timezone(outcomes: Outcomes) -> None:
    start = outcomes.booked_start("win-days-hours").astimezone(KOLKATA)
    end = _instant(outcomes.booking("win-days-hours")["end_time"]).astimezone(KOLKATA)
    assert start.strftime("%a") in ("Tue", "Thu")
    assert clock(15, 30) <= start.time()
    assert end.date() == start.date()
    assert end.time() <= clock(17, 0)


def test_booked_start_respects_minimum_notice(outcomes: Outcomes) -> None:
    start = outcomes.booked_start("win-min-notice")
    assert start >= outcomes.submitted_at + timedelta(days=3)
    # Not far beyond it either: the earliest slot after the notice was taken.
    assert start < outcomes.submitted_at + timedelta(days=3 + 4)


def test_booked_start_is_on_the_one_allowed_local_date(outcomes: Outcomes) -> None:
    start = outcomes.booked_start("win-one-day-physical")
    assert start.astimezone(LONDON).date() == DAYS[5]


def test_prefer_latest_books_the_last_matching_slot(outcomes: Outcomes) -> None:
    start = outcomes.booked_start("prefer-latest")
    assert start.astimezone(NEW_YORK).date() == DAYS[2]
    window_start = datetime.combine(DAYS[1], clock(0), NEW_YORK)
    window_end = datetime.combine(DAYS[2] + timedelta(days=1), clock(0), NEW_YORK)
    uri = _event_type_uris(outcomes.stack)["intro"]
    with calendly_client(outcomes.stack.sandbox_url) as http:
        offered = http.get(
            "/event_type_available_times",
            params={"event_type": uri, "start_time": _z(window_start), "end_time": _z(window_end)},
        )
        offered.raise_for_status()
    later = [t for t in offered.json()["collection"] if _instant(t["start_time"]) > start]
    assert later == [], "a later matching slot was still open"


# -- follow-up and waiting -----------------------------------------------------------------------


def test_follow_up_is_held_until_start_after_then_booked(outcomes: Outcomes) -> None:
    held = outcomes.first_seen["follow-up"]
    assert str(held.status) == "received"
    assert held.next_action_at == outcomes.follow_up_after
    assert held.updated_at < outcomes.follow_up_after  # seen while still held: a real check
    outcomes.booked_start("follow-up")
    created = _instant(outcomes.booking("follow-up")["created_at"])
    assert created >= outcomes.follow_up_after
    with outcomes.stack.sessions() as session:
        entries = store.logs_for(session, outcomes.row("follow-up").id)
    worked = [e.at for e in entries if e.kind != "received"]
    assert worked
    assert min(worked) >= outcomes.follow_up_after


def test_waiting_request_is_searched_again_until_keep_trying_until_then_no_slot(
    outcomes: Outcomes,
) -> None:
    row = outcomes.row("waiting-then-no-slot")
    assert str(row.status) == "no_slot", row.reason
    kinds = outcomes.log_kinds("waiting-then-no-slot")
    # While nothing opened, the sweeps of its event type found nothing for it: the request was
    # claimed twice only (its first search, and the last one at keep_trying_until), and its
    # history says so.
    assert kinds.count("waiting") == 1, kinds
    assert kinds.count("resolved") == 2, kinds
    assert row.fence == 2
    assert kinds[-1] == "no_slot"
    assert row.finished_at is not None
    assert row.finished_at >= outcomes.keep_trying_until
    assert row.attempts == 0


# -- locations ---------------------------------------------------------------------------------


def test_round_robin_booking_sends_no_location(outcomes: Outcomes) -> None:
    outcomes.booked_start("loc-round-robin")
    assert "location" not in outcomes.sent_body("loc-round-robin")
    # Calendly gives the type's own location to the event (a Zoom link).
    assert outcomes.booking("loc-round-robin")["location"]["type"] == "zoom"


def test_configured_physical_address_is_derived(outcomes: Outcomes) -> None:
    outcomes.booked_start("win-one-day-physical")
    address = "1 Canada Square, London E14 5AB"
    expected = {"kind": "physical", "location": address}
    assert outcomes.sent_body("win-one-day-physical")["location"] == expected
    assert outcomes.booking("win-one-day-physical")["location"]["location"] == address
    assert outcomes.row("win-one-day-physical").location["location"] == address  # type: ignore[index]


def test_outbound_call_sends_the_number(outcomes: Outcomes) -> None:
    outcomes.booked_start("win-min-notice")
    expected = {"kind": "outbound_call", "location": "+61293744000"}
    assert outcomes.sent_body("win-min-notice")["location"] == expected
    assert outcomes.booking("win-min-notice")["location"]["location"] == "+61293744000"


def test_ask_invitee_sends_the_text(outcomes: Outcomes) -> None:
    outcomes.booked_start("win-days-hours")
    expected = {"kind": "ask_invitee", "location": "Café Clock, Marrakesh"}
    assert outcomes.sent_body("win-days-hours")["location"] == expected


def test_without_location_the_first_kind_that_needs_no_input_is_chosen(outcomes: Outcomes) -> None:
    outcomes.booked_start("loc-first-without-input")
    assert outcomes.sent_body("loc-first-without-input")["location"] == {
        "kind": "google_conference"
    }
    outcomes.booked_start("loc-flexible-custom")
    assert outcomes.sent_body("loc-flexible-custom")["location"] == {
        "kind": "custom",
        "location": "The library, 2nd floor",
    }


@pytest.mark.parametrize(
    ("request_id", "words"),
    [
        ("loc-not-configured", ["location.kind", "zoom_conference", "outbound_call"]),
        ("loc-all-need-input", ["location", "needs input", "outbound_call"]),
        ("loc-none-configured", ["location.kind", "no location"]),
    ],
)
def test_location_rule_refusals_are_rejected_before_any_post(
    outcomes: Outcomes, request_id: str, words: list[str]
) -> None:
    row = outcomes.row(request_id)
    assert str(row.status) == "rejected"
    assert row.reason is not None
    for word in words:
        assert word in row.reason, (word, row.reason)
    assert row.attempts == 0
    email = f"{request_id}@example.com"
    assert not [e for e in outcomes.stack.posted() if e.body["invitee"]["email"] == email]


# -- questions ---------------------------------------------------------------------------------


def test_question_names_are_matched_in_any_case_and_echoed_exactly(outcomes: Outcomes) -> None:
    outcomes.booked_start("q-exact-names")
    answers = outcomes.booking("q-exact-names")["questions_and_answers"]
    assert {(a["question"], a["answer"]) for a in answers} == {
        ("Company Name", "CLU Labs"),
        ("Team size", "11-50"),
    }


def test_missing_required_answer_is_rejected_naming_the_question(outcomes: Outcomes) -> None:
    row = outcomes.row("q-required-missing")
    assert str(row.status) == "rejected"
    assert row.reason is not None
    assert "questions_and_answers" in row.reason
    assert "'Team size'" in row.reason
    assert row.attempts == 0


def test_unknown_question_is_rejected_naming_it_and_the_known_ones(outcomes: Outcomes) -> None:
    row = outcomes.row("q-unknown")
    assert str(row.status) == "rejected"
    assert row.reason is not None
    assert "questions_and_answers[2].question" in row.reason
    assert "Budget" in row.reason
    assert "Company Name" in row.reason


# -- group capacity ----------------------------------------------------------------------------


def test_group_capacity_is_shared_by_several_requests(outcomes: Outcomes) -> None:
    ids = [f"group-{n}" for n in range(7)]
    starts = Counter(outcomes.booked_start(request_id) for request_id in ids)
    (first, second) = sorted(starts)
    assert starts[first] == 5  # the first slot is filled to capacity
    assert starts[second] == 2  # then the next one is joined
    assert first.astimezone(NEW_YORK).time() == clock(10, 0)
    events = {outcomes.booking(request_id)["event"] for request_id in ids}
    assert len(events) == 2
    with calendly_client(outcomes.stack.sandbox_url) as http:
        for event in events:
            counter = http.get(urlsplit(event).path).json()["resource"]["invitees_counter"]
            assert counter["limit"] == 5
            assert counter["active"] in (5, 2)


# -- daylight saving time ----------------------------------------------------------------------


def test_same_local_hour_is_booked_on_both_sides_of_a_dst_change(outcomes: Outcomes) -> None:
    before = outcomes.booked_start("dst-earliest").astimezone(NEW_YORK)
    after = outcomes.booked_start("dst-latest").astimezone(NEW_YORK)
    assert before.date() < DST_DAY <= after.date()
    assert before.time() == after.time() == clock(9, 0)
    assert before.utcoffset() != after.utcoffset()
    assert before.astimezone(UTC).time() != after.astimezone(UTC).time()


# -- already_filled (runs last: the fault touches every POST while it is on) ----------------------


def _attempts(stack: ProxiedStack, request_id: str) -> list[Any]:
    with stack.sessions() as session:
        row = store.get_by_request_id(session, request_id)
        return [] if row is None else list(store.attempts_for(session, row.id))


def test_already_filled_slot_is_skipped_for_the_next_matching_one(outcomes: Outcomes) -> None:
    stack = outcomes.stack
    request = _request("stolen", {"slug": "intro"}, window=_on(DAYS[4], "09:00-12:00"))
    stack.admin.set_faults(STEAL_FAULTS)
    try:
        stack.submit([request])
        deadline = time.monotonic() + 30
        while not any(str(a.state) == "rejected" for a in _attempts(stack, "stolen")):
            assert time.monotonic() < deadline, "the first POST was never refused"
            time.sleep(0.05)
    finally:
        stack.admin.set_faults({})
    (row,) = stack.wait_terminal(["stolen"], timeout=30)
    assert str(row.status) == "booked", row.reason
    attempts = _attempts(stack, "stolen")
    assert len(attempts) >= 2
    assert row.attempts == len(attempts)
    stolen_start = attempts[0].slot_start
    assert [str(a.state) for a in attempts[:-1]] == ["rejected"] * (len(attempts) - 1)
    assert attempts[0].http_status == 400
    assert str(attempts[-1].state) == "booked"
    assert row.start_time is not None
    assert row.start_time > stolen_start
    local = row.start_time.astimezone(NEW_YORK)
    assert local.date() == DAYS[4]
    assert clock(9, 0) <= local.time() < clock(12, 0)
    thief = [
        b
        for b in stack.admin.ledger()
        if _instant(b["start_time"]) == stolen_start and b["email"] != "stolen@example.com"
    ]
    assert thief, "the slot we were refused was taken by someone else"


# -- search range edges ------------------------------------------------------------------------


def test_a_window_that_is_over_ends_no_slot_even_with_keep_trying_until(
    outcomes: Outcomes,
) -> None:
    stack = outcomes.stack
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    request = _request(
        "window-over",
        {"slug": "intro"},
        window={"earliest": yesterday.isoformat(), "latest": yesterday.isoformat()},
        keep_trying_until=_z(datetime.now(UTC) + timedelta(days=1)),
    )
    stack.submit([request])
    (row,) = stack.wait_terminal(["window-over"], timeout=10)
    assert str(row.status) == "no_slot"


def test_earliest_beyond_the_search_horizon_is_searched_from_earliest(outcomes: Outcomes) -> None:
    stack = outcomes.stack
    far = _weekdays(datetime.now(NEW_YORK).date() + timedelta(days=75), 1)[0]
    stack.submit(
        [_request("far-earliest", {"slug": "intro"}, window={"earliest": far.isoformat()})]
    )
    (row,) = stack.wait_terminal(["far-earliest"], timeout=30)
    assert str(row.status) == "booked", row.reason
    assert row.start_time is not None
    assert row.start_time.astimezone(NEW_YORK).date() == far
