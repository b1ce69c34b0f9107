"""`booking.body`: the POST /invitees body, built by the event type's rules."""

from __future__ import annotations

from typing import Any

import pytest

from autobook.booking.body import (
    CORRELATION_PREFIX,
    BookingRuleViolation,
    InviteeBody,
    build_invitee_body,
)
from autobook.calendly.models import AvailableTime, EventType
from autobook.requests import TRACKING_KEYS, BookingRequest, parse_request

EVENT_TYPE_URI = "https://api.calendly.com/event_types/11111111-2222-3333-4444-555555555555"
SLOT = AvailableTime.model_validate(
    {"start_time": "2026-12-02T15:00:00.000000Z", "status": "available", "invitees_remaining": 1}
)
OFFICE = "1 Canada Square, London E14 5AB"


def _event_type(
    locations: list[dict[str, Any]] | None = None,
    *,
    pooling_type: str | None = None,
    questions: list[dict[str, Any]] | None = None,
) -> EventType:
    return EventType.model_validate(
        {
            "uri": EVENT_TYPE_URI,
            "name": "Test Type",
            "slug": "test-type",
            "duration": 30,
            "pooling_type": pooling_type,
            "locations": locations,
            "custom_questions": questions or [],
        }
    )


def _request(**extra: Any) -> BookingRequest:
    return parse_request(
        {
            "request_id": "body-test",
            "event_type": EVENT_TYPE_URI,
            "invitee": {"name": "Ada Lovelace", "email": "ada@example.com", "timezone": "UTC"},
            **extra,
        }
    )


def _build(request: BookingRequest, event_type: EventType, **kwargs: Any) -> InviteeBody:
    return build_invitee_body(request, event_type, SLOT, **kwargs)


# -- the body itself ---------------------------------------------------------------------------


def test_minimal_request_sends_only_name_email_timezone_and_the_offered_start() -> None:
    built = _build(_request(), _event_type())
    assert set(built.body) == {"event_type", "start_time", "invitee", "tracking"}
    assert built.body["invitee"] == {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "timezone": "UTC",
    }
    assert built.body["event_type"] == EVENT_TYPE_URI
    # Byte for byte as availability offered it: UTC with a Z, microseconds kept.
    assert built.body["start_time"] == "2026-12-02T15:00:00.000000Z"


def test_first_and_last_name_and_reminder_number_are_sent() -> None:
    request = parse_request(
        {
            "request_id": "names",
            "event_type": EVENT_TYPE_URI,
            "invitee": {
                "first_name": "Ada",
                "last_name": "Lovelace",
                "email": "ada@example.com",
                "timezone": "Europe/London",
                "text_reminder_number": "+44 20 7946 0000",
            },
        }
    )
    invitee = _build(request, _event_type()).body["invitee"]
    assert invitee == {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "timezone": "Europe/London",
        "text_reminder_number": "+442079460000",
    }


def test_event_guests_are_sent_when_given() -> None:
    guests = ["cc@example.com", "bob@example.org"]
    built = _build(_request(event_guests=guests), _event_type())
    assert built.body["event_guests"] == guests


# -- location derivation -----------------------------------------------------------------------

ZOOM = {"kind": "zoom_conference"}
GOOGLE = {"kind": "google_conference"}
OUTBOUND = {"kind": "outbound_call"}
INBOUND = {"kind": "inbound_call", "phone_number": "+442079460958"}
ASK = {"kind": "ask_invitee"}
PHYSICAL_OFFICE = {"kind": "physical", "location": OFFICE}
CUSTOM_PARK = {"kind": "custom", "location": "Bryant Park, by the fountain"}


@pytest.mark.parametrize(
    ("configured", "pooling", "given", "expected"),
    [
        # round robin: never a location, whatever is configured or asked
        ([ZOOM], "round_robin", None, None),
        ([ZOOM], "round_robin", {"kind": "zoom_conference"}, None),
        ([PHYSICAL_OFFICE], "round_robin", None, None),
        # no location configured, none asked
        (None, None, None, None),
        ([], None, None, None),
        # the request's choice, when the type offers it
        ([ZOOM], None, {"kind": "zoom_conference"}, {"kind": "zoom_conference"}),
        (
            [OUTBOUND],
            None,
            {"kind": "outbound_call", "location": "+14155550100"},
            {"kind": "outbound_call", "location": "+14155550100"},
        ),
        (
            [ASK],
            None,
            {"kind": "ask_invitee", "location": "Café Clock"},
            {"kind": "ask_invitee", "location": "Café Clock"},
        ),
        (
            [PHYSICAL_OFFICE],
            None,
            {"kind": "physical", "location": "10 Downing St"},
            {"kind": "physical", "location": "10 Downing St"},
        ),
        ([INBOUND, ZOOM], None, {"kind": "inbound_call"}, {"kind": "inbound_call"}),
        # derived: the first configured kind that needs no input
        ([PHYSICAL_OFFICE], None, None, {"kind": "physical", "location": OFFICE}),
        ([CUSTOM_PARK], None, None, {"kind": "custom", "location": CUSTOM_PARK["location"]}),
        ([GOOGLE, ZOOM, PHYSICAL_OFFICE], None, None, {"kind": "google_conference"}),
        ([OUTBOUND, ASK, ZOOM], None, None, {"kind": "zoom_conference"}),
        ([INBOUND], None, None, {"kind": "inbound_call"}),
        # a collective type follows the ordinary rules
        ([ZOOM], "collective", None, {"kind": "zoom_conference"}),
    ],
)
def test_location_is_derived_by_the_event_types_rules(
    configured: list[dict[str, Any]] | None,
    pooling: str | None,
    given: dict[str, Any] | None,
    expected: dict[str, Any] | None,
) -> None:
    request = _request(location=given) if given else _request()
    built = _build(request, _event_type(configured, pooling_type=pooling))
    assert built.body.get("location") == expected
    if expected is None:
        assert "location" not in built.body


def test_round_robin_notes_that_a_requested_location_was_left_out() -> None:
    built = _build(_request(location=ZOOM), _event_type([ZOOM], pooling_type="round_robin"))
    assert any("round-robin" in note for note in built.notes)


def test_derived_location_is_noted() -> None:
    built = _build(_request(), _event_type([OUTBOUND, GOOGLE]))
    assert any("google_conference" in note for note in built.notes)


@pytest.mark.parametrize(
    ("configured", "given", "field", "words"),
    [
        ([OUTBOUND], ZOOM, "location.kind", ["'zoom_conference'", "outbound_call"]),
        (
            [GOOGLE, ZOOM],
            {"kind": "physical", "location": "x"},
            "location.kind",
            ["google_conference, zoom_conference"],
        ),
        (None, ZOOM, "location.kind", ["no location configured"]),
        ([OUTBOUND], None, "location", ["needs input", "outbound_call"]),
        ([OUTBOUND, ASK], None, "location", ["outbound_call, ask_invitee"]),
    ],
)
def test_location_rule_refusals_name_the_field_and_the_allowed_kinds(
    configured: list[dict[str, Any]] | None,
    given: dict[str, Any] | None,
    field: str,
    words: list[str],
) -> None:
    request = _request(location=given) if given else _request()
    with pytest.raises(BookingRuleViolation) as caught:
        _build(request, _event_type(configured))
    assert caught.value.field == field
    assert caught.value.message.startswith(f"{field}: ")
    for word in words:
        assert word in caught.value.message


# -- tracking and the correlation token --------------------------------------------------------


def test_tracking_always_carries_all_six_keys_and_the_token_in_utm_content() -> None:
    built = _build(_request(), _event_type())
    tracking = built.body["tracking"]
    assert list(tracking) == list(TRACKING_KEYS)
    assert built.correlation_token is not None
    assert built.correlation_token.startswith(CORRELATION_PREFIX)
    assert tracking["utm_content"] == built.correlation_token
    assert [key for key, value in tracking.items() if value is not None] == ["utm_content"]


def test_given_tracking_values_are_kept_and_the_token_takes_the_next_free_key() -> None:
    given = {
        "utm_source": "salesforce",
        "utm_content": "ad-7",
        "salesforce_uuid": "00Q5e00000AbCdE",
    }
    built = _build(_request(tracking=given), _event_type())
    tracking = built.body["tracking"]
    assert set(tracking) == set(TRACKING_KEYS)
    for key, value in given.items():
        assert tracking[key] == value
    assert tracking["utm_term"] == built.correlation_token
    assert tracking["utm_campaign"] is None
    assert tracking["utm_medium"] is None


def test_with_every_utm_key_taken_no_token_is_sent_and_nothing_is_overwritten() -> None:
    given = {key: f"given-{key}" for key in TRACKING_KEYS if key != "salesforce_uuid"}
    built = _build(_request(tracking=given), _event_type())
    assert built.correlation_token is None
    # salesforce_uuid is a CRM record id: it never carries the token, even when free.
    assert built.body["tracking"] == {**given, "salesforce_uuid": None}
    assert any("no correlation token" in note for note in built.notes)


def test_a_given_correlation_token_is_used() -> None:
    built = _build(_request(), _event_type(), correlation_token="ab-fixed")
    assert built.correlation_token == "ab-fixed"
    assert built.body["tracking"]["utm_content"] == "ab-fixed"


def test_each_body_gets_its_own_token() -> None:
    tokens = {_build(_request(), _event_type()).correlation_token for _ in range(20)}
    assert len(tokens) == 20


# -- questions ---------------------------------------------------------------------------------

QUESTIONS = [
    {"name": "Company Name", "type": "string", "position": 0, "required": True},
    {"name": "Team size", "type": "single_select", "position": 1, "required": True},
    {"name": "Anything else?", "type": "text", "position": 3, "required": False},
    {"name": "Old question", "type": "string", "position": 2, "required": True, "enabled": False},
]


def test_question_names_are_echoed_exactly_as_the_event_type_spells_them() -> None:
    answers = [
        {"question": "  company   NAME ", "answer": "CLU Labs", "position": 0},
        {"question": "TEAM SIZE", "answer": "11-50", "position": 1},
        {"question": "anything else?", "answer": "no", "position": 2},
    ]
    built = _build(_request(questions_and_answers=answers), _event_type(questions=QUESTIONS))
    assert built.body["questions_and_answers"] == [
        {"question": "Company Name", "answer": "CLU Labs", "position": 0},
        {"question": "Team size", "answer": "11-50", "position": 1},
        # the event type's position, not the request's
        {"question": "Anything else?", "answer": "no", "position": 3},
    ]


def test_missing_required_answer_is_refused_naming_the_question() -> None:
    answers = [{"question": "Company Name", "answer": "CLU", "position": 0}]
    with pytest.raises(BookingRuleViolation) as caught:
        _build(_request(questions_and_answers=answers), _event_type(questions=QUESTIONS))
    assert caught.value.field == "questions_and_answers"
    assert "'Team size'" in caught.value.message
    assert "Company Name" not in caught.value.message


def test_no_answers_at_all_is_refused_when_a_question_is_required() -> None:
    with pytest.raises(BookingRuleViolation) as caught:
        _build(_request(), _event_type(questions=QUESTIONS))
    assert "'Company Name'" in caught.value.message


def test_unknown_question_is_refused_naming_its_index_and_the_known_questions() -> None:
    answers = [
        {"question": "Company Name", "answer": "CLU", "position": 0},
        {"question": "Budget", "answer": "big", "position": 1},
    ]
    with pytest.raises(BookingRuleViolation) as caught:
        _build(_request(questions_and_answers=answers), _event_type(questions=QUESTIONS))
    assert caught.value.field == "questions_and_answers[1].question"
    assert "'Budget'" in caught.value.message
    assert "'Company Name'" in caught.value.message
    assert "'Team size'" in caught.value.message


def test_disabled_question_is_neither_required_nor_answerable() -> None:
    answers = [
        {"question": "Company Name", "answer": "CLU", "position": 0},
        {"question": "Team size", "answer": "1-10", "position": 1},
    ]
    built = _build(_request(questions_and_answers=answers), _event_type(questions=QUESTIONS))
    assert [a["question"] for a in built.body["questions_and_answers"]] == [
        "Company Name",
        "Team size",
    ]
    with pytest.raises(BookingRuleViolation) as caught:
        _build(
            _request(
                questions_and_answers=[
                    *answers,
                    {"question": "Old question", "answer": "x", "position": 2},
                ]
            ),
            _event_type(questions=QUESTIONS),
        )
    assert caught.value.field == "questions_and_answers[2].question"


def test_no_questions_key_when_nothing_is_answered_and_nothing_is_required() -> None:
    optional = [{"name": "Company", "type": "string", "position": 0, "required": False}]
    built = _build(_request(), _event_type(questions=optional))
    assert "questions_and_answers" not in built.body


def test_the_same_question_answered_twice_in_another_case_is_refused() -> None:
    answers = [
        {"question": "Company Name", "answer": "CLU", "position": 0},
        {"question": "company name", "answer": "CLU Labs", "position": 1},
        {"question": "Team size", "answer": "1-10", "position": 2},
    ]
    with pytest.raises(BookingRuleViolation) as caught:
        _build(_request(questions_and_answers=answers), _event_type(questions=QUESTIONS))
    assert caught.value.field == "questions_and_answers[1].question"
    assert "'Company Name'" in caught.value.message
    assert "[0]" in caught.value.message
