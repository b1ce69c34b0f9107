"""The booking request schema: what it accepts, how it normalizes, and how it explains refusals."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from autobook.errors import InvalidRequest
from autobook.request_checks import check_phone_number, check_timezone, email_typo_suggestion
from autobook.requests import (
    LOCATION_KINDS_REQUIRING_INPUT,
    MAX_EVENT_GUESTS,
    TRACKING_KEYS,
    BookingRequest,
    EventTypeSelector,
    HourRange,
    LocationKind,
    Weekday,
    decode_request_text,
    parse_hour_range,
    parse_request,
    request_id_of,
)
from tests.unit.invalid_requests import EVENT_TYPE_URI, valid_base_request


def minimal(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "request_id": "req-1",
        "event_type": EVENT_TYPE_URI,
        "invitee": {
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "timezone": "Europe/London",
        },
    }
    raw.update(changes)
    return raw


def problems_of(raw: object) -> dict[str, str]:
    with pytest.raises(InvalidRequest) as caught:
        parse_request(raw)
    return {problem.field: problem.problem for problem in caught.value.problems}


# --- what is accepted ------------------------------------------------------------------------


def test_only_request_id_event_type_and_invitee_are_required() -> None:
    request = parse_request(minimal())
    assert request.request_id == "req-1"
    assert request.event_type == EVENT_TYPE_URI
    assert request.window is None
    assert request.prefer == "earliest"
    assert request.event_guests == []
    assert request.questions_and_answers == []
    assert request.tracking is None
    assert request.location is None
    assert request.allow_unusual_email is False


def test_the_full_design_example_parses_with_every_field() -> None:
    request = parse_request(valid_base_request())
    assert request.window is not None
    assert request.window.days == [Weekday.WED, Weekday.THU]
    assert request.window.min_notice_minutes == 120
    assert request.keep_trying_until == datetime(2026, 12, 10, tzinfo=UTC)
    assert request.location is not None
    assert request.location.kind is LocationKind.OUTBOUND_CALL
    assert request.tracking is not None
    assert request.tracking.salesforce_uuid == "00Q5e00000AbCdE"
    assert str(request.callback_url) == "https://crm.example.com/hooks/booking"


def test_a_parsed_request_dumps_to_json_that_parses_back_equal() -> None:
    request = parse_request(valid_base_request())
    dumped = request.model_dump(mode="json", exclude_none=True)
    assert parse_request(json.loads(json.dumps(dumped))) == request
    assert dumped["keep_trying_until"] == "2026-12-10T00:00:00Z"


@pytest.mark.parametrize(
    "selector",
    [{"name": "30 Minute Demo"}, {"slug": "demo"}, {"slug": "demo", "owner": "taylor@acme.com"}],
)
def test_event_type_may_be_a_selector(selector: dict[str, str]) -> None:
    request = parse_request(minimal(event_type=selector))
    assert isinstance(request.event_type, EventTypeSelector)
    assert request.event_type.model_dump(exclude_none=True) == selector


def test_event_type_uri_may_point_at_the_sandbox() -> None:
    uri = "http://127.0.0.1:8765/event_types/abc-123"
    assert parse_request(minimal(event_type=uri)).event_type == uri


def test_invitee_may_give_first_and_last_name_instead_of_name() -> None:
    raw = minimal(
        invitee={
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "timezone": "UTC",
        }
    )
    request = parse_request(raw)
    assert request.invitee.name is None
    assert request.invitee.first_name == "Ada"


def test_emails_are_normalized_and_phone_numbers_become_e164() -> None:
    raw = minimal()
    raw["invitee"].update(email="  Ada@Example.COM ", text_reminder_number="+1 (415) 555-0100")
    raw["location"] = {"kind": "outbound_call", "location": "+44 20 7183 8750"}
    request = parse_request(raw)
    assert request.invitee.email == "Ada@example.com"
    assert request.invitee.text_reminder_number == "+14155550100"
    assert request.location is not None
    assert request.location.location == "+442071838750"


def test_instants_with_an_offset_are_stored_in_utc() -> None:
    request = parse_request(minimal(start_after="2026-12-01T09:00:00+02:00"))
    assert request.start_after == datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    assert request.start_after.utcoffset() is not None


def test_weekdays_accept_full_names_and_any_case_and_drop_repeats() -> None:
    request = parse_request(minimal(window={"days": ["Wednesday", "THU", "wed", "sunday"]}))
    assert request.window is not None
    assert request.window.days == ["wed", "thu", "sun"]
    assert request.window.weekday_numbers == frozenset({2, 3, 6})
    assert date(2026, 12, 2).weekday() in request.window.weekday_numbers  # a Wednesday


def test_hour_ranges_are_normalized_and_may_end_at_midnight() -> None:
    request = parse_request(minimal(window={"hours": ["9:00 - 12:30", "18:00-24:00"]}))
    assert request.window is not None
    assert request.window.hours == ["09:00-12:30", "18:00-24:00"]
    assert request.window.hour_ranges == [HourRange(540, 750), HourRange(1080, 1440)]


def test_hour_range_contains_its_start_but_not_its_end() -> None:
    morning = parse_hour_range("09:00-12:00")
    assert morning.contains(time(9, 0))
    assert morning.contains(time(11, 59))
    assert not morning.contains(time(12, 0))
    assert not morning.contains(time(8, 59))
    assert parse_hour_range("18:00-24:00").contains(time(23, 59))


def test_window_dates_are_days_and_the_constraint_timezone_defaults_to_the_invitee() -> None:
    request = parse_request(minimal(window={"earliest": "2026-12-01", "latest": "2026-12-01"}))
    assert request.window is not None
    assert request.window.earliest == date(2026, 12, 1)
    assert request.constraint_timezone == "Europe/London"
    other = parse_request(minimal(window={"timezone": "Asia/Tokyo"}))
    assert other.constraint_timezone == "Asia/Tokyo"


def test_unusual_email_is_accepted_when_the_request_says_so() -> None:
    raw = minimal(allow_unusual_email=True, event_guests=["cc@hotmial.com"])
    raw["invitee"]["email"] = "ada@gmial.com"
    request = parse_request(raw)
    assert request.invitee.email == "ada@gmial.com"


def test_ten_guests_are_allowed() -> None:
    guests = [f"guest{i}@example.com" for i in range(MAX_EVENT_GUESTS)]
    assert parse_request(minimal(event_guests=guests)).event_guests == guests


def test_null_lists_mean_empty() -> None:
    request = parse_request(minimal(event_guests=None, questions_and_answers=None))
    assert request.event_guests == []
    assert request.questions_and_answers == []


def test_tracking_knows_exactly_calendlys_six_keys() -> None:
    tracking = dict.fromkeys(TRACKING_KEYS, "x")
    request = parse_request(minimal(tracking=tracking))
    assert request.tracking is not None
    assert request.tracking.model_dump() == tracking


# --- locations -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(LocationKind))
def test_each_location_kind_accepts_a_location_only_if_it_needs_one(kind: LocationKind) -> None:
    text = "+14155550100" if kind is LocationKind.OUTBOUND_CALL else "Room 4, 1 Main St"
    with_text = minimal(location={"kind": kind.value, "location": text})
    without_text = minimal(location={"kind": kind.value})
    if kind in LOCATION_KINDS_REQUIRING_INPUT:
        assert parse_request(with_text).location is not None
        assert "is required" in problems_of(without_text)["location.location"]
    else:
        assert parse_request(without_text).location is not None
        assert "left out" in problems_of(with_text)["location.location"]


def test_there_are_ten_location_kinds_and_four_need_input() -> None:
    assert len(LocationKind) == 10
    assert {kind.value for kind in LOCATION_KINDS_REQUIRING_INPUT} == {
        "physical",
        "outbound_call",
        "ask_invitee",
        "custom",
    }


def test_a_misspelled_location_kind_gets_a_suggestion() -> None:
    assert (
        "did you mean zoom_conference?"
        in problems_of(minimal(location={"kind": "zoom"}))["location.kind"]
    )


# --- how refusals read -----------------------------------------------------------------------


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    raw = minimal(
        prefer="soonest",
        window={"hours": ["09:00-12:00", "12:00-11:00"], "days": ["mon", "someday"]},
        event_guests=["ok@example.com", "not-an-email"],
    )
    raw["invitee"]["timezone"] = "EST"
    problems = problems_of(raw)
    assert set(problems) == {
        "prefer",
        "window.hours[1]",
        "window.days[1]",
        "event_guests[1]",
        "invitee.timezone",
    }


def test_problems_never_leak_pydantic_wording_or_urls() -> None:
    raw = minimal(prefer=3, window={"min_notice_minutes": "soon", "days": "mon"}, callback_url=5)
    raw["invitee"]["email"] = 7
    with pytest.raises(InvalidRequest) as caught:
        parse_request(raw)
    text = str(caught.value)
    for leak in ("pydantic", "errors.pydantic.dev", "Input should", "input_value", "Value error"):
        assert leak not in text


def test_an_unknown_key_is_named_with_the_closest_known_one() -> None:
    problems = problems_of(minimal(event_guest=["cc@example.com"]))
    assert "did you mean event_guests?" in problems["event_guest"]
    invitee = minimal()
    invitee["invitee"]["timezon"] = "UTC"
    assert "did you mean timezone?" in problems_of(invitee)["invitee.timezon"]


@pytest.mark.parametrize("key", ["\u202e", "\U0003134b", "a\u200bb"])
def test_an_unknown_key_with_an_unprintable_character_is_named_escaped(key: str) -> None:
    # A bidi override or an unassigned code point is no control character, so it got past the
    # raw checks, and pydantic's path once carried it into the reason as it came.
    raw = minimal()
    raw["invitee"][key] = 1
    with pytest.raises(InvalidRequest) as caught:
        parse_request(raw)
    assert caught.value.message.isprintable(), repr(caught.value.message)
    assert f"invitee.'{key.encode('unicode_escape').decode()}'" in caught.value.message


def test_a_typo_in_a_popular_domain_suggests_the_address() -> None:
    raw = minimal()
    raw["invitee"]["email"] = "ada@gmial.com"
    problem = problems_of(raw)["invitee.email"]
    assert "did you mean ada@gmail.com?" in problem
    assert "allow_unusual_email" in problem


def test_a_naive_time_is_refused_saying_it_lacks_an_offset() -> None:
    assert (
        "no UTC offset"
        in problems_of(minimal(keep_trying_until="2026-12-10T09:00:00"))["keep_trying_until"]
    )


def test_guest_cannot_be_the_invitee_or_appear_twice() -> None:
    assert (
        "is the invitee"
        in problems_of(minimal(event_guests=["ADA@example.com"]))["event_guests[0]"]
    )
    twice = problems_of(minimal(event_guests=["a@example.com", "b@example.com", "A@example.com"]))
    assert set(twice) == {"event_guests[2]"}


def test_eleven_guests_are_refused() -> None:
    guests = [f"guest{i}@example.com" for i in range(MAX_EVENT_GUESTS + 1)]
    assert "at most 10" in problems_of(minimal(event_guests=guests))["event_guests"]


def test_questions_need_distinct_text_and_positions() -> None:
    answers = [
        {"question": "Company", "answer": "Acme", "position": 0},
        {"question": "Role", "answer": "CTO", "position": 0},
    ]
    assert set(problems_of(minimal(questions_and_answers=answers))) == {
        "questions_and_answers[1].position"
    }


def test_selector_needs_exactly_one_of_name_and_slug() -> None:
    assert (
        "both name and slug"
        in problems_of(minimal(event_type={"name": "a", "slug": "b"}))["event_type"]
    )


@pytest.mark.parametrize("raw", [None, [], "text", 3, True])
def test_a_non_object_is_refused_as_the_whole_request(raw: object) -> None:
    assert set(problems_of(raw)) == {"request"}


# --- request_id_of ---------------------------------------------------------------------------


def test_request_id_of_finds_the_id_of_an_otherwise_invalid_request() -> None:
    raw = {"request_id": "crm-77", "invitee": "nobody"}
    assert request_id_of(raw) == "crm-77"
    with pytest.raises(InvalidRequest) as caught:
        parse_request(raw)
    assert caught.value.request_id == "crm-77"


@pytest.mark.parametrize(
    "raw", [None, ["crm-77"], {"request_id": 77}, {"request_id": "a b"}, {"request_id": ""}, {}]
)
def test_request_id_of_gives_none_without_a_usable_id(raw: object) -> None:
    assert request_id_of(raw) is None


# --- single-value checks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("gmial.com", "gmail.com"),
        ("gmai.com", "gmail.com"),
        ("gamil.com", "gmail.com"),
        ("gnail.com", "gmail.com"),
        ("hotmial.com", "hotmail.com"),
        ("hotmal.com", "hotmail.com"),
        ("yahooo.com", "yahoo.com"),
        ("yaho.com", "yahoo.com"),
        ("outlok.com", "outlook.com"),
        ("iclod.com", "icloud.com"),
        ("gmail.con", "gmail.com"),
        ("acme.con", "acme.com"),
        ("outlook.co", "outlook.com"),
    ],
)
def test_common_domain_typos_get_a_suggestion(typed: str, meant: str) -> None:
    assert email_typo_suggestion(f"ada@{typed}") == f"ada@{meant}"


@pytest.mark.parametrize(
    "domain",
    [
        "gmail.com",
        "example.com",
        "mail.com",
        "email.com",
        "me.com",
        "mac.com",
        "aol.com",
        "gmx.com",
        "cloud.com",
        "comcast.com",
        "acme.com",
        "ymail.com",
    ],
)
def test_real_domains_get_no_suggestion(domain: str) -> None:
    assert email_typo_suggestion(f"ada@{domain}") is None


@pytest.mark.parametrize(
    "name", ["America/New_York", "Europe/Paris", "UTC", "EST5EDT", "Etc/GMT+5"]
)
def test_timezones_zoneinfo_knows_are_accepted(name: str) -> None:
    assert check_timezone(name) == name


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("EST", "America/New_York"),
        ("PST", "America/Los_Angeles"),
        ("america/new_york", "did you mean America/New_York?"),
        ("Europe/Pari", "did you mean Europe/Paris?"),
        ("UTC+2", "UTC offset"),
        ("", "must not be empty"),
    ],
)
def test_timezone_refusals_carry_a_hint(name: str, hint: str) -> None:
    with pytest.raises(ValueError, match=re.escape(hint)):
        check_timezone(name)


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("4155550100", "no country code"),
        ("+1 415 CALL NOW", "only digits"),
        ("+1 555", "not a valid number"),
        ("+999 1234567", "not"),
    ],
)
def test_phone_numbers_must_be_valid_and_international(number: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_phone_number(number)


# --- decode_request_text ---------------------------------------------------------------------


def test_decode_accepts_an_object_an_array_and_json_lines() -> None:
    one, two = minimal(request_id="a"), minimal(request_id="b")
    assert decode_request_text(json.dumps(one, indent=2)) == [one]
    assert decode_request_text(json.dumps([one, two])) == [one, two]
    lines = "\n".join([json.dumps(one), "", json.dumps(two), ""])
    assert decode_request_text(lines) == [one, two]
    assert decode_request_text("\ufeff" + json.dumps(one)) == [one]


def test_decode_passes_malformed_items_through_for_parse_request_to_refuse() -> None:
    assert decode_request_text('[1, null, "x"]') == [1, None, "x"]
    assert decode_request_text('{"request_id": "a"}\n[1]') == [{"request_id": "a"}, [1]]


def test_decode_names_every_broken_json_line() -> None:
    text = "\n".join([json.dumps(minimal()), "{not json", json.dumps(minimal()), '{"a": 1,}'])
    with pytest.raises(InvalidRequest) as caught:
        decode_request_text(text)
    assert [problem.field for problem in caught.value.problems] == ["line 2", "line 4"]
    assert "column" in caught.value.problems[0].problem


def test_decode_gives_the_line_of_an_error_in_one_pretty_printed_document() -> None:
    text = '{\n  "request_id": "a",\n  "invitee": {,\n}'
    with pytest.raises(InvalidRequest) as caught:
        decode_request_text(text)
    assert [problem.field for problem in caught.value.problems] == ["line 3"]


@pytest.mark.parametrize("text", ["", "   \n\n"])
def test_decode_refuses_empty_input(text: str) -> None:
    with pytest.raises(InvalidRequest, match="is empty"):
        decode_request_text(text)


def test_decode_refuses_nan_which_is_not_json() -> None:
    with pytest.raises(InvalidRequest, match="NaN"):
        decode_request_text('{"request_id": NaN}')


def test_booking_request_is_immutable() -> None:
    request = parse_request(minimal())
    with pytest.raises(ValueError, match="frozen"):
        request.request_id = "other"  # type: ignore[misc]
    assert isinstance(request, BookingRequest)
