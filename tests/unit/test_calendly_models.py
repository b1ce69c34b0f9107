"""The Calendly models read real-shaped payloads, ignore unknown keys and survive nulls."""

from __future__ import annotations

from datetime import UTC, datetime

import pydantic
import pytest

from autobook.calendly.models import (
    AvailableTime,
    EventType,
    Invitee,
    Page,
    Pagination,
    ScheduledEvent,
    User,
)

# The real 201 body of POST /invitees captured from the live API (API-NOTES §2.5), email changed.
CAPTURED_INVITEE = {
    "cancel_url": "https://calendly.com/cancellations/8b5e2bc5-52bb-4dc1-8ad0-41ef0d6084b8",
    "created_at": "2026-08-22T17:13:17.150860Z",
    "email": "lduncan@example.com",
    "event": "https://api.calendly.com/scheduled_events/cdd4c933-653b-4373-937a-3f9b08111a4a",
    "first_name": "Levi",
    "invitee_scheduled_by": "https://api.calendly.com/users/a613a1bb-a118-46c0-b518-7d2795909c2c",
    "last_name": "Duncan",
    "name": "Levi Duncan",
    "new_invitee": None,
    "no_show": None,
    "old_invitee": None,
    "payment": None,
    "questions_and_answers": [],
    "reconfirmation": None,
    "reschedule_url": "https://calendly.com/reschedulings/8b5e2bc5-52bb-4dc1-8ad0-41ef0d6084b8",
    "rescheduled": False,
    "routing_form_submission": None,
    "scheduling_method": "api",
    "status": "active",
    "text_reminder_number": None,
    "timezone": "America/Chicago",
    "tracking": {
        "utm_campaign": None,
        "utm_source": None,
        "utm_medium": None,
        "utm_content": None,
        "utm_term": None,
        "salesforce_uuid": None,
    },
    "updated_at": "2026-08-22T17:13:17.150860Z",
    "uri": "https://api.calendly.com/scheduled_events/cdd4c933-653b-4373-937a-3f9b08111a4a/invitees/8b5e2bc5-52bb-4dc1-8ad0-41ef0d6084b8",
}


def test_captured_invitee_parses_with_links_tracking_and_utc_time() -> None:
    invitee = Invitee.model_validate(CAPTURED_INVITEE)

    assert invitee.cancel_url == CAPTURED_INVITEE["cancel_url"]
    assert invitee.reschedule_url == CAPTURED_INVITEE["reschedule_url"]
    assert invitee.tracking is not None
    assert set(invitee.tracking) == {
        "utm_campaign",
        "utm_source",
        "utm_medium",
        "utm_content",
        "utm_term",
        "salesforce_uuid",
    }
    assert invitee.created_at == datetime(2026, 8, 22, 17, 13, 17, 150860, tzinfo=UTC)
    assert invitee.questions_and_answers == ()


def test_unknown_keys_are_ignored_and_missing_optional_fields_are_none() -> None:
    user = User.model_validate(
        {"uri": "https://api.calendly.com/users/U1", "locale": "en", "time_notation": "24h"}
    )

    assert user.uri == "https://api.calendly.com/users/U1"
    assert user.current_organization is None
    assert not hasattr(user, "locale")


def test_a_resource_without_uri_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError):
        User.model_validate({"name": "No URI"})


def test_available_time_keeps_the_raw_start_string_byte_for_byte() -> None:
    raw = "2026-12-02T18:00:00.000000Z"
    slot = AvailableTime.model_validate(
        {
            "status": "available",
            "invitees_remaining": 1,
            "start_time": raw,
            "scheduling_url": "https://calendly.com/acme/demo/2026-12-02T18:00:00Z",
        }
    )

    assert slot.start_time_raw == raw
    assert slot.start_time == datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
    assert slot.start_time.utcoffset() is not None


def test_available_time_with_an_offset_is_converted_to_utc() -> None:
    slot = AvailableTime.model_validate({"start_time": "2026-12-02T13:00:00-05:00"})

    assert slot.start_time == datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
    assert slot.start_time.tzinfo == UTC
    assert slot.start_time_raw == "2026-12-02T13:00:00-05:00"


def test_event_type_tolerates_null_locations_questions_and_choices() -> None:
    event_type = EventType.model_validate(
        {
            "uri": "https://api.calendly.com/event_types/E1",
            "name": "Round robin",
            "pooling_type": "round_robin",
            "profile": None,
            "locations": None,
            "custom_questions": [
                {
                    "name": "Company",
                    "type": "string",
                    "position": 0,
                    "enabled": True,
                    "required": True,
                    "answer_choices": None,
                    "include_other": False,
                }
            ],
            "duration": 30,
            "deleted_at": None,
        }
    )

    assert event_type.locations is None
    assert event_type.profile is None
    assert event_type.custom_questions[0].answer_choices == ()
    assert event_type.custom_questions[0].required is True


def test_event_type_reads_location_configurations_and_profile_owner() -> None:
    event_type = EventType.model_validate(
        {
            "uri": "https://api.calendly.com/event_types/E2",
            "profile": {"type": "User", "name": "Taylor", "owner": "https://x/users/U1"},
            "locations": [
                {"kind": "physical", "location": "1 Main St", "additional_info": "2nd floor"},
                {"kind": "zoom_conference"},
                {"kind": "inbound_call", "phone_number": "+14155550100"},
            ],
            "custom_questions": None,
        }
    )

    assert event_type.profile is not None
    assert event_type.profile.owner == "https://x/users/U1"
    assert event_type.locations is not None
    assert [loc.kind for loc in event_type.locations] == [
        "physical",
        "zoom_conference",
        "inbound_call",
    ]
    assert event_type.locations[0].location == "1 Main St"
    assert event_type.locations[2].phone_number == "+14155550100"
    assert event_type.custom_questions == ()


def test_scheduled_event_keeps_the_response_location_as_sent() -> None:
    event = ScheduledEvent.model_validate(
        {
            "uri": "https://api.calendly.com/scheduled_events/S1",
            "status": "active",
            "start_time": "2026-12-02T18:00:00.000000Z",
            "end_time": "2026-12-02T18:30:00.000000Z",
            "location": {"type": "zoom", "status": "pushed", "join_url": "https://zoom.us/j/1"},
            "invitees_counter": {"total": 1, "active": 1, "limit": 1},
            "event_guests": [{"email": "cc@example.com", "created_at": "2026-12-01T00:00:00Z"}],
            "event_memberships": [{"user": "https://x/users/U1", "user_email": "h@example.com"}],
            "calendar_event": {"kind": "outlook"},
        }
    )

    assert event.location == {"type": "zoom", "status": "pushed", "join_url": "https://zoom.us/j/1"}
    assert event.invitees_counter is not None
    assert event.invitees_counter.active == 1
    assert [guest.email for guest in event.event_guests] == ["cc@example.com"]
    assert event.event_memberships[0].user_email == "h@example.com"
    assert event.end_time is not None
    assert event.start_time is not None
    assert (event.end_time - event.start_time).total_seconds() == 1800


def test_scheduled_event_with_null_location_and_lists() -> None:
    event = ScheduledEvent.model_validate(
        {
            "uri": "u",
            "start_time": "2026-12-02T18:00:00Z",
            "end_time": "2026-12-02T18:30:00Z",
            "location": None,
            "event_guests": None,
            "event_memberships": None,
        }
    )

    assert event.location is None
    assert event.event_guests == ()
    assert event.event_memberships == ()


def test_models_are_frozen() -> None:
    user = User(uri="https://api.calendly.com/users/U1")

    with pytest.raises(pydantic.ValidationError):
        user.uri = "other"  # type: ignore[misc]


def test_page_holds_typed_items_and_the_next_token() -> None:
    page = Page[User].model_validate(
        {
            "collection": [{"uri": "a"}, {"uri": "b"}],
            "pagination": {"count": 2, "next_page_token": "T2", "next_page": None},
        }
    )

    assert [user.uri for user in page.collection] == ["a", "b"]
    assert isinstance(page.collection[0], User)
    assert page.pagination == Pagination(count=2, next_page_token="T2")
