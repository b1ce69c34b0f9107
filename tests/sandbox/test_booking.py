"""POST /invitees: the 201 resource, the event it creates, and every validation body."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from autobook.sandbox.server import SandboxServer
from tests.sandbox.conftest import Booker
from tests.sandbox.seeds import NOW, OWNER_EMAIL, event_type_uri, user_uri
from tests.support.sandbox import FakeClock, SandboxAdmin, tracking

SLOT = "2026-11-30T15:00:00Z"
INVALID = {"title": "Invalid Argument", "message": "The supplied parameters are invalid."}
ALREADY_FILLED = INVALID | {
    "details": [
        {
            "parameter": "event.start_time",
            "message": "That start time has been filled",
            "code": "already_filled",
        }
    ]
}
INVALID_LOCATION_CHOICE = {
    "title": "Invalid Argument",
    "message": "Specified location kind is not configured for this event type.",
    "details": [
        {
            "parameter": "event.location_configuration.location",
            "message": "invalid location choice",
            "code": "invalid_location_choice",
        }
    ],
}
INVITEE_FIELDS = {
    "uri",
    "email",
    "first_name",
    "last_name",
    "name",
    "status",
    "questions_and_answers",
    "timezone",
    "event",
    "created_at",
    "updated_at",
    "tracking",
    "text_reminder_number",
    "rescheduled",
    "old_invitee",
    "new_invitee",
    "cancel_url",
    "reschedule_url",
    "routing_form_submission",
    "payment",
    "no_show",
    "reconfirmation",
    "scheduling_method",
    "invitee_scheduled_by",
}


def details(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 400, response.text
    found: list[dict[str, str]] = response.json()["details"]
    return found


def test_a_booking_returns_the_full_invitee(booker: Booker, sandbox: SandboxServer) -> None:
    sent_tracking = tracking(utm_source="crm", salesforce_uuid="00Q5e00000AbCdE")
    invitee = booker.book(
        "solo",
        SLOT,
        location={"kind": "zoom_conference"},
        tracking=sent_tracking,
        invitee={
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "timezone": "Europe/London",
            "text_reminder_number": "+14155550100",
        },
    )
    assert set(invitee) == INVITEE_FIELDS
    invitee_uuid = invitee["uri"].rsplit("/", 1)[1]
    assert invitee["uri"] == f"{invitee['event']}/invitees/{invitee_uuid}"
    assert invitee["event"].startswith(f"{sandbox.url}/scheduled_events/")
    # Calendly's links open its pages on calendly.com; the sandbox's open its own pages.
    assert invitee["cancel_url"] == f"{sandbox.url}/cancellations/{invitee_uuid}"
    assert invitee["reschedule_url"] == f"{sandbox.url}/reschedulings/{invitee_uuid}"
    assert (invitee["name"], invitee["first_name"], invitee["last_name"]) == (
        "Ada Lovelace",
        "Ada",
        "Lovelace",
    )
    assert invitee["scheduling_method"] == "api"
    assert invitee["invitee_scheduled_by"] == user_uri(sandbox.url, OWNER_EMAIL)
    assert invitee["tracking"] == sent_tracking
    assert invitee["text_reminder_number"] == "+14155550100"
    assert invitee["status"] == "active"
    assert invitee["created_at"] == "2026-11-23T12:00:00.000000Z"


def test_a_single_name_leaves_first_and_last_name_null(booker: Booker) -> None:
    invitee = booker.book("solo", SLOT, location={"kind": "zoom_conference"})
    assert (invitee["name"], invitee["first_name"], invitee["last_name"]) == (
        "Ada Lovelace",
        None,
        None,
    )
    assert invitee["tracking"] == tracking()


def test_the_event_shows_guests_location_counter_and_host(
    booker: Booker, sandbox: SandboxServer
) -> None:
    invitee = booker.book(
        "solo",
        SLOT,
        location={"kind": "zoom_conference"},
        event_guests=["cc@example.com", "boss@example.com"],
    )
    event = booker.client.get(invitee["event"]).json()["resource"]
    assert event["start_time"] == "2026-11-30T15:00:00.000000Z"
    assert event["end_time"] == "2026-11-30T15:30:00.000000Z"
    assert event["event_type"] == event_type_uri(sandbox.url, "solo")
    assert event["status"] == "active"
    assert [guest["email"] for guest in event["event_guests"]] == [
        "cc@example.com",
        "boss@example.com",
    ]
    assert event["location"]["type"] == "zoom"
    assert event["location"]["status"] == "pushed"
    assert event["location"]["join_url"].startswith("https://")
    assert event["invitees_counter"] == {"total": 1, "active": 1, "limit": 1}
    assert [m["user"] for m in event["event_memberships"]] == [user_uri(sandbox.url, OWNER_EMAIL)]
    assert event["event_memberships"][0]["user_email"] == OWNER_EMAIL


@pytest.mark.parametrize(
    ("slug", "location", "expected"),
    [
        ("no-location", None, {"type": "custom", "location": None}),
        (
            "physical",
            {"kind": "physical", "location": "10 Downing St"},
            {"type": "physical", "location": "10 Downing St"},
        ),
        (
            "outbound",
            {"kind": "outbound_call", "location": "+61293744000"},
            {"type": "outbound_call", "location": "+61293744000"},
        ),
        (
            "ask",
            {"kind": "ask_invitee", "location": "My office"},
            {"type": "ask_invitee", "location": "My office"},
        ),
        (
            "inbound",
            {"kind": "inbound_call"},
            {"type": "inbound_call", "location": "+442079460958"},
        ),
        (
            "custom",
            {"kind": "custom", "location": "Back door"},
            {"type": "custom", "location": "Back door"},
        ),
        ("multi", {"kind": "google_conference"}, {"type": "google_conference", "status": "pushed"}),
        (
            "multi",
            {"kind": "gotomeeting_conference"},
            {"type": "gotomeeting", "status": "pushed", "data": None},
        ),
        (
            "multi",
            {"kind": "microsoft_teams_conference"},
            {"type": "microsoft_teams_conference", "data": None},
        ),
        ("multi", {"kind": "webex_conference"}, {"type": "webex_conference", "data": None}),
        (
            "multi",
            None,
            {"type": "google_conference"},
        ),  # omitted: the first kind that needs no input
        ("round-robin", None, {"type": "zoom"}),
    ],
)
def test_each_location_kind_shows_on_the_event(
    booker: Booker, slug: str, location: dict[str, str] | None, expected: dict[str, Any]
) -> None:
    start = "2026-11-30T10:00:00Z" if slug in ("physical", "inbound") else SLOT
    if slug == "outbound":
        start = "2026-11-30T22:00:00Z"
    invitee = booker.book(slug, start, location=location)
    event_location = booker.client.get(invitee["event"]).json()["resource"]["location"]
    assert expected.items() <= event_location.items()


def test_a_taken_slot_is_already_filled(booker: Booker) -> None:
    booker.book("solo", SLOT, location={"kind": "zoom_conference"})
    response = booker.post(
        "solo",
        SLOT,
        location={"kind": "zoom_conference"},
        invitee={"name": "Bob", "email": "bob@example.com", "timezone": "UTC"},
    )
    assert response.status_code == 400
    assert response.json() == ALREADY_FILLED


@pytest.mark.parametrize(
    "start",
    [
        "2026-11-30T15:10:00Z",  # off the 30-minute grid
        "2026-11-30T03:00:00Z",  # outside working hours
        "2026-11-30T21:45:00Z",  # would end after 17:00 in New York
        "2026-11-28T15:00:00Z",  # Saturday
        "2026-11-20T15:00:00Z",  # in the past
        "2026-11-23T12:00:00Z",  # exactly now
    ],
)
def test_a_start_that_is_not_offered_is_already_filled(booker: Booker, start: str) -> None:
    response = booker.post("solo", start, location={"kind": "zoom_conference"})
    assert response.status_code == 400
    assert response.json() == ALREADY_FILLED


def test_the_clock_at_commit_decides_the_future(booker: Booker, clock: FakeClock) -> None:
    clock.set(NOW.replace(hour=14, minute=0))
    assert (
        booker.post("solo", "2026-11-23T14:00:00Z", location={"kind": "zoom_conference"}).json()
        == ALREADY_FILLED
    )
    assert (
        booker.post(
            "solo", "2026-11-23T14:30:00Z", location={"kind": "zoom_conference"}
        ).status_code
        == 201
    )


def test_an_offset_start_time_names_the_same_instant(booker: Booker) -> None:
    invitee = booker.book("solo", "2026-11-30T10:00:00-05:00", location={"kind": "zoom_conference"})
    event = booker.client.get(invitee["event"]).json()["resource"]
    assert event["start_time"] == "2026-11-30T15:00:00.000000Z"


@pytest.mark.parametrize(
    ("slug", "location"),
    [
        ("solo", {"kind": "google_conference"}),
        ("solo", {"kind": "carrier_pigeon"}),
        ("no-location", {"kind": "zoom_conference"}),
        ("round-robin", {"kind": "zoom_conference"}),
    ],
)
def test_a_location_the_type_does_not_offer_is_an_invalid_choice(
    booker: Booker, slug: str, location: dict[str, str]
) -> None:
    response = booker.post(slug, SLOT, location=location)
    assert response.status_code == 400
    assert response.json() == INVALID_LOCATION_CHOICE


@pytest.mark.parametrize(
    ("slug", "kind"),
    [
        ("physical", "physical"),
        ("outbound", "outbound_call"),
        ("ask", "ask_invitee"),
        ("custom", "custom"),
    ],
)
def test_kinds_that_need_input_require_location_text(booker: Booker, slug: str, kind: str) -> None:
    for location in ({"kind": kind}, {"kind": kind, "location": "  "}):
        assert details(booker.post(slug, SLOT, location=location)) == [
            {"parameter": "location.location", "message": "is missing"}
        ]


def test_omitting_the_location_when_every_kind_needs_input_is_refused(booker: Booker) -> None:
    assert details(booker.post("only-input", SLOT)) == [
        {"parameter": "location", "message": "is missing"}
    ]


def test_a_location_without_kind_is_refused(booker: Booker) -> None:
    assert details(booker.post("solo", SLOT, location={"location": "x"})) == [
        {"parameter": "location.kind", "message": "is missing"}
    ]


def test_tracking_is_all_or_nothing(booker: Booker) -> None:
    response = booker.post(
        "solo",
        SLOT,
        location={"kind": "zoom_conference"},
        tracking={"utm_source": "crm", "salesforce_uuid": "00Q"},
    )
    assert response.json() == INVALID | {
        "details": [
            {"parameter": "tracking.utm_campaign", "message": "is missing"},
            {"parameter": "tracking.utm_medium", "message": "is missing"},
            {"parameter": "tracking.utm_content", "message": "is missing"},
            {"parameter": "tracking.utm_term", "message": "is missing"},
        ]
    }
    wrong_type = tracking() | {"utm_term": 7}
    assert details(
        booker.post("solo", SLOT, location={"kind": "zoom_conference"}, tracking=wrong_type)
    ) == [{"parameter": "tracking.utm_term", "message": "must be a string"}]


def _answers(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"question": q, "answer": a, "position": i} for i, (q, a) in enumerate(pairs)]


def test_questions_must_match_exactly_and_required_ones_be_answered(booker: Booker) -> None:
    good = _answers(
        ("Company Name", "Acme"), ("Team size", "11-50"), ("Phone Number", "+14155550100")
    )
    invitee = booker.book("questions", SLOT, questions_and_answers=good)
    assert invitee["questions_and_answers"] == good

    wrong_case = _answers(("company name", "Acme"), ("Team size", "11-50"))
    assert details(
        booker.post("questions", "2026-11-30T16:00:00Z", questions_and_answers=wrong_case)
    ) == [
        {
            "parameter": "questions_and_answers[0].question",
            "message": "does not match any question of this event type",
        },
        {
            "parameter": "questions_and_answers",
            "message": "Required Questions and Answers cannot be blank.",
        },
    ]
    for answers in (
        _answers(("Team size", "11-50")),
        _answers(("Company Name", " "), ("Team size", "1-10")),
        None,
    ):
        assert details(
            booker.post("questions", "2026-11-30T16:00:00Z", questions_and_answers=answers)
        ) == [
            {
                "parameter": "questions_and_answers",
                "message": "Required Questions and Answers cannot be blank.",
            }
        ]


def test_answers_are_checked_by_question_type(booker: Booker) -> None:
    answers = _answers(
        ("Company Name", "Acme"), ("Team size", "a hundred"), ("Phone Number", "call me")
    )
    assert details(booker.post("questions", SLOT, questions_and_answers=answers)) == [
        {"parameter": "questions_and_answers", "message": "Team size is not a valid answer choice"},
        {
            "parameter": "questions_and_answers",
            "message": "Phone Number is not a valid phone number",
        },
    ]


def test_a_question_and_answer_needs_question_answer_and_position(booker: Booker) -> None:
    response = booker.post("questions", SLOT, questions_and_answers=[{"answer": "Acme"}])
    assert details(response) == [
        {"parameter": "questions_and_answers[0].question", "message": "is missing"},
        {"parameter": "questions_and_answers[0].position", "message": "is missing"},
    ]


def test_at_most_ten_guests_with_valid_emails(booker: Booker) -> None:
    ten = [f"guest{i}@example.com" for i in range(10)]
    assert (
        booker.post(
            "solo", SLOT, location={"kind": "zoom_conference"}, event_guests=ten
        ).status_code
        == 201
    )
    eleven = [*ten, "one-more@example.com"]
    assert details(
        booker.post(
            "solo",
            "2026-11-30T16:00:00Z",
            location={"kind": "zoom_conference"},
            event_guests=eleven,
        )
    ) == [{"parameter": "event_guests", "message": "size cannot be greater than 10"}]
    assert details(
        booker.post(
            "solo",
            "2026-11-30T16:00:00Z",
            location={"kind": "zoom_conference"},
            event_guests=["not-an-email"],
        )
    ) == [{"parameter": "event_guests[0]", "message": "is in invalid format"}]


def test_an_invitee_needs_name_or_first_name(booker: Booker) -> None:
    nameless = {"email": "x@example.com", "timezone": "UTC"}
    assert details(
        booker.post("solo", SLOT, location={"kind": "zoom_conference"}, invitee=nameless)
    ) == [{"parameter": "invitee", "message": "invitee either name or first_name must be filled"}]
    first_only = nameless | {"first_name": "Grace"}
    invitee = booker.book("solo", SLOT, location={"kind": "zoom_conference"}, invitee=first_only)
    assert (invitee["name"], invitee["first_name"], invitee["last_name"]) == (
        "Grace",
        "Grace",
        None,
    )


def test_required_fields_are_named(client: httpx.Client) -> None:
    assert details(client.post("/invitees", json={})) == [
        {"parameter": "event_type", "message": "is missing"},
        {"parameter": "start_time", "message": "is missing"},
        {"parameter": "invitee", "message": "is missing"},
    ]


def test_invitee_fields_are_checked(booker: Booker) -> None:
    invitee = {
        "name": "X",
        "email": "nope",
        "timezone": "Mars/Olympus",
        "text_reminder_number": "12",
    }
    assert details(
        booker.post("solo", SLOT, invitee=invitee, location={"kind": "zoom_conference"})
    ) == [
        {"parameter": "invitee.email", "message": "is in invalid format"},
        {"parameter": "invitee.timezone", "message": "is not a valid timezone"},
        {"parameter": "invitee.text_reminder_number", "message": "is not a valid phone number"},
    ]
    assert details(booker.post("solo", SLOT, invitee={"name": "X"})) == [
        {"parameter": "invitee.email", "message": "is missing"},
        {"parameter": "invitee.timezone", "message": "is missing"},
    ]


def test_the_event_type_must_be_a_known_full_uri(booker: Booker, sandbox: SandboxServer) -> None:
    bare_uuid = event_type_uri(sandbox.url, "solo").rsplit("/", 1)[1]
    assert details(booker.post("solo", SLOT, event_type=bare_uuid)) == [
        {"parameter": "event_type", "message": "must be a valid URI"}
    ]
    for slug in ("no-such-type", "inactive"):
        response = booker.post(slug, SLOT)
        assert response.status_code == 404
        assert response.json() == {
            "title": "Resource Not Found",
            "message": "The server could not find the requested resource.",
        }


def test_malformed_json_gets_the_bare_invalid_argument(client: httpx.Client) -> None:
    for content in (b"{not json", b"[1, 2]", b"\xff\xfe", b'"text"'):
        response = client.post(
            "/invitees", content=content, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400
        assert response.json() == INVALID


def test_the_free_plan_cannot_use_the_scheduling_api(
    booker: Booker, sandbox_admin: SandboxAdmin
) -> None:
    sandbox_admin.set_limits({"tier": "free"})
    response = booker.post("solo", SLOT, location={"kind": "zoom_conference"})
    assert response.status_code == 403
    assert response.json() == {
        "title": "Permission Denied",
        "message": "The Scheduling API is only available on paid Calendly plans. Upgrade your plan to access this feature.",  # noqa: E501
    }


def test_group_invitees_share_one_event_up_to_capacity(booker: Booker) -> None:
    start = "2026-12-02T15:00:00Z"  # the seed already has one invitee there, with one guest
    first = booker.book(
        "group",
        start,
        invitee={"name": "A", "email": "a@example.com", "timezone": "UTC"},
        event_guests=["a-guest@example.com"],
    )
    second = booker.book(
        "group", start, invitee={"name": "B", "email": "b@example.com", "timezone": "UTC"}
    )
    assert first["event"] == second["event"]
    event = booker.client.get(first["event"]).json()["resource"]
    assert event["invitees_counter"] == {"total": 3, "active": 3, "limit": 3}
    assert [guest["email"] for guest in event["event_guests"]] == [
        "guest@example.com",
        "a-guest@example.com",
    ]
    response = booker.post(
        "group", start, invitee={"name": "C", "email": "c@example.com", "timezone": "UTC"}
    )
    assert response.json() == ALREADY_FILLED


def test_round_robin_assigns_free_hosts_in_turn(booker: Booker, sandbox: SandboxServer) -> None:
    hosts = []
    for index in range(2):
        invitee = booker.book(
            "round-robin",
            SLOT,
            invitee={"name": f"P{index}", "email": f"p{index}@example.com", "timezone": "UTC"},
        )
        event = booker.client.get(invitee["event"]).json()["resource"]
        hosts.append([member["user_email"] for member in event["event_memberships"]])
    assert sorted(hosts) == [["leo@test.example"], [OWNER_EMAIL]]
    assert booker.post("round-robin", SLOT).json() == ALREADY_FILLED


def test_a_collective_booking_takes_every_host(booker: Booker) -> None:
    invitee = booker.book("collective", SLOT, location={"kind": "google_conference"})
    event = booker.client.get(invitee["event"]).json()["resource"]
    assert [member["user_email"] for member in event["event_memberships"]] == [
        OWNER_EMAIL,
        "leo@test.example",
    ]
    # Leo is now busy at that time for his own types too.
    assert booker.post("inbound", SLOT, location={"kind": "inbound_call"}).json() == ALREADY_FILLED
