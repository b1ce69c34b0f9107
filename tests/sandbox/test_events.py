"""Scheduled events, their invitees, and cancellation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from autobook.sandbox.server import SandboxServer
from tests.sandbox.conftest import Booker
from tests.sandbox.seeds import (
    FUTURE_GROUP_EVENT_UUID,
    NOW,
    OWNER_EMAIL,
    PAST_EVENT_UUID,
    event_type_uri,
    organization_uri,
    user_uri,
)
from tests.support.sandbox import FakeClock

SLOT = "2026-11-30T15:00:00Z"
PERMISSION_DENIED = "Permission Denied"


def events(client: httpx.Client, **params: Any) -> httpx.Response:
    return client.get("/scheduled_events", params=params)


def test_events_of_the_organization_oldest_first(booker: Booker, sandbox: SandboxServer) -> None:
    booker.book(
        "physical",
        "2026-11-30T10:00:00Z",
        location={"kind": "physical", "location": "10 Downing St"},
    )
    found = events(booker.client, organization=organization_uri(sandbox.url)).json()
    starts = [event["start_time"] for event in found["collection"]]
    assert starts == [
        "2026-11-20T15:00:00.000000Z",
        "2026-11-30T10:00:00.000000Z",
        "2026-12-02T15:00:00.000000Z",
    ]
    descending = events(
        booker.client, organization=organization_uri(sandbox.url), sort="start_time:desc"
    ).json()
    assert [event["start_time"] for event in descending["collection"]] == starts[::-1]


def test_events_by_invitee_email_and_time_range(booker: Booker, sandbox: SandboxServer) -> None:
    invitee = booker.book(
        "solo",
        SLOT,
        location={"kind": "zoom_conference"},
        invitee={"name": "Lin", "email": "Lin@Example.com", "timezone": "UTC"},
    )
    organization = organization_uri(sandbox.url)
    found = events(
        booker.client,
        organization=organization,
        invitee_email="lin@example.com",
        min_start_time="2026-11-30T15:00:00Z",
        max_start_time="2026-11-30T15:00:01Z",
    ).json()
    assert [event["uri"] for event in found["collection"]] == [invitee["event"]]
    # max_start_time is exclusive and min_start_time inclusive.
    assert (
        events(
            booker.client,
            organization=organization,
            invitee_email="lin@example.com",
            max_start_time=SLOT,
        ).json()["collection"]
        == []
    )
    assert (
        events(booker.client, organization=organization, invitee_email="nobody@example.com").json()[
            "collection"
        ]
        == []
    )


def test_events_by_status(booker: Booker, sandbox: SandboxServer) -> None:
    invitee = booker.book("solo", SLOT, location={"kind": "zoom_conference"})
    booker.client.post(f"{invitee['event']}/cancellation", json={})
    canceled = events(
        booker.client, organization=organization_uri(sandbox.url), status="canceled"
    ).json()
    assert [event["uri"] for event in canceled["collection"]] == [invitee["event"]]
    assert canceled["collection"][0]["cancellation"]["canceler_type"] == "host"


def test_events_by_user_need_the_organization_for_other_members(
    booker: Booker, sandbox: SandboxServer
) -> None:
    booker.book(
        "physical",
        "2026-11-30T10:00:00Z",
        location={"kind": "physical", "location": "10 Downing St"},
    )
    leo = user_uri(sandbox.url, "leo@test.example")
    refused = events(booker.client, user=leo)
    assert refused.status_code == 403
    assert refused.json() == {
        "title": PERMISSION_DENIED,
        "message": "Please also specify organization when requesting events for a user within your organization.",  # noqa: E501
    }
    found = events(booker.client, user=leo, organization=organization_uri(sandbox.url)).json()[
        "collection"
    ]
    assert [event["start_time"] for event in found] == ["2026-11-30T10:00:00.000000Z"]
    own = events(booker.client, user=user_uri(sandbox.url, OWNER_EMAIL)).json()["collection"]
    assert [event["uri"].rsplit("/", 1)[1] for event in own] == [
        PAST_EVENT_UUID,
        FUTURE_GROUP_EVENT_UUID,
    ]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"status": "maybe"}, "status"),
        ({"sort": "created_at:asc"}, "sort"),
        ({"min_start_time": "yesterday"}, "min_start_time"),
        ({"count": "1000"}, "count"),
        ({"organization": "acme"}, "organization"),
    ],
)
def test_bad_event_list_parameters_are_named(
    client: httpx.Client, sandbox: SandboxServer, params: dict[str, str], parameter: str
) -> None:
    response = events(client, **({"organization": organization_uri(sandbox.url)} | params))
    assert response.status_code == 400
    assert parameter in [item["parameter"] for item in response.json()["details"]]


def test_an_event_list_needs_a_scope(client: httpx.Client) -> None:
    response = events(client, invitee_email="a@example.com")
    assert response.status_code == 400
    assert [item["parameter"] for item in response.json()["details"]] == [
        "organization",
        "user",
        "group",
    ]


def test_events_paginate(booker: Booker, sandbox: SandboxServer) -> None:
    for hour in (14, 15, 16, 17, 18):
        booker.book("solo", f"2026-11-30T{hour}:00:00Z", location={"kind": "zoom_conference"})
    pages = [events(booker.client, organization=organization_uri(sandbox.url), count=3).json()]
    while pages[-1]["pagination"]["next_page"]:
        pages.append(booker.client.get(pages[-1]["pagination"]["next_page"]).json())
    assert [page["pagination"]["count"] for page in pages] == [3, 3, 1]
    walked = [event["start_time"] for page in pages for event in page["collection"]]
    assert walked == sorted(set(walked))


def test_an_unknown_event_is_not_found(client: httpx.Client) -> None:
    for path in (
        "/scheduled_events/nope",
        "/scheduled_events/nope/invitees",
        f"/scheduled_events/{PAST_EVENT_UUID}/invitees/nope",
    ):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json()["title"] == "Resource Not Found"


def test_invitees_of_an_event_with_filters(booker: Booker) -> None:
    start = "2026-12-02T15:00:00Z"
    added = booker.book(
        "group", start, invitee={"name": "B", "email": "b@example.com", "timezone": "UTC"}
    )
    listed = booker.client.get(f"{added['event']}/invitees").json()
    assert [invitee["email"] for invitee in listed["collection"]] == [
        "early@example.com",
        "b@example.com",
    ]
    assert listed["pagination"]["count"] == 2
    only_b = booker.client.get(
        f"{added['event']}/invitees", params={"email": "B@example.com"}
    ).json()
    assert [invitee["uri"] for invitee in only_b["collection"]] == [added["uri"]]
    newest_first = booker.client.get(
        f"{added['event']}/invitees", params={"sort": "created_at:desc"}
    ).json()
    assert newest_first["collection"][0]["uri"] == added["uri"]
    assert booker.client.get(added["uri"]).json()["resource"] == added
    bad = booker.client.get(f"{added['event']}/invitees", params={"status": "gone"})
    assert bad.status_code == 400


def test_an_invitee_under_another_event_is_not_found(
    booker: Booker, sandbox: SandboxServer
) -> None:
    invitee = booker.book("solo", SLOT, location={"kind": "zoom_conference"})
    invitee_uuid = invitee["uri"].rsplit("/", 1)[1]
    response = booker.client.get(f"/scheduled_events/{PAST_EVENT_UUID}/invitees/{invitee_uuid}")
    assert response.status_code == 404


def invitee_event_type(booker: Booker) -> str:
    return event_type_uri(booker.base, "solo")


def test_cancellation_frees_the_slot_and_cancels_the_invitees(booker: Booker) -> None:
    invitee = booker.book("solo", SLOT, location={"kind": "zoom_conference"})
    response = booker.client.post(
        f"{invitee['event']}/cancellation", json={"reason": "Double-booked"}
    )
    assert response.status_code == 201
    assert response.json() == {
        "resource": {
            "canceled_by": "Nina Owner",
            "reason": "Double-booked",
            "canceler_type": "host",
            "created_at": "2026-11-23T12:00:00.000000Z",
        }
    }
    event = booker.client.get(invitee["event"]).json()["resource"]
    assert event["status"] == "canceled"
    assert event["cancellation"]["reason"] == "Double-booked"
    canceled_invitee = booker.client.get(invitee["uri"]).json()["resource"]
    assert canceled_invitee["status"] == "canceled"
    assert canceled_invitee["cancellation"]["canceler_type"] == "host"
    # The slot is open again, for anyone: offered, then bookable.
    offered = booker.client.get(
        "/event_type_available_times",
        params={
            "event_type": invitee_event_type(booker),
            "start_time": "2026-11-30T00:00:00Z",
            "end_time": "2026-12-01T00:00:00Z",
        },
    ).json()["collection"]
    assert "2026-11-30T15:00:00.000000Z" in [slot["start_time"] for slot in offered]
    again = booker.book(
        "solo",
        SLOT,
        location={"kind": "zoom_conference"},
        invitee={"name": "Next", "email": "next@example.com", "timezone": "UTC"},
    )
    assert again["event"] != invitee["event"]


def test_cancelling_a_group_event_cancels_every_invitee(booker: Booker) -> None:
    event_uri = f"{booker.base}/scheduled_events/{FUTURE_GROUP_EVENT_UUID}"
    booker.book(
        "group",
        "2026-12-02T15:00:00Z",
        invitee={"name": "B", "email": "b@example.com", "timezone": "UTC"},
    )
    assert booker.client.post(f"{event_uri}/cancellation").status_code == 201
    invitees = booker.client.get(f"{event_uri}/invitees").json()["collection"]
    assert {invitee["status"] for invitee in invitees} == {"canceled"}
    counter = booker.client.get(event_uri).json()["resource"]["invitees_counter"]
    assert counter == {"total": 2, "active": 0, "limit": 3}


def test_cancelling_twice_is_refused(booker: Booker) -> None:
    invitee = booker.book("solo", SLOT, location={"kind": "zoom_conference"})
    assert booker.client.post(f"{invitee['event']}/cancellation", json={}).status_code == 201
    again = booker.client.post(f"{invitee['event']}/cancellation", json={})
    assert again.status_code == 403
    assert again.json() == {"title": PERMISSION_DENIED, "message": "Event is already canceled"}


def test_cancelling_an_event_in_the_past_is_refused(booker: Booker, clock: FakeClock) -> None:
    past = booker.client.post(f"/scheduled_events/{PAST_EVENT_UUID}/cancellation", json={})
    assert past.status_code == 403
    assert past.json() == {"title": PERMISSION_DENIED, "message": "Event in the past"}
    invitee = booker.book("solo", SLOT, location={"kind": "zoom_conference"})
    clock.set(NOW.replace(day=30, hour=15))  # the meeting starts now
    started = booker.client.post(f"{invitee['event']}/cancellation", json={})
    assert started.json() == {"title": PERMISSION_DENIED, "message": "Event in the past"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"reason": 12}, [{"parameter": "reason", "message": "must be a string"}]),
        (
            {"reason": "x" * 10_001},
            [{"parameter": "reason", "message": "size cannot be greater than 10000"}],
        ),
    ],
)
def test_a_bad_cancellation_reason_is_refused(
    booker: Booker, body: dict[str, Any], expected: list[dict[str, str]]
) -> None:
    invitee = booker.book("solo", SLOT, location={"kind": "zoom_conference"})
    response = booker.client.post(f"{invitee['event']}/cancellation", json=body)
    assert response.status_code == 400
    assert response.json()["details"] == expected
    assert booker.client.get(invitee["event"]).json()["resource"]["status"] == "active"


def test_cancelling_an_unknown_event_is_not_found(client: httpx.Client) -> None:
    response = client.post(
        "/scheduled_events/00000000-0000-0000-0000-000000000000/cancellation", json={}
    )
    assert response.status_code == 404
